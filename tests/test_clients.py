"""Clients over GraphQL: create, read, update, delete, validation and tenancy."""

from __future__ import annotations

import base64
import json
import logging
from typing import Any

import pytest

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
        # PostgreSQL refuses NUL in text (SQLite takes it): refused here on both
        ({"name": "Nimbus\u0000Shoes"}, "name"),
        ({"name": "\u0000"}, "name"),
        ({"name": "Ok", "notes": "VIP\u0000"}, "notes"),
        ({"name": "Ok", "homepage": "https://nimbus.example/\u0000"}, "homepage"),
        ({"name": "Ok", "brandGuidelines": {"tone": "calm\u0000"}}, "brandGuidelines.tone"),
        ({"name": "Ok", "brandGuidelines": {"dos": ["ok", "\u0000"]}}, "brandGuidelines.dos"),
        (
            {"name": "Ok", "brandGuidelines": {"colors": [{"hex": "#fff", "name": "sky\u0000"}]}},
            "brandGuidelines.colors.0.name",
        ),
        ({"name": "Bell\u0007"}, "name"),
        ({"name": "Escape\u001b[31m"}, "name"),
        ({"name": "Ok", "notes": "del\u007f"}, "notes"),
    ]
    for fields, field in cases:
        payload = await admin.mutate(CREATE_CLIENT, {"input": fields})
        assert payload["__typename"] == "UserError", (fields, payload)
        assert payload["code"] == "INVALID_INPUT"
        assert payload["field"] == field
        assert payload["message"]
    gid = await admin.create_client("Kept")
    updated = await admin.mutate(UPDATE, {"input": {"id": gid, "notes": "a\u0000b"}})
    assert (updated["code"], updated["field"]) == ("INVALID_INPUT", "notes")
    # half a surrogate pair: valid JSON, not storable text (httpx would not encode it)
    response = await admin.http.post(
        "/graphql",
        content=json.dumps({"query": CREATE_CLIENT, "variables": {"input": {"name": "a\ud800"}}}),
        headers={**admin.headers(), "Content-Type": "application/json"},
    )
    payload = response.json()["data"]["createClient"]
    assert (payload["code"], payload["field"]) == ("INVALID_INPUT", "name")
    assert await count_clients(admin) == before + 1
    kept = await admin.mutate(UPDATE, {"input": {"id": gid}})
    assert kept["client"]["notes"] is None, "the refused update wrote nothing"


async def test_tabs_and_line_breaks_are_kept(admin: GraphQLClient) -> None:
    gid = await admin.create_client("Tabbed", notes="line one\r\nline\ttwo\n")
    payload = await admin.mutate(UPDATE, {"input": {"id": gid, "notes": "a\tb\nc"}})
    assert payload["client"]["notes"] == "a\tb\nc"


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


def _gid(raw: str) -> str:
    return base64.b64encode(raw.encode()).decode()


async def test_node_is_null_for_any_id_that_names_nothing(
    admin: GraphQLClient, caplog: pytest.LogCaptureFixture
) -> None:
    """Like a missing row: malformed IDs and IDs of unknown or non-node types."""
    for bad in [
        _gid("Job:00000000-0000-0000-0000-000000000000"),
        _gid("Client:123"),
        _gid("Foo:123"),
        _gid("Node:123"),
        _gid("Query:1"),
        _gid("UserError:1"),
        _gid("Int:1"),
        "%%%",
        "nope",
        "",
    ]:
        response = await admin.post(NODE, {"id": bad})
        assert response.json() == {"data": {"node": None}}, bad
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
    gid = await admin.create_client("Findable")
    assert (await admin.execute(NODE, {"id": gid}))["node"]["name"] == "Findable"

    anonymous = await admin.http.post(
        "/graphql", json={"query": NODE, "variables": {"id": _gid("Foo:123")}}
    )
    assert anonymous.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


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


async def test_clients_page_on_from_a_cursor(admin: GraphQLClient) -> None:
    for name in ("Paged one", "Paged two", "Paged three"):
        await admin.mutate(CREATE_CLIENT, {"input": {"name": name}})
    query = """query($first: Int, $after: String) { clients(first: $first, after: $after) {
      pageInfo { hasNextPage endCursor } edges { node { id } } } }"""

    async def page(first: int, after: str | None = None) -> dict[str, Any]:
        found: dict[str, Any] = (await admin.execute(query, {"first": first, "after": after}))[
            "clients"
        ]
        return found

    newest = [e["node"]["id"] for e in (await page(4))["edges"]]
    first = await page(2)
    second = await page(2, first["pageInfo"]["endCursor"])
    assert first["pageInfo"]["hasNextPage"] is True
    assert [e["node"]["id"] for e in first["edges"] + second["edges"]] == newest
