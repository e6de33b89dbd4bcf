"""A page's stats are read by the page's own statement when its nodes ask for them
(gql/loaders.py `page_with_stats`, services/pagination.py `PageExtra`): each node answers
what it answers alone, and a failure is reported at a node's own `stats`, as when every
node loaded its own."""

from __future__ import annotations

from typing import Any

import pytest

import services.stats
from services.runtime import Runtime
from tests.client import GraphQLClient
from tests.samples import Samples
from tests.statements import statements_of_this_task

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

    def broken_values(values: object) -> services.stats.CampaignStats:
        raise RuntimeError("the page's stats fell over")

    # the page's own statement fails to give its stats, then each node's own read fails
    page_stats = services.stats.PageStats(services.stats.campaign_stat_columns, broken_values)
    monkeypatch.setattr(services.stats, "CAMPAIGN_PAGE_STATS", page_stats)
    monkeypatch.setattr(services.stats, "campaign_stats", broken)
    body = (await tenant.post(PAGE, {"id": tenant.client_id})).json()
    # as before the page read them: the first campaign's stats fail, and the null goes
    # up through the non-null campaign, edge, list and connection to the nullable node
    (error,) = body["errors"]
    assert error["path"] == ["node", "campaigns", "edges", 0, "node", "stats"]
    assert error["extensions"]["code"] == "INTERNAL_SERVER_ERROR"
    assert body["data"] == {"node": None}
    assert "fell over" not in str(body)


async def test_a_pages_stats_come_with_its_own_statement(
    tenant: GraphQLClient, runtime: Runtime, samples: Samples
) -> None:
    """Two pages that ask for their nodes' stats take two statements, the stats in them:
    no statement of the stats' own. A page whose nodes do not ask reads no stats."""
    assert tenant.client_id
    campaign = await tenant.create_campaign(tenant.client_id, "Counted")
    await tenant.upload_ok(samples.mp4, "a.mp4", campaign_id=campaign)
    pages = """{ clients(first: 5) { edges { node { id stats { videoCount }
      campaigns(first: 5) { edges { node { name stats { videoCount jobCount } } } } } } } }"""
    await tenant.execute(pages)  # the API key is checked outside the recording
    with statements_of_this_task(runtime) as statements:
        data = await tenant.execute(pages)
    (client,) = data["clients"]["edges"]
    assert client["node"]["stats"] == {"videoCount": 1}
    ((edge,),) = [client["node"]["campaigns"]["edges"]]
    assert edge["node"] == {"name": "Counted", "stats": {"videoCount": 1, "jobCount": 0}}
    sql = [s.sql for s in statements]
    assert len(sql) == 2, sql
    assert all("count(*)" in s for s in sql), sql
    with statements_of_this_task(runtime) as statements:
        await tenant.execute("{ clients(first: 5) { edges { node { campaigns(first: 5) "
                             "{ edges { node { name } } } } } } }")  # fmt: skip
    assert [s.sql for s in statements if "count(*)" in s.sql] == []

    await tenant.create_campaign(tenant.client_id, "Newer")  # first on the page
    paged = """query($id: ID!, $after: String) { node(id: $id) { ... on Client {
      campaigns(first: 1, after: $after) { pageInfo { endCursor }
        edges { node { name stats { videoCount } } } } } } }"""
    first = (await tenant.execute(paged, {"id": tenant.client_id}))["node"]["campaigns"]
    after = {"id": tenant.client_id, "after": first["pageInfo"]["endCursor"]}
    second = (await tenant.execute(paged, after))["node"]["campaigns"]
    assert [e["node"] for e in first["edges"] + second["edges"]] == [
        {"name": "Newer", "stats": {"videoCount": 0}},
        {"name": "Counted", "stats": {"videoCount": 1}},
    ]
