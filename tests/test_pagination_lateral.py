"""Per-parent pages cut each parent at `first` without ranking all its children: a
campaign of thousands of assets pages exactly like one of fifty, in one statement."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import delete, insert

from db.models import Asset, AssetKind, AssetOrigin, Client
from services.runtime import Runtime
from services.uow import unit_of_work
from tests.client import GraphQLClient, decode_gid
from tests.conftest import issue_key
from tests.statements import statements_of_this_task

BIG, SMALL = 3_000, 50

ASSETS = """
query($id: ID!, $first: Int, $after: String, $kind: AssetKind) {
  node(id: $id) { ... on Campaign {
    assets(first: $first, after: $after, kind: $kind) {
      totalCount
      pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
      edges { cursor node { id kind } }
    }
  } }
}"""

BOTH = """
query($id: ID!) {
  node(id: $id) { ... on Client { campaigns(first: 10) { edges { node {
    id
    assets(first: 20) { pageInfo { hasNextPage } edges { node { id } } }
  } } } } }
}"""


@dataclass(frozen=True, slots=True)
class Seeded:
    campaign: str
    """Global id."""
    newest_first: list[tuple[uuid.UUID, AssetKind]]


def _kind(i: int) -> AssetKind:
    return AssetKind.VIDEO if i % 4 == 0 else AssetKind.IMAGE


def _asset(client_id: uuid.UUID, campaign_id: uuid.UUID, at: datetime, i: int) -> dict[str, Any]:
    return {
        "id": uuid.uuid4(), "client_id": client_id, "campaign_id": campaign_id,
        "kind": _kind(i), "origin": AssetOrigin.UPLOADED, "filename": f"{i}.png",
        "mime_type": "image/png", "size_bytes": 100 + i, "sha256": f"{i:064x}",
        "storage_key": f"ab/{i:064x}", "width": 8, "height": 8, "created_at": at,
    }  # fmt: skip


async def _seed(
    runtime: Runtime, tenant: GraphQLClient, campaign: str, count: int
) -> list[tuple[uuid.UUID, AssetKind]]:
    """`count` assets in one bulk INSERT (executemany). Three share each timestamp, so
    the order within a page also rests on the id tie-break."""
    assert tenant.client_id
    client_id, campaign_id = decode_gid(tenant.client_id), decode_gid(campaign)
    start = datetime.now(UTC) - timedelta(days=1)
    rows = [
        _asset(client_id, campaign_id, start + timedelta(seconds=i // 3), i) for i in range(count)
    ]
    async with unit_of_work(runtime.session_factory) as session:
        await session.execute(insert(Asset), rows)
    newest_first = sorted(rows, key=lambda r: (r["created_at"], r["id"]), reverse=True)
    return [(r["id"], r["kind"]) for r in newest_first]


@pytest.fixture
async def campaigns(runtime: Runtime, tenant: GraphQLClient) -> AsyncIterator[list[Seeded]]:
    """A campaign of BIG assets and one of SMALL, under the tenant; dropped afterwards."""
    assert tenant.client_id
    seeded = []
    for count in (BIG, SMALL):
        campaign = await tenant.create_campaign(tenant.client_id, f"holds {count}")
        seeded.append(Seeded(campaign, await _seed(runtime, tenant, campaign, count)))
    yield seeded
    async with unit_of_work(runtime.session_factory) as session:  # cascades to the rest
        await session.execute(delete(Client).where(Client.id == decode_gid(tenant.client_id)))


async def _page(
    tenant: GraphQLClient, campaign: str, first: int, after: str | None = None, **kw: Any
) -> dict[str, Any]:
    data = await tenant.execute(ASSETS, {"id": campaign, "first": first, "after": after, **kw})
    conn: dict[str, Any] = data["node"]["assets"]
    return conn


def _ids(conn: dict[str, Any]) -> list[uuid.UUID]:
    return [decode_gid(e["node"]["id"]) for e in conn["edges"]]


@pytest.mark.parametrize("which", [0, 1], ids=[f"{BIG} assets", f"{SMALL} assets"])
async def test_pages_of_a_big_and_a_small_campaign(
    tenant: GraphQLClient, campaigns: list[Seeded], which: int
) -> None:
    seeded = campaigns[which]
    expected = [asset_id for asset_id, _ in seeded.newest_first]

    first = await _page(tenant, seeded.campaign, 20)
    assert _ids(first) == expected[:20]
    assert first["totalCount"] == len(expected)
    assert first["pageInfo"]["hasNextPage"] is True
    assert first["pageInfo"]["hasPreviousPage"] is False
    assert first["pageInfo"]["startCursor"] == first["edges"][0]["cursor"]
    assert first["pageInfo"]["endCursor"] == first["edges"][-1]["cursor"]

    second = await _page(tenant, seeded.campaign, 20, first["pageInfo"]["endCursor"])
    assert _ids(second) == expected[20:40]
    assert second["pageInfo"]["hasPreviousPage"] is True

    # Then, of the 50, exactly the 10 left and nothing after them; of the 3,000, 20 more.
    third = await _page(tenant, seeded.campaign, 20, second["pageInfo"]["endCursor"])
    assert _ids(third) == expected[40:60]
    assert third["pageInfo"]["hasNextPage"] is (len(expected) > 60)

    videos = [asset_id for asset_id, kind in seeded.newest_first if kind is AssetKind.VIDEO]
    filtered = await _page(tenant, seeded.campaign, 5, kind="VIDEO")
    assert _ids(filtered) == videos[:5]
    assert {e["node"]["kind"] for e in filtered["edges"]} == {"VIDEO"}
    assert filtered["totalCount"] == len(videos)

    nothing = await _page(tenant, seeded.campaign, 0)
    assert (nothing["edges"], nothing["pageInfo"]["hasNextPage"]) == ([], True)


async def test_one_statement_for_both_campaigns(
    tenant: GraphQLClient, runtime: Runtime, campaigns: list[Seeded]
) -> None:
    assert tenant.client_id
    empty = await tenant.create_campaign(tenant.client_id, "holds nothing")
    with statements_of_this_task(runtime) as statements:
        data = await tenant.execute(BOTH, {"id": tenant.client_id})
    pages = {
        edge["node"]["id"]: edge["node"]["assets"] for edge in data["node"]["campaigns"]["edges"]
    }
    for seeded in campaigns:
        page = pages[seeded.campaign]
        assert _ids(page) == [asset_id for asset_id, _ in seeded.newest_first[:20]]
        assert page["pageInfo"]["hasNextPage"] is True
    assert pages[empty] == {"pageInfo": {"hasNextPage": False}, "edges": []}

    asset_pages = [s.sql for s in statements if "FROM assets" in s.sql and "LIMIT" in s.sql]
    assert len(asset_pages) == 1, statements
    (sql,) = asset_pages
    assert "row_number" not in sql.lower()
    if runtime.engine.dialect.name == "postgresql":
        assert "JOIN LATERAL" in sql and "unnest(" in sql
    else:
        assert "json_each(" in sql


async def test_another_tenant_sees_none_of_it(
    admin: GraphQLClient, runtime: Runtime, campaigns: list[Seeded]
) -> None:
    other_client = decode_gid(await admin.create_client(f"Other {uuid.uuid4().hex[:6]}"))
    other = GraphQLClient(admin.http, await issue_key(runtime, other_client))
    data = await other.execute(ASSETS, {"id": campaigns[0].campaign, "first": 20})
    assert data["node"] is None
