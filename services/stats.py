"""Aggregates computed in SQL, batched over many clients or campaigns at once."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import ColumnElement, FromClause, Select, bindparam, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from db.models import Asset, AssetKind, Campaign, Client, Job, JobStatus
from services.reads import core_rows

CENTS = Decimal("0.0001")


def _money(value: object) -> Decimal:
    return Decimal(str(value or 0)).quantize(CENTS)


@dataclass(frozen=True, slots=True)
class ClientStats:
    campaign_count: int
    video_count: int
    total_spend_usd: Decimal


@dataclass(frozen=True, slots=True)
class CampaignStats:
    video_count: int
    total_spend_usd: Decimal
    average_cost_usd: Decimal | None
    job_count: int


def client_stat_columns(clients: FromClause) -> list[ColumnElement[Any]]:
    """A client's stats, for each row of `clients` (the table, or an alias of it)."""
    client_id = clients.c.id
    campaigns = select(func.count()).where(Campaign.client_id == client_id)
    videos = select(func.count()).where(Asset.client_id == client_id, Asset.kind == AssetKind.VIDEO)
    spend = (
        select(func.sum(Job.cost_actual_usd))
        .join(Campaign, Campaign.id == Job.campaign_id)
        .where(Campaign.client_id == client_id)
    )
    return [s.scalar_subquery() for s in (campaigns, videos, spend)]


def client_stats_of(values: Sequence[Any]) -> ClientStats:
    """A client's stats from its values of `client_stat_columns`."""
    n_campaigns, n_videos, usd = values
    return ClientStats(n_campaigns, n_videos, _money(usd))


def campaign_stat_columns(campaigns: FromClause) -> list[ColumnElement[Any]]:
    """A campaign's stats, for each row of `campaigns` (the table, or an alias of it)."""
    campaign_id = campaigns.c.id
    videos = select(func.count()).where(
        Asset.campaign_id == campaign_id, Asset.kind == AssetKind.VIDEO
    )
    spend = select(func.sum(Job.cost_actual_usd)).where(Job.campaign_id == campaign_id)
    jobs = select(func.count()).where(Job.campaign_id == campaign_id)
    # The status in a FILTER, not in the WHERE: with `status = 'succeeded'` there, SQLite
    # chose ix_jobs_status and read every succeeded job of every campaign, once per
    # campaign; this way each subquery walks its own campaign's jobs by their index.
    succeeded = Job.status == JobStatus.SUCCEEDED
    average = select(func.avg(Job.cost_actual_usd).filter(succeeded)).where(
        Job.campaign_id == campaign_id
    )
    return [s.scalar_subquery() for s in (videos, spend, average, jobs)]


def campaign_stats_of(values: Sequence[Any]) -> CampaignStats:
    """A campaign's stats from its values of `campaign_stat_columns`."""
    n_videos, usd, avg, n_jobs = values
    return CampaignStats(n_videos, _money(usd), None if avg is None else _money(avg), n_jobs)


@dataclass(frozen=True, slots=True)
class PageStats:
    """Stats read by a page's own statement (services/pagination.py's `PageExtra`): a
    page of clients or campaigns whose nodes ask for their stats reads them in the same
    statement, where a statement of their own cost a round trip on PostgreSQL, and on
    SQLite a read thread's every row of it waited for the event loop."""

    columns: Callable[[FromClause], list[ColumnElement[Any]]]
    of: Callable[[Sequence[Any]], Any]


CLIENT_PAGE_STATS = PageStats(client_stat_columns, client_stats_of)
CAMPAIGN_PAGE_STATS = PageStats(campaign_stat_columns, campaign_stats_of)


def _client_stats() -> Select[*tuple[Any, ...]]:
    clients = Client.__table__
    return select(clients.c.id, *client_stat_columns(clients)).where(
        clients.c.id.in_(bindparam("ids", expanding=True))
    )


def _campaign_stats() -> Select[*tuple[Any, ...]]:
    campaigns = Campaign.__table__
    return select(campaigns.c.id, *campaign_stat_columns(campaigns)).where(
        campaigns.c.id.in_(bindparam("ids", expanding=True))
    )


# Built once: a statement's construction costs more than its execution from the cache.
CLIENT_STATS = _client_stats()
CAMPAIGN_STATS = _campaign_stats()


async def client_stats(
    session: AsyncSession, client_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, ClientStats]:
    out = {cid: ClientStats(0, 0, _money(0)) for cid in client_ids}
    for row in await core_rows(session, CLIENT_STATS, {"ids": list(client_ids)}):
        out[row[0]] = client_stats_of(row[1:])
    return out


async def campaign_stats(
    session: AsyncSession, campaign_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, CampaignStats]:
    out = {cid: CampaignStats(0, _money(0), None, 0) for cid in campaign_ids}
    for row in await core_rows(session, CAMPAIGN_STATS, {"ids": list(campaign_ids)}):
        out[row[0]] = campaign_stats_of(row[1:])
    return out
