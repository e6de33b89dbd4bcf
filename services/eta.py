"""How long a sub-job should take, and how long it has left.

A model's history is its latest `sample` succeeded sub-jobs: each one's run time
(`finished_at - started_at`), its size (output seconds x the square root of its pixels x
its frame rate over 24: a 10 s clip counts five times a 2 s one, a 1080p frame a bit over
twice a 480p one), and its progress curve: the share of its run time at which it
reported each progress (from its `subjob.progress` events), and its load: how many of the
model's runs were in flight alongside it. How run time grows with size and with load is
fitted to the history (`Scaling`): a local render shares the machine's cores, a hosted
one mostly does not, and each model's history says which. A sub-job's *expected* run
time is the median of its `NEAREST` past runs in size (the same length and resolution
when there are such), each scaled to its size and to the model's load now (its sub-jobs
running). A run that has outrun every past run as fitted, but not as they ran (linear in
size, whatever the load), is estimated from them as they ran: the fit is a correction,
never the reason an estimate turns unknown.

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
Histories are cached per model for `ttl` seconds once they hold `sample` runs, and for
a share of it while they hold fewer (at least `MIN_TTL`): a model's first runs change its
figures the most. One query per model at a time.
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
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from db.base import utcnow
from db.models import JobEvent, SubJob, SubJobStatus
from services import catalog

RUNNING = frozenset({"submitted", "processing", "downloading"})
STARTED = (SubJobStatus.SUBMITTED, SubJobStatus.PROCESSING, SubJobStatus.DOWNLOADING)
RESTARTS = frozenset({"queued", "submitted"})  # a new run may begin: its start is read again
NEAREST = 7  # past runs an expectation is the median of
FIT_RUNS = 5  # past runs it takes to fit how time grows with size and load
FIT_SPREAD = 1.5  # how many-fold a variable must vary among them to be fitted
LOAD_SECONDS = 1.0  # how long a count of a model's runs in flight is reused
STALE_RUNS = 4  # a run in flight this many times the longest past run: stuck, not load
CURVE_POINTS, CURVE_WINDOW = 9, 0.1  # past progress reports within 0.1 of this one's
DOWNLOAD_SHARE = 0.03  # of the expected run time, left once the output is downloading
MIN_TTL = 1.0  # seconds a history of one run is cached (a full one: `ttl`)
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
    load: float = 1.0
    """How many runs of the model were in flight during it, on average (itself included)."""


@dataclass(frozen=True, slots=True)
class Scaling:
    """Run time ~ size ** `size` x load ** `load`, fitted to a model's history (log-linear
    least squares). A local render shares the machine's cores: three at once took about
    2.2 times as long each; a hosted model's history shows no such effect, and its
    fitted `load` comes out near 0."""

    size: float = 1.0
    load: float = 0.0

    @classmethod
    def fit(cls, runs: Iterable[Run]) -> Scaling:
        """Fitted to `runs`; a variable that varies less than FIT_SPREAD-fold among them
        keeps its default (size 1, load 0): a slope from nearly equal values is noise."""
        runs = list(runs)
        if len(runs) < FIT_RUNS:
            return cls()
        sizes = [math.log(r.size) for r in runs]
        loads = [math.log(max(r.load, 1.0)) for r in runs]
        spread = math.log(FIT_SPREAD)
        if max(sizes) - min(sizes) < spread:
            sizes = [0.0] * len(runs)
        if max(loads) - min(loads) < spread:
            loads = [0.0] * len(runs)
        points = [(a, b, math.log(r.seconds)) for a, b, r in zip(sizes, loads, runs, strict=True)]
        solved = _least_squares(points)
        if solved is None:  # neither varies, or both together: nothing to tell them apart
            return cls()
        size, load = solved
        return cls(min(max(size, 0.0), 2.0), min(max(load, 0.0), 1.5))

    def factor(self, size: float, load: float | None, run: Run) -> float:
        """How much longer than `run` a run of `size` at `load` takes (None: as `run`)."""
        f: float = (size / run.size) ** self.size
        if load is not None and self.load:
            f *= (max(load, 1.0) / max(run.load, 1.0)) ** self.load
        return f


def _least_squares(points: list[tuple[float, float, float]]) -> tuple[float, float] | None:
    """The slopes (b, c) of y = a + b x1 + c x2 through `points` (x1, x2, y); None when
    they do not fix both (a slope whose variable never varies is taken as 0)."""
    n = len(points)
    m1 = sum(p[0] for p in points) / n
    m2 = sum(p[1] for p in points) / n
    my = sum(p[2] for p in points) / n
    s11 = sum((p[0] - m1) ** 2 for p in points)
    s22 = sum((p[1] - m2) ** 2 for p in points)
    s12 = sum((p[0] - m1) * (p[1] - m2) for p in points)
    s1y = sum((p[0] - m1) * (p[2] - my) for p in points)
    s2y = sum((p[1] - m2) * (p[2] - my) for p in points)
    if s11 < 1e-9 and s22 < 1e-9:
        return None
    if s22 < 1e-9:
        return s1y / s11, 0.0
    if s11 < 1e-9:
        return 1.0, s2y / s22
    det = s11 * s22 - s12 * s12
    if det < 1e-9 * s11 * s22:  # size and load moved together: apart, they say nothing
        return None
    return (s1y * s22 - s2y * s12) / det, (s2y * s11 - s1y * s12) / det


@dataclass(frozen=True, slots=True)
class History:
    """A model's latest finished runs, newest first."""

    runs: tuple[Run, ...]
    scaling: Scaling = Scaling()

    @classmethod
    def of(cls, runs: Iterable[Run]) -> History:
        runs = tuple(runs)
        return cls(runs, Scaling.fit(runs))

    def nearest(
        self, input: Mapping[str, Any], load: float | None = None
    ) -> list[tuple[float, Run]]:
        """The nearest past runs in size, each with its time scaled to this input's size
        and, when known, to the `load` it runs at (runs of the model in flight)."""
        size, mode = size_of(input), input.get("mode")

        def distance(run: Run) -> float:
            return abs(math.log(run.size / size)) + (run.mode != mode)

        nearest = sorted(self.runs, key=distance)[:NEAREST]  # stable: the newest on ties
        return [(run.seconds * self.scaling.factor(size, load, run), run) for run in nearest]

    def expected(self, input: Mapping[str, Any], load: float | None = None) -> float:
        return round(statistics.median(t for t, _ in self.nearest(input, load)), 3)

    def remaining(
        self,
        input: Mapping[str, Any],
        *,
        status: str,
        elapsed: float,
        progress: float | None,
        load: float | None = None,
    ) -> float | None:
        """Seconds left of a sub-job in `status`, `elapsed` seconds into its run."""
        if status not in RUNNING:
            return None
        nearest = self.nearest(input, load)
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
    loads = _loads([(r[2], r[3]) for r in rows])
    runs = []
    for row, load in zip(rows, loads, strict=True):
        sub_id, _, started, finished, duration, resolution, aspect, fps, mode = row
        shape = {"duration": duration, "resolution": resolution, "aspect_ratio": aspect, "fps": fps}
        seconds = max((finished - started).total_seconds(), 0.001)
        curve = tuple(curves.get(sub_id, ()))
        runs.append(Run(seconds, size_of(shape), mode, curve, tails.get(sub_id), load))
    return History.of(runs)


