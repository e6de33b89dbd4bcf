"""Clients over GraphQL: create, read, update, delete, validation and tenancy."""

from __future__ import annotations

from typing import Any

from tests.client import CREATE_CLIENT, GraphQLClient

UPDATE = """
mutation($input: UpdateClientInput!) {
  updateClient(input: $input) {
    __typename
    ... on ClientPayload { client { id name homepage notes metadata
      brandGuidelines { colors { name hex } tone dos donts logo { id kind } } } }
    ... on Error { code field message }
  }
}"""

DELETE = """
mutation($id: ID!) {
  deleteClient(input: {id: $id}) {
    __typename
    ... on DeletePayload { deletedId }
    ... on Error { code field message }
  }
}"""

NODE = "query($id: ID!) { node(id: $id) { __typename id ... on Client { name } } }"


async def count_clients(admin: GraphQLClient) -> int:
    data = await admin.execute("{ clients { totalCount } }")
    total: int = data["clients"]["totalCount"]
    return total


async def test_create_client_with_typed_brand_guidelines(admin: GraphQLClient) -> None:
    payload = await admin.mutate(
        CREATE_CLIENT,
        {
            "input": {
                "name": "  Nimbus Shoes  ",
                "homepage": "https://nimbus.example/",
                "brandGuidelines": {
                    "colors": [{"name": "sky", "hex": "#3a7bd5"}, {"hex": "#fff"}],
                    "tone": "playful, confident",
                    "dos": ["show motion"],
                    "donts": ["no competitors", "  "],
                },
            }
        },
    )
    assert payload["__typename"] == "ClientPayload"
    client = payload["client"]
    assert client["name"] == "Nimbus Shoes"
    assert client["homepage"] == "https://nimbus.example/"
    assert client["brandGuidelines"] == {
        "colors": [{"name": "sky", "hex": "#3A7BD5"}, {"name": None, "hex": "#FFF"}],
        "tone": "playful, confident",
        "dos": ["show motion"],
        "donts": ["no competitors"],
        "logo": None,
    }
    node = await admin.execute(NODE, {"id": client["id"]})
    assert node["node"] == {"__typename": "Client", "id": client["id"], "name": "Nimbus Shoes"}


async def test_invalid_input_is_typed_and_writes_nothing(admin: GraphQLClient) -> None:
    before = await count_clients(admin)
    cases: list[tuple[dict[str, Any], str]] = [
        ({"name": "   "}, "name"),
        ({"name": "x" * 201}, "name"),
        ({"name": "Ok", "homepage": "not a url"}, "homepage"),
        ({"name": "Ok", "homepage": "ftp://files.example"}, "homepage"),
        (
            {"name": "Ok", "brandGuidelines": {"colors": [{"hex": "blue"}]}},
            "brandGuidelines.colors.0.hex",
        ),
        ({"name": "Ok", "metadata": [1, 2]}, "metadata"),
    ]
    for fields, field in cases:
        payload = await admin.mutate(CREATE_CLIENT, {"input": fields})
        assert payload["__typename"] == "UserError", (fields, payload)
        assert payload["code"] == "INVALID_INPUT"
        assert payload["field"] == field
        assert payload["message"]
    assert await count_clients(admin) == before


async def test_update_changes_only_given_fields(admin: GraphQLClient) -> None:
    gid = await admin.create_client(
        "Orbit", homepage="https://orbit.example", brandGuidelines={"tone": "calm"}
    )
    payload = await admin.mutate(
        UPDATE, {"input": {"id": gid, "notes": "VIP", "brandGuidelines": {"dos": ["smile"]}}}
    )
    client = payload["client"]
    assert client["name"] == "Orbit"
    assert client["homepage"] == "https://orbit.example/"
    assert client["notes"] == "VIP"
    assert client["brandGuidelines"]["tone"] == "calm"
    assert client["brandGuidelines"]["dos"] == ["smile"]

    cleared = await admin.mutate(UPDATE, {"input": {"id": gid, "homepage": None}})
    assert cleared["client"]["homepage"] is None


async def test_logo_must_be_an_image_of_the_same_client(
    admin: GraphQLClient, tenant: GraphQLClient, samples: Any
) -> None:
    logo = await tenant.upload_ok(samples.png, "logo.png", client_id=tenant.client_id)
    payload = await tenant.mutate(
        UPDATE, {"input": {"id": tenant.client_id, "brandGuidelines": {"logoAssetId": logo["id"]}}}
    )
    assert payload["client"]["brandGuidelines"]["logo"] == {"id": logo["id"], "kind": "IMAGE"}

    other = await admin.create_client("Other brand")
    stolen = await admin.mutate(
        UPDATE, {"input": {"id": other, "brandGuidelines": {"logoAssetId": logo["id"]}}}
    )
    assert stolen["__typename"] == "UserError"
    assert (stolen["code"], stolen["field"]) == ("NOT_FOUND", "brandGuidelines.logoAssetId")

    audio = await tenant.upload_ok(samples.wav, "jingle.wav", client_id=tenant.client_id)
    wrong_kind = await tenant.mutate(
        UPDATE, {"input": {"id": tenant.client_id, "brandGuidelines": {"logoAssetId": audio["id"]}}}
    )
    assert (wrong_kind["code"], wrong_kind["field"]) == (
        "INVALID_INPUT",
        "brandGuidelines.logoAssetId",
    )


async def test_unknown_and_malformed_ids_are_not_found(admin: GraphQLClient) -> None:
    for bad in [
        "nope",
        "Q2xpZW50OjEyMw==",
        "Q2FtcGFpZ246MDAwMDAwMDAtMDAwMC0wMDAwLTAwMDAtMDAwMDAwMDAwMDAw",
    ]:
        payload = await admin.mutate(UPDATE, {"input": {"id": bad, "name": "x"}})
        assert (payload["code"], payload["field"]) == ("NOT_FOUND", "id")


async def test_client_key_sees_only_its_client(admin: GraphQLClient, tenant: GraphQLClient) -> None:
    other = await admin.create_client("Someone else")
    listed = await tenant.execute("{ clients { totalCount edges { node { id } } } }")
    assert listed["clients"]["totalCount"] == 1
    assert [e["node"]["id"] for e in listed["clients"]["edges"]] == [tenant.client_id]

    assert (await tenant.execute(NODE, {"id": other}))["node"] is None
    payload = await tenant.mutate(UPDATE, {"input": {"id": other, "name": "hijack"}})
    assert (payload["code"], payload["field"]) == ("NOT_FOUND", "id")
    assert (await admin.execute(NODE, {"id": other}))["node"]["name"] == "Someone else"

    forbidden = await tenant.mutate(CREATE_CLIENT, {"input": {"name": "New"}})
    assert forbidden["code"] == "FORBIDDEN"
    viewer = await tenant.execute("{ viewer { role clientId } }")
    assert viewer["viewer"] == {"role": "CLIENT", "clientId": tenant.client_id}


async def test_delete_client_cascades(admin: GraphQLClient, samples: Any) -> None:
    gid = await admin.create_client("Short-lived")
    campaign = await admin.create_campaign(gid)
    asset = await admin.upload_ok(samples.png, "a.png", campaign_id=campaign)
    payload = await admin.mutate(DELETE, {"id": gid})
    assert payload == {"__typename": "DeletePayload", "deletedId": gid}
    for gone in (gid, campaign, asset["id"]):
        assert (await admin.execute(NODE, {"id": gone}))["node"] is None
    again = await admin.mutate(DELETE, {"id": gid})
    assert again["code"] == "NOT_FOUND"
