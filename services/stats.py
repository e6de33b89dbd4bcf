"""Aggregates computed in SQL, batched over many clients or campaigns at once."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import Select, bindparam, func, select
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


def _client_stats() -> Select[*tuple[Any, ...]]:
    campaigns = select(func.count()).where(Campaign.client_id == Client.id)
    videos = select(func.count()).where(Asset.client_id == Client.id, Asset.kind == AssetKind.VIDEO)
    spend = (
        select(func.sum(Job.cost_actual_usd))
        .join(Campaign, Campaign.id == Job.campaign_id)
        .where(Campaign.client_id == Client.id)
    )
    return select(
        Client.id,
        campaigns.scalar_subquery(),
        videos.scalar_subquery(),
        spend.scalar_subquery(),
    ).where(Client.id.in_(bindparam("ids", expanding=True)))


def _campaign_stats() -> Select[*tuple[Any, ...]]:
    videos = select(func.count()).where(
        Asset.campaign_id == Campaign.id, Asset.kind == AssetKind.VIDEO
    )
    spend = select(func.sum(Job.cost_actual_usd)).where(Job.campaign_id == Campaign.id)
    jobs = select(func.count()).where(Job.campaign_id == Campaign.id)
    # The status in a FILTER, not in the WHERE: with `status = 'succeeded'` there, SQLite
    # chose ix_jobs_status and read every succeeded job of every campaign, once per
    # campaign; this way each subquery walks its own campaign's jobs by their index.
    succeeded = Job.status == JobStatus.SUCCEEDED
    average = select(func.avg(Job.cost_actual_usd).filter(succeeded)).where(
        Job.campaign_id == Campaign.id
    )
    return select(
        Campaign.id,
        videos.scalar_subquery(),
        spend.scalar_subquery(),
        average.scalar_subquery(),
        jobs.scalar_subquery(),
    ).where(Campaign.id.in_(bindparam("ids", expanding=True)))


# Built once: a statement's construction costs more than its execution from the cache.
CLIENT_STATS = _client_stats()
CAMPAIGN_STATS = _campaign_stats()


async def client_stats(
    session: AsyncSession, client_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, ClientStats]:
    out = {cid: ClientStats(0, 0, _money(0)) for cid in client_ids}
    for cid, n_campaigns, n_videos, usd in await core_rows(
        session, CLIENT_STATS, {"ids": list(client_ids)}
    ):
        out[cid] = ClientStats(n_campaigns, n_videos, _money(usd))
    return out


async def campaign_stats(
    session: AsyncSession, campaign_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, CampaignStats]:
    out = {cid: CampaignStats(0, _money(0), None, 0) for cid in campaign_ids}
    for cid, n_videos, usd, avg, n_jobs in await core_rows(
        session, CAMPAIGN_STATS, {"ids": list(campaign_ids)}
    ):
        out[cid] = CampaignStats(
            n_videos, _money(usd), None if avg is None else _money(avg), n_jobs
        )
    return out