def _loads(spans: list[tuple[datetime, datetime]]) -> list[float]:
    """For each run, the time-weighted number of the runs in `spans` that overlapped it
    (itself included): 2.0 when another ran alongside it from start to end."""
    loads = []
    for start, end in spans:
        span = (end - start).total_seconds()
        if span <= 0:
            loads.append(1.0)
            continue
        overlap = sum(max((min(end, e) - max(start, s)).total_seconds(), 0.0) for s, e in spans)
        loads.append(max(overlap / span, 1.0))
    return loads


async def in_flight(session: AsyncSession, model: str, since: datetime) -> int:
    """How many of the model's sub-jobs are running, or queued to, since `since`: a job's
    clips are queued together and start within moments of each other. Older ones are
    stuck (their worker gone), not rendering: they do not share the machine."""
    started = and_(SubJob.status.in_(STARTED), SubJob.started_at >= since)
    queued = and_(SubJob.status == SubJobStatus.QUEUED, SubJob.updated_at >= since)
    stmt = select(func.count()).where(SubJob.model == model, or_(started, queued))
    return int((await session.execute(stmt)).scalar_one())


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
        self._loads: dict[str, tuple[float, int]] = {}
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
        elif self._histories.get(model, (0, None))[1] is future:
            # A short history is read again sooner: each new run changes it the most.
            fill = min(len(value.runs) / self._sample, 1.0)
            self._histories[model] = (now + max(self._ttl * fill, MIN_TTL), future)
        return value

    async def load(self, model: str, history: History) -> int:
        """The model's sub-jobs in flight now, counted at most every LOAD_SECONDS."""
        now = self._clock()
        cached = self._loads.get(model)
        if cached is not None and now - cached[0] < LOAD_SECONDS:
            return cached[1]
        longest = max(run.seconds for run in history.runs)
        since = utcnow() - timedelta(seconds=STALE_RUNS * longest)
        async with self._factory() as session:
            count = await in_flight(session, model, since)
        self._loads[model] = (now, count)
        return count

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
        """(expectedSeconds, etaSeconds) of a sub-job as it is at `at`. When `at` is now
        (an event as it happens, or the field), times are scaled to the model's load now;
        an older event's load is not known, and its times are not."""
        history = await self.history(model)
        if history is None:
            return None, None
        load = None
        if history.scaling.load and abs((utcnow() - at).total_seconds()) <= LOAD_SECONDS:
            load = await self.load(model, history)
        expected = history.expected(input, load)
        if started_at is None:
            return expected, None
        elapsed = (at - started_at).total_seconds()
        eta = history.remaining(input, status=status, elapsed=elapsed, progress=progress, load=load)
        if eta is None and status in RUNNING and history.scaling != Scaling():
            # Outran every past run as fitted: judged by them as they ran, both figures.
            plain = History(history.runs)
            expected = plain.expected(input)
            eta = plain.remaining(input, status=status, elapsed=elapsed, progress=progress)
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
