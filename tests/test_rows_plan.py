"""A page of assets is completed straight from its rows (gql.types.rows, `_edges_from_rows` in
gql/execution.py): the same answer as from its node and edge objects, which are made
only when something else reads them; the suite's apps complete every such page both
ways and log any difference."""

from __future__ import annotations

import logging
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette

from gql.execution import VerifiedExecutionContext
from gql.types import assets
from tests.client import GraphQLClient
from tests.conftest import _Records
from tests.samples import Samples

PAGE = """query($first: Int) {
  clients(first: 1) { edges { node { campaigns(first: 2) { edges { node {
    assets(first: $first) {
      pageInfo { hasNextPage endCursor }
      edges { __typename node { id kind mimeType width height url ...More } }
    }
  } } } } } }
}
fragment More on Asset { __typename kind sizeBytes createdAt durationSeconds tag: filename }"""
WITH_CURSORS = PAGE.replace("edges { __typename node", "edges { cursor node")


@pytest.fixture
async def campaign(tenant: GraphQLClient, samples: Samples) -> str:
    assert tenant.client_id
    campaign: str = await tenant.create_campaign(tenant.client_id, "Rows")
    for i, (content, filename) in enumerate(
        [(samples.png, "a.png"), (samples.mp4, "b.mp4"), (samples.wav, "c.wav")]
    ):
        await tenant.upload_ok(content, f"{i}{filename}", campaign_id=campaign)
    return campaign


def nodes(body: dict[str, Any]) -> list[dict[str, Any]]:
    campaigns = body["data"]["clients"]["edges"][0]["node"]["campaigns"]["edges"]
    return [e["node"] for c in campaigns for e in c["node"]["assets"]["edges"]]


async def test_pages_are_completed_from_rows_and_compared(
    tenant: GraphQLClient, campaign: str
) -> None:
    before = VerifiedExecutionContext.rows_compared
    response = await tenant.post(PAGE, {"first": 2})
    body = response.json()
    assert "errors" not in body, body
    found = nodes(body)
    assert len(found) == 2 and {n["__typename"] for n in found} == {"Asset"}
    assert all(n["url"].startswith("http") and "sig=" in n["url"] for n in found)
    assert VerifiedExecutionContext.rows_compared > before  # and no difference (autouse)


SWITCHED = """query($first: Int, $skip: Boolean!, $edges: Boolean!) {
  clients(first: 1) { edges { node { campaigns(first: 2) { edges { node {
    assets(first: $first) {
      edges @include(if: $edges) {
        node { a: id b: url id kind @skip(if: $skip) ... on Asset { kind mimeType } }
      }
      again: edges { node { __typename kind } }
    }
  } } } } } }
}"""


@pytest.mark.parametrize("skip", [True, False])
@pytest.mark.parametrize("edges", [True, False])
async def test_directives_aliases_and_fragments_compare_alike(
    tenant: GraphQLClient, campaign: str, skip: bool, edges: bool
) -> None:
    before = VerifiedExecutionContext.rows_compared
    variables = {"first": 3, "skip": skip, "edges": edges}
    body = (await tenant.post(SWITCHED, variables)).json()
    assert "errors" not in body, body
    page = body["data"]["clients"]["edges"][0]["node"]["campaigns"]["edges"][0]["node"]["assets"]
    assert ("edges" in page) is edges and len(page["again"]) == 3
    if edges:
        node = page["edges"][0]["node"]
        assert list(node) == ["a", "b", "id", "kind", "mimeType"] and node["a"] == node["id"]
    assert VerifiedExecutionContext.rows_compared > before  # and alike (autouse)


async def test_no_node_objects_are_made_unless_read(
    serving: Starlette, tenant: GraphQLClient, campaign: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    made = []
    make = assets._make

    def counted(*args: Any) -> Any:
        made.append(args[0])
        return make(*args)

    monkeypatch.setattr(assets, "_make", counted)
    transport = httpx.ASGITransport(app=serving)
    async with httpx.AsyncClient(transport=transport, base_url="http://u") as http:
        client = GraphQLClient(http, tenant.key)
        fast = (await client.post(PAGE, {"first": 3})).json()
        assert "errors" not in fast and len(nodes(fast)) == 3
        assert made == []  # completed from the rows
        slow = (await client.post(WITH_CURSORS, {"first": 3})).json()
        assert "errors" not in slow and len(made) == 3  # a cursor: the edges are made
    assert nodes(fast) == nodes(slow)


async def test_a_page_from_rows_that_differs_is_reported(
    tenant: GraphQLClient, campaign: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(assets.ROWS.values, "mime_type", "row.filename")  # a wrong spec
    logger = logging.getLogger("reelgraph.execution")
    (records,) = [h for h in logger.handlers if isinstance(h, _Records)]  # the autouse check's
    query = PAGE.replace("pageInfo", "pi: pageInfo")  # a new text: its plans compile anew
    response = await tenant.post(query, {"first": 1})
    monkeypatch.undo()
    assert "errors" not in response.json()
    (node,) = nodes(response.json())
    assert node["mimeType"] in {"image/png", "video/mp4", "audio/wav", "audio/x-wav"}, node
    differs = [m for m in records.messages if m.startswith("page from rows differs")]
    assert differs, records.messages
    records.messages[:] = [m for m in records.messages if m not in differs]  # expected here
