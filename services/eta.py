"""How long a sub-job should take, and how long it has left.

A model's history is its latest `sample` succeeded sub-jobs: each one's run time
(`finished_at - started_at`), its size (output seconds x the square root of its pixels x
its frame rate over 24: a 10 s clip counts five times a 2 s one, a 1080p frame a bit over
twice a 480p one), and its progress curve: the share of its run time at which it
reported each progress (from its `subjob.progress` events). A sub-job's *expected* run
time is the median of its `NEAREST` past runs in size (the same length and resolution
when there are such), each scaled by the size ratio.

The time *left* of a running sub-job that has run `elapsed` seconds at progress `p`:

- no history: unknown (None), never a guess;
- `downloading`: the render is done, its output is being stored: what storing took
  the nearest past runs (from their `downloading` event to their end); a small
  share of the expected time for runs that have no such event;
- no progress reported: the median of what those past runs still had to go once they
  had run as long; unknown once it has outrun every one of them (a late job is not
  "0 s left");
- progress `p`, and past runs that reported about as much: they had done it `share` of
  the way through their run, so this one will take `elapsed / share` in all. Progress
  is rarely linear in time (a provider's queue before the first tick, an encoder whose
  output lags what it has read): the curve is what calibrates it, per model and size;
- progress but no such curve: the history's figure blended with the pace so far,
  `elapsed x (1 - p) / p`, weighing `p`.

Either way a render slower than every one before is never "0 s left" at 5 %.
Histories are cached per model for `ttl` seconds, one query per model at a time.
"""

from __future__ import annotations

import asyncio
import math
import statistics
import time
import uuid
from collections import OrderedDict, defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, or_, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from db.models import JobEvent, SubJob, SubJobStatus
from services import catalog

RUNNING = frozenset({"submitted", "processing", "downloading"})
RESTARTS = frozenset({"queued", "submitted"})  # a new run may begin: its start is read again
NEAREST = 7  # past runs an expectation is the median of
CURVE_POINTS, CURVE_WINDOW = 9, 0.1  # past progress reports within 0.1 of this one's
DOWNLOAD_SHARE = 0.03  # of the expected run time, left once the output is downloading
ROW_SECONDS = 0.05  # a burst of events (a replay) reads the row once


def size_of(input: Mapping[str, Any]) -> float:
    """The relative amount of work in a sub-job's logical input (images count 1 s)."""
    seconds = _number(input.get("duration")) or 1.0
    height = catalog.RESOLUTION_HEIGHTS.get(str(input.get("resolution") or ""), 720)
    w, h = catalog.ASPECT_RATIOS.get(str(input.get("aspect_ratio") or ""), (16, 9))
    fps = _number(input.get("fps")) or 24.0
    return seconds * math.sqrt(height * height * max(w, h) / min(w, h)) * fps / 24.0


def _number(value: Any) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if number > 0 else None


@dataclass(frozen=True, slots=True)
class Run:
    seconds: float
    size: float
    mode: str | None
    curve: tuple[tuple[float, float], ...] = ()
    """(progress, share of the run's time when it was reported), as the run reported it."""
    tail: float | None = None
    """Seconds from its `downloading` event to its end: storing the output."""


@dataclass(frozen=True, slots=True)
class History:
    """A model's latest finished runs, newest first."""

    runs: tuple[Run, ...]

    def nearest(self, input: Mapping[str, Any]) -> list[tuple[float, Run]]:
        """The nearest past runs in size, each with its time scaled to this input's."""
        size, mode = size_of(input), input.get("mode")

        def distance(run: Run) -> float:
            return abs(math.log(run.size / size)) + (run.mode != mode)

        nearest = sorted(self.runs, key=distance)[:NEAREST]  # stable: the newest on ties
        return [(run.seconds * size / run.size, run) for run in nearest]

    def expected(self, input: Mapping[str, Any]) -> float:
        return round(statistics.median(t for t, _ in self.nearest(input)), 3)

    def remaining(
        self,
        input: Mapping[str, Any],
        *,
        status: str,
        elapsed: float,
        progress: float | None,
    ) -> float | None:
        """Seconds left of a sub-job in `status`, `elapsed` seconds into its run."""
        if status not in RUNNING:
            return None
        nearest = self.nearest(input)
        runs = [t for t, _ in nearest]
        elapsed = max(elapsed, 0.0)
        if status == "downloading":
            return _storing(nearest)
        left = [run - elapsed for run in runs if run > elapsed]
        prior = statistics.median(left) if left else None
        if progress is None or progress <= 0:
            return None if prior is None else round(prior, 3)
        p = min(progress, 1.0)
        share = _share_at(p, (run for _, run in nearest))
        if share is not None:
            return round(elapsed * (1 / share - 1), 3)
        pace = elapsed * (1 - p) / p
        return round(pace if prior is None else (1 - p) * prior + p * pace, 3)


