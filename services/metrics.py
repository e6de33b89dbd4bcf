"""Results: how videos did (views, clicks, conversions per reported period), rolled up
per video, campaign and client with what making them cost.

A video's periods are whole days, inclusive, and never overlap: recording the same period
again replaces its figures (a script may resend a day), a period that overlaps another is
refused. A rollup over a period sums the records that lie inside it.

Spend is what making the videos cost, not media spend: a job's output (a combined video,
or a generated video with the image it started from) its whole job, another generated
clip its sub-job; a campaign's or client's spend is its jobs' actual cost (as
`stats` reports it). An uploaded video cost nothing we know of: its spend is null, and
so are its cost ratios.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any, cast

from sqlalchemy import ColumnElement, and_, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from db.models import Asset, AssetKind, Job, SubJob, VideoMetric
from services.assets import get_asset
from services.errors import Conflict, InvalidInput
from services.reads import core_rows
from services.viewer import Viewer

MAX_PERIOD_DAYS = 366
MAX_COUNT = 2**31 - 1
RATIO = Decimal("0.000001")


@dataclass(frozen=True, slots=True)
class Period:
    """Whole days, both ends included."""

    start: date
    end: date

    def check(self, field: str = "period") -> Period:
        if self.end < self.start:
            raise InvalidInput("the period ends before it starts", field=f"{field}.end")
        if (self.end - self.start).days + 1 > MAX_PERIOD_DAYS:
            raise InvalidInput(f"a period spans at most {MAX_PERIOD_DAYS} days", field=field)
        return self


@dataclass(frozen=True, slots=True)
class Results:
    views: int
    clicks: int
    conversions: int
    spend_usd: Decimal | None

    @property
    def click_through_rate(self) -> float | None:
        return self.clicks / self.views if self.views else None

    @property
    def cost_per_view_usd(self) -> Decimal | None:
        return _per(self.spend_usd, self.views)

    @property
    def cost_per_conversion_usd(self) -> Decimal | None:
        return _per(self.spend_usd, self.conversions)


def _per(spend: Decimal | None, count: int) -> Decimal | None:
    return None if spend is None or not count else (spend / count).quantize(RATIO)


async def record_video_metrics(
    session: AsyncSession,
    viewer: Viewer,
    asset_id: uuid.UUID,
    period: Period,
    counts: dict[str, int],
    *,
    today: date | None = None,
) -> VideoMetric:
    """Record (or replace) one period's figures for a video the viewer can see."""
    period.check()
    # a day ahead of UTC: an agency east of Greenwich reports its today
    latest = (today or datetime.now(UTC).date()) + timedelta(days=1)
    if period.end > latest:
        raise InvalidInput("the period has not happened yet", field="period.end")
    for name, value in counts.items():
        if not 0 <= value <= MAX_COUNT:
            raise InvalidInput(f"{name} is a count from 0 to {MAX_COUNT}", field=name)
    asset = await get_asset(session, viewer, asset_id, field="assetId")
    if asset.kind is not AssetKind.VIDEO:
        raise InvalidInput("results are recorded for videos only", field="assetId")
    # Records of one video take turns: a no-op write locks its row on both databases
    # (SQLite takes its write lock at a transaction's first write), so two overlapping
    # periods sent at once cannot both pass the check below.
    await session.execute(update(Asset).where(Asset.id == asset.id).values(kind=Asset.kind))
    found = list(
        await session.scalars(
            select(VideoMetric).where(VideoMetric.asset_id == asset.id, _overlaps(period))
        )
    )
    others = [m for m in found if (m.period_start, m.period_end) != (period.start, period.end)]
    if others:
        other = others[0]
        raise Conflict(
            f"this video already has results for {other.period_start}..{other.period_end}, "
            "which overlaps: record whole, separate periods (or the same one again)",
            field="period",
        )
    metric = found[0] if found else VideoMetric(  # found: this very period, at most once
        asset_id=asset.id,
        client_id=asset.client_id,
        campaign_id=asset.campaign_id,
        period_start=period.start,
        period_end=period.end,
    )  # fmt: skip
    metric.views, metric.clicks, metric.conversions = (
        counts["views"], counts["clicks"], counts["conversions"]
    )  # fmt: skip
    session.add(metric)
    await session.flush()
    return metric


