"""A page of assets, campaigns or clients reads only the columns its selection needs
(gql/lookahead.py): whatever is selected, and however (alone, through fragments, under
`nodes`), each field answers what the node's own full row answers."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from graphql import GraphQLObjectType, get_named_type

from gql.schema import schema
from services.runtime import Runtime
from tests.client import GraphQLClient, decode_gid
from tests.conftest import issue_key
from tests.samples import Samples

NODE = "query($id: ID!) { node(id: $id) { ... on Asset { %s } } }"
PAGE = """query($id: ID!) { node(id: $id) { ... on Campaign {
  assets(first: 10) { edges { node { %s } } }
} } }"""
FRAGMENT = """query($id: ID!) { node(id: $id) { ... on Campaign {
  assets(first: 10) { nodes { ...Picked } }
} } }
fragment Picked on Asset { ... on Asset { %s } }"""


def _selection(name: str, type_: Any) -> str:
    """`name`, with a sub-selection when it is an object."""
    return (
        f"{name} {{ __typename }}" if isinstance(get_named_type(type_), GraphQLObjectType) else name
    )


async def test_every_asset_field_alone_answers_as_the_full_row(
    tenant: GraphQLClient, samples: Samples
) -> None:
    assert tenant.client_id
    campaign = await tenant.create_campaign(tenant.client_id, "Looked ahead")
    uploads = [
        await tenant.upload_ok(samples.png, "a.png", campaign_id=campaign),
        await tenant.upload_ok(samples.wav, "b.wav", campaign_id=campaign),
        await tenant.upload_ok(samples.mp4, "c.mp4", campaign_id=campaign),
    ]
    asset_type = schema._schema.type_map["Asset"]
    assert isinstance(asset_type, GraphQLObjectType)
    fields = {n: _selection(n, f.type) for n, f in asset_type.fields.items()}
    fields["__typename"] = "__typename"
    every = " ".join(fields.values())
    full = {u["id"]: (await tenant.execute(NODE % every, {"id": u["id"]}))["node"] for u in uploads}
    assert all(full[u["id"]]["durationSeconds"] for u in uploads[1:])  # not all null

    for name, selection in fields.items():
        data = await tenant.execute(PAGE % selection, {"id": campaign})
        nodes = [e["node"] for e in data["node"]["assets"]["edges"]]
        assert len(nodes) == len(uploads), name
        if name != "id":  # each node's id is asked for only in the whole selection
            nodes = [dict(n, id=u["id"]) for n, u in zip(nodes, reversed(uploads), strict=True)]
        for node in nodes:
            value, expected = node[name], full[node["id"]][name]
            if name == "url":  # its expiry moves on at the hour: the asset's path, signed
                value, expected = value.partition("?")[0], expected.partition("?")[0]
                assert "sig=" in node[name]
            assert value == expected, (name, value, expected)

    pair = f"{fields['sha256']} {fields['durationSeconds']} id"
    data = await tenant.execute(FRAGMENT % pair, {"id": campaign})
    for node in data["node"]["assets"]["nodes"]:
        expected = full[node["id"]]
        assert node == {k: expected[k] for k in ("sha256", "durationSeconds", "id")}


CLIENT_NODE = "query($id: ID!) { node(id: $id) { ... on Client { %s } } }"
CLIENTS_PAGE = "{ clients(first: 5) { edges { node { %s } } } }"
CAMPAIGN_NODE = "query($id: ID!) { node(id: $id) { ... on Campaign { %s } } }"
CAMPAIGNS_PAGE = """query($id: ID!) { node(id: $id) { ... on Client {
  campaigns(first: 10) { nodes { ...Picked } }
} } }
fragment Picked on Campaign { %s }"""


def _every_field(type_name: str) -> dict[str, str]:
    type_ = schema._schema.type_map[type_name]
    assert isinstance(type_, GraphQLObjectType)
    fields = {n: _selection(n, f.type) for n, f in type_.fields.items()}
    fields["__typename"] = "__typename"
    return fields


async def _alone_as_full(
    reader: GraphQLClient,
    type_name: str,
    node_query: str,
    page: tuple[str, dict[str, Any]],
    nodes_of: Callable[[dict[str, Any]], list[dict[str, Any]]],
    ids: list[str],
) -> None:
    """Each field of `type_name` asked alone on the page answers, for every node, what
    the node's full row answers."""
    fields = _every_field(type_name)
    every = " ".join(fields.values())
    full = {i: (await reader.execute(node_query % every, {"id": i}))["node"] for i in ids}
    query, variables = page
    for name, selection in fields.items():
        nodes = nodes_of(await reader.execute(query % f"id {selection}", variables))
        assert sorted(n["id"] for n in nodes) == sorted(ids), name
        for node in nodes:
            assert node[name] == full[node["id"]][name], (name, node[name])


async def test_every_client_and_campaign_field_alone_answers_as_the_full_row(
    admin: GraphQLClient, runtime: Runtime
) -> None:
    client = await admin.create_client(
        "Looked-ahead brand",
        homepage="https://brand.example",
        notes="Loud",
        metadata={"tier": "gold"},
        brandGuidelines={"colors": [{"name": "Red", "hex": "#ff0000"}], "tone": "warm"},
    )
    reader = GraphQLClient(admin.http, await issue_key(runtime, decode_gid(client)))
    campaigns = [
        await admin.create_campaign(
            client,
            f"Campaign {i}",
            goal="Sales",
            audience="Runners",
            productUrl="https://brand.example/shoe",
            budgetUsd="125.50",
            metadata={"n": i},
        )
        for i in range(3)
    ]
    full = (await reader.execute(CLIENT_NODE % "homepage notes metadata", {"id": client}))["node"]
    assert full == {
        "homepage": "https://brand.example/",
        "notes": "Loud",
        "metadata": {"tier": "gold"},
    }

    await _alone_as_full(
        reader,
        "Client",
        CLIENT_NODE,
        (CLIENTS_PAGE, {}),
        lambda d: [e["node"] for e in d["clients"]["edges"]],
        [client],
    )
    await _alone_as_full(
        reader,
        "Campaign",
        CAMPAIGN_NODE,
        (CAMPAIGNS_PAGE, {"id": client}),
        lambda d: d["node"]["campaigns"]["nodes"],
        campaigns,
    )