def _storing(nearest: list[tuple[float, Run]]) -> float:
    """Seconds to store an output: the median of what it took the nearest runs (those
    without a `downloading` event count a share of their run time). Storing is a copy,
    not a render: it is not scaled by size."""
    tails = [run.tail if run.tail is not None else DOWNLOAD_SHARE * t for t, run in nearest]
    return round(statistics.median(tails), 3)


def _share_at(progress: float, runs: Iterable[Run]) -> float | None:
    """The median share of their run time at which past runs reported about `progress`;
    None when fewer than three reports come close."""
    points = sorted((abs(p - progress), share) for run in runs for p, share in run.curve)
    close = [share for gap, share in points[:CURVE_POINTS] if gap <= CURVE_WINDOW]
    if len(close) < 3:
        return None
    return min(max(statistics.median(close), 0.02), 0.99)


async def load_history(session: AsyncSession, model: str, sample: int) -> History | None:
    stmt = (
        select(
            SubJob.id,
            SubJob.job_id,
            SubJob.started_at,
            SubJob.finished_at,
            SubJob.input["duration"].as_float(),
            SubJob.input["resolution"].as_string(),
            SubJob.input["aspect_ratio"].as_string(),
            SubJob.input["fps"].as_float(),
            SubJob.input["mode"].as_string(),
        )
        .where(
            SubJob.model == model,
            SubJob.status == SubJobStatus.SUCCEEDED,
            SubJob.started_at.is_not(None),
            SubJob.finished_at.is_not(None),
        )
        .order_by(SubJob.finished_at.desc())
        .limit(sample)
    )
    rows = (await session.execute(stmt)).all()
    if not rows:
        return None
    curves, tails = await _reports(
        session, {r[1] for r in rows}, {r[0]: (r[2], r[3]) for r in rows}
    )
    runs = []
    for sub_id, _, started, finished, duration, resolution, aspect, fps, mode in rows:
        shape = {"duration": duration, "resolution": resolution, "aspect_ratio": aspect, "fps": fps}
        seconds = max((finished - started).total_seconds(), 0.001)
        curve = tuple(curves.get(sub_id, ()))
        runs.append(Run(seconds, size_of(shape), mode, curve, tails.get(sub_id)))
    return History(tuple(runs))


async def _reports(
    session: AsyncSession,
    job_ids: set[uuid.UUID],
    spans: dict[uuid.UUID, tuple[datetime, datetime]],
) -> tuple[dict[uuid.UUID, list[tuple[float, float]]], dict[uuid.UUID, float]]:
    """Each run's progress reports during its run, as (progress, share of its time), and
    the seconds from its `downloading` event to its end. Read by job (the log's own
    index), a few hundred rows per model."""
    stmt = select(JobEvent.sub_job_id, JobEvent.created_at, JobEvent.type, JobEvent.progress).where(
        JobEvent.job_id.in_(job_ids),
        JobEvent.sub_job_id.in_(list(spans)),
        or_(
            and_(JobEvent.type == "subjob.progress", JobEvent.progress > 0, JobEvent.progress < 1),
            and_(
                JobEvent.type == "subjob.status",
                JobEvent.status == SubJobStatus.DOWNLOADING.value,
            ),
        ),
    )
    curves: defaultdict[uuid.UUID, list[tuple[float, float]]] = defaultdict(list)
    tails: dict[uuid.UUID, float] = {}
    for sub_id, at, type_, progress in await session.execute(stmt):
        if sub_id is None:
            continue
        started, finished = spans[sub_id]
        if not started <= at <= finished:  # an earlier attempt's
            continue
        if type_ == "subjob.status":
            tails[sub_id] = min(tails.get(sub_id, math.inf), (finished - at).total_seconds())
        elif progress is not None:
            share = (at - started).total_seconds() / (finished - started).total_seconds()
            curves[sub_id].append((progress, share))
    return curves, tails


