"""A page's stats are read for the whole page by its parent (gql/loaders.py `preloaded`):
each node answers what it answers alone, and a failure is reported at a node's own
`stats`, as when every node loaded its own."""

from __future__ import annotations

from typing import Any

import pytest

import services.stats
from tests.client import GraphQLClient
from tests.samples import Samples

PAGE = """query($id: ID!) { node(id: $id) { ... on Client {
  name stats { campaignCount videoCount totalSpendUsd }
  campaigns(first: 10) { edges { node {
    id name stats { videoCount totalSpendUsd averageCostUsd jobCount }
  } } }
} } }"""
CLIENTS = "{ clients(first: 5) { edges { node { id stats { campaignCount videoCount } } } } }"
ALONE = """query($id: ID!) { node(id: $id) {
  ... on Campaign { stats { videoCount totalSpendUsd averageCostUsd jobCount } }
  ... on Client { stats { campaignCount videoCount totalSpendUsd } }
} }"""


async def _alone(reader: GraphQLClient, gid: str) -> dict[str, Any]:
    stats: dict[str, Any] = (await reader.execute(ALONE, {"id": gid}))["node"]["stats"]
    return stats


async def test_a_pages_stats_are_each_nodes_own(tenant: GraphQLClient, samples: Samples) -> None:
    assert tenant.client_id
    with_video = await tenant.create_campaign(tenant.client_id, "With a video")
    await tenant.create_campaign(tenant.client_id, "Empty")
    await tenant.upload_ok(samples.mp4, "a.mp4", campaign_id=with_video)
    await tenant.upload_ok(samples.png, "b.png", campaign_id=with_video)

    client = (await tenant.execute(PAGE, {"id": tenant.client_id}))["node"]
    assert client["stats"] == await _alone(tenant, tenant.client_id)
    assert client["stats"]["campaignCount"] == 2 and client["stats"]["videoCount"] == 1
    campaigns = [e["node"] for e in client["campaigns"]["edges"]]
    assert {c["name"]: c["stats"]["videoCount"] for c in campaigns} == {
        "With a video": 1,
        "Empty": 0,
    }
    for campaign in campaigns:
        assert campaign["stats"] == await _alone(tenant, campaign["id"])

    (listed,) = [e["node"] for e in (await tenant.execute(CLIENTS))["clients"]["edges"]]
    assert listed["id"] == tenant.client_id
    assert listed["stats"] == {"campaignCount": 2, "videoCount": 1}


async def test_a_failed_read_of_a_pages_stats_is_reported_at_each_node(
    tenant: GraphQLClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert tenant.client_id
    for name in ("First", "Second"):
        await tenant.create_campaign(tenant.client_id, name)

    async def broken(*args: object) -> dict[Any, Any]:
        raise RuntimeError("the stats fell over")

    monkeypatch.setattr(services.stats, "campaign_stats", broken)
    body = (await tenant.post(PAGE, {"id": tenant.client_id})).json()
    # as before the page read them: the first campaign's stats fail, and the null goes
    # up through the non-null campaign, edge, list and connection to the nullable node
    (error,) = body["errors"]
    assert error["path"] == ["node", "campaigns", "edges", 0, "node", "stats"]
    assert error["extensions"]["code"] == "INTERNAL_SERVER_ERROR"
    assert body["data"] == {"node": None}
    assert "fell over" not in str(body)
