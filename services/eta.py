"""How long a sub-job should take: the median run time of its model's past sub-jobs.

`expected` is the median of `finished_at - started_at` over the model's latest
succeeded sub-jobs; the remaining time of a running sub-job is that minus what it
has run so far (never below zero). Both are None when the model has no history.
Figures are cached per model for `ttl` seconds, one query per model at a time.
"""

from __future__ import annotations

import asyncio
import statistics
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from db.models import SubJob, SubJobStatus

RUNNING = frozenset({"submitted", "processing", "downloading"})


async def median_run_seconds(session: AsyncSession, model: str, sample: int) -> float | None:
    stmt = (
        select(SubJob.started_at, SubJob.finished_at)
        .where(
            SubJob.model == model,
            SubJob.status == SubJobStatus.SUCCEEDED,
            SubJob.started_at.is_not(None),
            SubJob.finished_at.is_not(None),
        )
        .order_by(SubJob.finished_at.desc())
        .limit(sample)
    )
    runs = [(f - s).total_seconds() for s, f in (await session.execute(stmt)).all() if s and f]
    return round(statistics.median(runs), 3) if runs else None


def remaining(expected: float | None, started_at: datetime | None, at: datetime) -> float | None:
    """Seconds left at `at` for a sub-job that started at `started_at`."""
    if expected is None or started_at is None:
        return None
    return round(max(expected - (at - started_at).total_seconds(), 0.0), 3)


@dataclass(frozen=True, slots=True)
class SubJobTiming:
    model: str
    started_at: datetime | None


class EtaEstimator:
    """A per-process cache in front of `median_run_seconds` and sub-job timings."""

    def __init__(
        self,
        factory: async_sessionmaker[AsyncSession],
        *,
        sample: int = 50,
        ttl: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
        max_sub_jobs: int = 10_000,
    ) -> None:
        self._factory = factory
        self._sample = sample
        self._ttl = ttl
        self._clock = clock
        self._medians: dict[str, tuple[float, asyncio.Future[float | None]]] = {}
        self._timings: OrderedDict[uuid.UUID, SubJobTiming] = OrderedDict()
        self._max_sub_jobs = max_sub_jobs

    async def expected(self, model: str) -> float | None:
        now = self._clock()
        cached = self._medians.get(model)
        if cached is not None and (now < cached[0] or not cached[1].done()):
            return await asyncio.shield(cached[1])
        future: asyncio.Future[float | None] = asyncio.get_running_loop().create_future()
        self._medians[model] = (now + self._ttl, future)
        try:
            async with self._factory() as session:
                value = await median_run_seconds(session, model, self._sample)
        except BaseException as exc:
            self._medians.pop(model, None)
            future.set_exception(exc)
            future.exception()  # retrieved here; waiters get it through shield
            raise
        future.set_result(value)
        if value is None:  # no history yet: ask again next time, it may have some by then
            self._medians.pop(model, None)
        return value

    async def timing(self, sub_job_id: uuid.UUID) -> SubJobTiming | None:
        """Model and start of a sub-job; kept once it has started (neither changes after)."""
        cached = self._timings.get(sub_job_id)
        if cached is not None:
            return cached
        async with self._factory() as session:
            row = (
                await session.execute(
                    select(SubJob.model, SubJob.started_at).where(SubJob.id == sub_job_id)
                )
            ).first()
        if row is None:
            return None
        timing = SubJobTiming(model=row[0], started_at=row[1])
        if timing.started_at is not None:
            self._timings[sub_job_id] = timing
            while len(self._timings) > self._max_sub_jobs:
                self._timings.popitem(last=False)
        return timing

    async def for_event(
        self, sub_job_id: uuid.UUID | None, status: str, at: datetime
    ) -> tuple[float | None, float | None]:
        """(expectedSeconds, etaSeconds) of a sub-job event; eta only while it runs."""
        if sub_job_id is None:
            return None, None
        timing = await self.timing(sub_job_id)
        if timing is None:
            return None, None
        expected = await self.expected(timing.model)
        eta = remaining(expected, timing.started_at, at) if status in RUNNING else None
        return expected, eta