@dataclass(frozen=True, slots=True)
class SubJobTiming:
    model: str
    input: Mapping[str, Any]
    started_at: datetime | None
    progress: float | None
    read_at: float


_UNSET: Any = object()


class EtaEstimator:
    """A per-process cache of model histories and sub-job timings."""

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
        self._histories: dict[str, tuple[float, asyncio.Future[History | None]]] = {}
        self._timings: OrderedDict[uuid.UUID, SubJobTiming] = OrderedDict()
        self._max_sub_jobs = max_sub_jobs

    async def history(self, model: str) -> History | None:
        now = self._clock()
        cached = self._histories.get(model)
        if cached is not None and (now < cached[0] or not cached[1].done()):
            return await asyncio.shield(cached[1])
        future: asyncio.Future[History | None] = asyncio.get_running_loop().create_future()
        self._histories[model] = (now + self._ttl, future)
        try:
            async with self._factory() as session:
                value = await load_history(session, model, self._sample)
        except BaseException as exc:
            self._histories.pop(model, None)
            future.set_exception(exc)
            future.exception()  # retrieved here; waiters get it through shield
            raise
        future.set_result(value)
        if value is None:  # no history yet: ask again next time, it may have some by then
            self._histories.pop(model, None)
        return value

    async def expected(self, model: str) -> float | None:
        """The median run time of the model's latest runs, whatever their size."""
        history = await self.history(model)
        if history is None:
            return None
        return round(statistics.median(run.seconds for run in history.runs), 3)

    async def estimate(
        self,
        model: str,
        input: Mapping[str, Any],
        *,
        started_at: datetime | None,
        status: str,
        progress: float | None,
        at: datetime,
    ) -> tuple[float | None, float | None]:
        """(expectedSeconds, etaSeconds) of a sub-job as it is at `at`."""
        history = await self.history(model)
        if history is None:
            return None, None
        expected = history.expected(input)
        if started_at is None:
            return expected, None
        elapsed = (at - started_at).total_seconds()
        eta = history.remaining(input, status=status, elapsed=elapsed, progress=progress)
        return expected, eta

    async def timing(
        self, sub_job_id: uuid.UUID, max_age: float | None = None
    ) -> SubJobTiming | None:
        """A sub-job's model, input, start and progress; read again when older than
        `max_age` seconds (None: kept once it has started)."""
        cached = self._timings.get(sub_job_id)
        if cached is not None and (max_age is None or self._clock() - cached.read_at <= max_age):
            return cached
        async with self._factory() as session:
            row = (
                await session.execute(
                    select(SubJob.model, SubJob.input, SubJob.started_at, SubJob.progress).where(
                        SubJob.id == sub_job_id
                    )
                )
            ).first()
        if row is None:
            return None
        timing = SubJobTiming(row[0], row[1] or {}, row[2], row[3], self._clock())
        self._timings.pop(sub_job_id, None)
        if timing.started_at is not None:
            self._timings[sub_job_id] = timing
            while len(self._timings) > self._max_sub_jobs:
                self._timings.popitem(last=False)
        return timing

    async def for_event(
        self,
        sub_job_id: uuid.UUID | None,
        status: str,
        at: datetime,
        progress: float | None = _UNSET,
    ) -> tuple[float | None, float | None]:
        """(expectedSeconds, etaSeconds) of a sub-job event; eta only while it runs.

        Without `progress`, the sub-job's row says it (read at most every ROW_SECONDS):
        the event was written with the row, so live they agree."""
        if sub_job_id is None:
            return None, None
        if status in RESTARTS:
            self._timings.pop(sub_job_id, None)  # a retry or a re-render starts again
        timing = await self.timing(sub_job_id, ROW_SECONDS if progress is _UNSET else None)
        if timing is None:
            return None, None
        return await self.estimate(
            timing.model,
            timing.input,
            started_at=timing.started_at,
            status=status,
            progress=timing.progress if progress is _UNSET else progress,
            at=at,
        )
