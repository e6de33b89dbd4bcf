"""The number of SQL statements per request does not grow with the rows returned."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import event

from services.runtime import Runtime
from tests.client import GraphQLClient
from tests.samples import Samples

QUERY = """
query($id: ID!, $campaigns: Int!, $assets: Int!) {
  node(id: $id) { ... on Client {
    name stats { campaignCount videoCount totalSpendUsd }
    campaigns(first: $campaigns) { totalCount edges { node {
      id name client { name }
      stats { videoCount totalSpendUsd averageCostUsd }
      assets(first: $assets) { totalCount edges { node { id kind url campaign { id } } } }
      jobs(first: 5) { totalCount edges { node { id subJobs { index } } } }
    } } }
  } }
}"""


@contextmanager
def count_statements(runtime: Runtime) -> Iterator[list[str]]:
    statements: list[str] = []

    def record(*args: Any) -> None:
        statements.append(args[2])

    engine = runtime.engine.sync_engine
    event.listen(engine, "before_cursor_execute", record)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", record)


async def test_statement_count_is_flat(
    tenant: GraphQLClient, runtime: Runtime, samples: Samples
) -> None:
    assert tenant.client_id
    for i in range(6):
        campaign = await tenant.create_campaign(tenant.client_id, f"c{i}")
        for j in range(3):
            await tenant.upload_ok(samples.png, f"{j}.png", campaign_id=campaign)

    counts = []
    for campaigns, assets in [(1, 1), (6, 3)]:
        with count_statements(runtime) as statements:
            data = await tenant.execute(
                QUERY, {"id": tenant.client_id, "campaigns": campaigns, "assets": assets}
            )
        edges = data["node"]["campaigns"]["edges"]
        assert len(edges) == campaigns
        assert all(len(e["node"]["assets"]["edges"]) == assets for e in edges)
        counts.append(len(statements))
    assert counts[0] == counts[1], counts