def _overlaps(period: Period) -> ColumnElement[bool]:
    return and_(VideoMetric.period_start <= period.end, VideoMetric.period_end >= period.start)


def _inside(period: Period | None) -> list[ColumnElement[bool]]:
    if period is None:
        return []
    return [VideoMetric.period_start >= period.start, VideoMetric.period_end <= period.end]


async def metrics_for_assets(
    session: AsyncSession, asset_ids: Sequence[uuid.UUID], period: Period | None
) -> dict[uuid.UUID, list[VideoMetric]]:
    """Each video's records inside the period, oldest first."""
    out: dict[uuid.UUID, list[VideoMetric]] = {i: [] for i in asset_ids}
    stmt = (
        select(VideoMetric)
        .where(VideoMetric.asset_id.in_(asset_ids), *_inside(period))
        .order_by(VideoMetric.asset_id, VideoMetric.period_start)
    )
    for metric in await session.scalars(stmt):
        out[metric.asset_id].append(metric)
    return out


async def _sums(
    session: AsyncSession,
    key: InstrumentedAttribute[Any],
    ids: Sequence[uuid.UUID],
    period: Period | None,
) -> dict[uuid.UUID, tuple[int, int, int]]:
    stmt = (
        select(
            key,
            func.coalesce(func.sum(VideoMetric.views), 0),
            func.coalesce(func.sum(VideoMetric.clicks), 0),
            func.coalesce(func.sum(VideoMetric.conversions), 0),
        )
        .where(key.in_(ids), *_inside(period))
        .group_by(key)
    )
    found: dict[uuid.UUID, tuple[int, int, int]] = {}
    for owner, views, clicks, conversions in await core_rows(session, stmt):
        found[cast(uuid.UUID, owner)] = (int(views), int(clicks), int(conversions))
    return found


async def results_for_assets(
    session: AsyncSession, asset_ids: Sequence[uuid.UUID], period: Period | None
) -> dict[uuid.UUID, Results]:
    sums = await _sums(session, VideoMetric.asset_id, asset_ids, period)
    spend: dict[uuid.UUID, Decimal | None] = {}
    # a job's output (a combined video, or its one clip): the whole job; another clip: its
    # sub-job; an upload: nothing known
    made_by_job = select(Job.output_asset_id, Job.cost_actual_usd).where(
        Job.output_asset_id.in_(asset_ids)
    )
    for asset_id, cost in await core_rows(session, made_by_job):
        spend[cast(uuid.UUID, asset_id)] = Decimal(cost)
    made_by_sub_job = select(SubJob.output_asset_id, SubJob.cost_usd).where(
        SubJob.output_asset_id.in_(asset_ids)
    )
    for asset_id, cost in await core_rows(session, made_by_sub_job):
        spend.setdefault(cast(uuid.UUID, asset_id), Decimal(cost))
    return {i: Results(*sums.get(i, (0, 0, 0)), spend.get(i)) for i in asset_ids}


async def sums_for_campaigns(
    session: AsyncSession, campaign_ids: Sequence[uuid.UUID], period: Period | None
) -> dict[uuid.UUID, tuple[int, int, int]]:
    found = await _sums(session, VideoMetric.campaign_id, campaign_ids, period)
    return {i: found.get(i, (0, 0, 0)) for i in campaign_ids}


async def sums_for_clients(
    session: AsyncSession, client_ids: Sequence[uuid.UUID], period: Period | None
) -> dict[uuid.UUID, tuple[int, int, int]]:
    found = await _sums(session, VideoMetric.client_id, client_ids, period)
    return {i: found.get(i, (0, 0, 0)) for i in client_ids}
