"""Results: what videos did once they ran (services/metrics.py)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from datetime import date, datetime
from decimal import Decimal
from typing import Protocol

import strawberry

from db.models import VideoMetric as VideoMetricRow
from services import metrics


@strawberry.input(description="Whole days, both ends included.")
class PeriodInput:
    start: date
    end: date

    def period(self) -> metrics.Period:
        return metrics.Period(self.start, self.end)


def period_of(value: PeriodInput | None) -> metrics.Period | None:
    """The period to filter by (checked), or None for all time."""
    return None if value is None else value.period().check()


@strawberry.type(description="A video's results over one period, as recorded.")
class VideoMetric:
    period_start: date
    period_end: date
    views: int
    clicks: int
    conversions: int
    recorded_at: datetime = strawberry.field(description="When these figures were last sent.")

    @classmethod
    def of(cls, row: VideoMetricRow) -> VideoMetric:
        return cls(
            period_start=row.period_start,
            period_end=row.period_end,
            views=row.views,
            clicks=row.clicks,
            conversions=row.conversions,
            recorded_at=row.updated_at,
        )


@strawberry.type(
    description="Views, clicks and conversions summed over the recorded periods inside the "
    "asked one, with what making the videos cost. Spend is production cost: a job's "
    "output costs its whole job, another generated clip its sub-job, a campaign or client "
    "its jobs; an uploaded video's is null. A ratio is null when what it divides by is "
    "zero (or spend is null)."
)
class Results:
    views: int
    clicks: int
    conversions: int
    spend_usd: Decimal | None
    click_through_rate: float | None = strawberry.field(description="clicks / views")
    cost_per_view_usd: Decimal | None
    cost_per_conversion_usd: Decimal | None

    @classmethod
    def of(cls, found: metrics.Results) -> Results:
        return cls(
            views=found.views,
            clicks=found.clicks,
            conversions=found.conversions,
            spend_usd=found.spend_usd,
            click_through_rate=found.click_through_rate,
            cost_per_view_usd=found.cost_per_view_usd,
            cost_per_conversion_usd=found.cost_per_conversion_usd,
        )


class _Spent(Protocol):
    @property
    def total_spend_usd(self) -> Decimal: ...


async def rolled_up(sums: Awaitable[tuple[int, int, int]], stats: Awaitable[_Spent]) -> Results:
    """A campaign's or client's results: its videos' sums, its jobs' spend (its `stats`)."""
    (views, clicks, conversions), found = await asyncio.gather(sums, stats)
    return Results.of(metrics.Results(views, clicks, conversions, found.total_spend_usd))
