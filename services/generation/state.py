"""State changes of jobs and sub-jobs. Each writes its row and its JobEvent together,
and moves only along the transition tables below: a move they do not list raises
`IllegalTransition` (a bug, which the task that made it reports as one)."""

from __future__ import annotations

import time
import uuid
from collections import OrderedDict
from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from db.base import utcnow
from db.models import Campaign, Job, JobStatus, SubJob, SubJobStatus
from services.broker import Broker, release_after_commit
from services.events import append_event
from services.generation.error_codes import JobErrorCode

_FRESH = {"populate_existing": True}  # rows read under a lock replace what the session holds
JOB_FINAL = frozenset({JobStatus.SUCCEEDED, JobStatus.FAILED, JobStatus.CANCELED})
SUB_FINAL = frozenset({SubJobStatus.SUCCEEDED, SubJobStatus.FAILED, SubJobStatus.CANCELED})
RUNNABLE = frozenset({JobStatus.QUEUED, JobStatus.RUNNING})  # a job whose sub-jobs may work
# Without a prediction id, a sub-job in these has a create under way (a local render
# is `processing` inside its create).
CREATING = frozenset({SubJobStatus.SUBMITTED, SubJobStatus.PROCESSING})

J, S = JobStatus, SubJobStatus
# Where each status may go. A job is created `queued` (`job_created` logs that).
JOB_TRANSITIONS: Mapping[JobStatus, frozenset[JobStatus]] = {
    # queued -> succeeded: a job without sub-jobs (a storyboard's writing) is one step
    J.QUEUED: frozenset({J.RUNNING, J.AWAITING_APPROVAL, J.SUCCEEDED, J.FAILED, J.CANCELED}),
    J.AWAITING_APPROVAL: frozenset({J.RUNNING, J.CANCELED}),
    # running -> running: one clip is re-rendered while the others still run
    J.RUNNING: frozenset({J.RUNNING, J.COMBINING, J.SUCCEEDED, J.FAILED, J.CANCELED}),
    J.COMBINING: frozenset({J.SUCCEEDED, J.FAILED, J.CANCELED}),
    J.SUCCEEDED: frozenset({J.RUNNING}),  # a clip regenerated
    J.FAILED: frozenset({J.RUNNING}),  # a failed sub-job retried
    J.CANCELED: frozenset(),
}
# A sub-job is created `queued`. A failed attempt with tries left returns to `queued`.
_ENDS = frozenset({S.QUEUED, S.FAILED, S.CANCELED})
SUB_TRANSITIONS: Mapping[SubJobStatus, frozenset[SubJobStatus]] = {
    S.QUEUED: frozenset({S.SUBMITTED, S.FAILED, S.CANCELED}),
    # -> submitted: a create lost for SUBMIT_LOST_SECONDS is made again, a new attempt
    S.SUBMITTED: _ENDS | {S.SUBMITTED, S.PROCESSING, S.DOWNLOADING},
    S.PROCESSING: _ENDS | {S.SUBMITTED, S.DOWNLOADING},
    # -> downloading: the output copy stalled, and news of the success came again
    S.DOWNLOADING: _ENDS | {S.DOWNLOADING, S.SUCCEEDED},
    S.SUCCEEDED: frozenset({S.QUEUED}),  # regenerated
    S.FAILED: frozenset({S.QUEUED}),  # retried or regenerated
    S.CANCELED: frozenset({S.QUEUED}),  # regenerated
}


class IllegalTransition(Exception):
    """A status change the transition tables do not allow: a bug in the caller."""


def in_play(job: Job, sub: SubJob) -> bool:
    """The sub-job has not ended, and its job may still run it: work on it is wanted."""
    return sub.status not in SUB_FINAL and job.status in RUNNABLE


def job_may(current: JobStatus, to: JobStatus) -> bool:
    return to in JOB_TRANSITIONS[current]


def sub_may(current: SubJobStatus, to: SubJobStatus) -> bool:
    return to in SUB_TRANSITIONS[current]


# Lock order, kept by every writer so two of them never wait on each other: a job's
# sub-jobs first, then the job. (Appending an event locks the job row, so a change to a
# sub-job that writes an event takes both, in that order.)


async def lock_job(session: AsyncSession, job_id: uuid.UUID) -> Job | None:
    """Take the job's row lock, so what this transaction reads next is current and
    concurrent writers of one job (two sub-jobs finishing together) queue up. Lock the
    sub-jobs this transaction changes before this (see `lock_sub_jobs`)."""
    stmt = update(Job).where(Job.id == job_id).values(last_seq=Job.last_seq).returning(Job)
    return await session.scalar(stmt, execution_options=_FRESH)


def _touch_nothing(stmt: Any) -> Any:
    # A no-op write that takes the row lock (on SQLite: the write transaction) without
    # moving `updated_at`, which says when the sub-job last really changed.
    return stmt.values(attempts=SubJob.attempts, updated_at=SubJob.updated_at)


async def lock_sub_job(session: AsyncSession, sub_id: uuid.UUID) -> tuple[Job, SubJob] | None:
    """Lock one sub-job's row (not its job's) for a change to it: sibling sub-jobs move
    on in parallel; the job row is locked only while its event is written.
    The lock is a write, so on SQLite it also starts the write transaction at once."""
    stmt = _touch_nothing(update(SubJob).where(SubJob.id == sub_id)).returning(SubJob)
    sub = await session.scalar(stmt, execution_options=_FRESH)
    if sub is None:
        return None
    job = await session.scalar(select(Job).where(Job.id == sub.job_id), execution_options=_FRESH)
    assert job is not None
    return job, sub


async def lock_sub_job_and_job(
    session: AsyncSession, sub_id: uuid.UUID
) -> tuple[Job, SubJob] | None:
    """Lock the sub-job, then its job (the lock order): for changes that may end the
    sub-job, and so must see every sibling as it is."""
    found = await lock_sub_job(session, sub_id)
    if found is None:
        return None
    job = await lock_job(session, found[0].id)
    return None if job is None else (job, found[1])


async def lock_sub_jobs(session: AsyncSession, job_id: uuid.UUID) -> None:
    """Lock every sub-job of a job, for a change to the job that reaches into them."""
    await session.execute(_touch_nothing(update(SubJob).where(SubJob.job_id == job_id)))


async def sub_jobs_of(session: AsyncSession, job_id: uuid.UUID) -> list[SubJob]:
    stmt = (
        select(SubJob)
        .where(SubJob.job_id == job_id)
        .order_by(SubJob.index)
        .execution_options(populate_existing=True)
    )
    return list(await session.scalars(stmt))


async def campaign_of(session: AsyncSession, job: Job) -> Campaign:
    campaign = await session.get(Campaign, job.campaign_id)
    assert campaign is not None
    return campaign


def age(sub: SubJob) -> float:
    """Seconds since the sub-job's row last changed (progress and heartbeats touch it)."""
    return time.time() - sub.updated_at.timestamp()


def since_start(sub: SubJob) -> float:
    """Seconds since the sub-job was first submitted (this render of it)."""
    return time.time() - (sub.started_at or utcnow()).timestamp()


async def job_created(
    session: AsyncSession,
    broker: Broker,
    job: Job,
    *,
    message: str,
    data: dict[str, Any] | None = None,
) -> None:
    """The first event of a new (`queued`) job: its creation, not a transition."""
    if job.status is not JobStatus.QUEUED or job.last_seq:
        raise IllegalTransition(f"job {job.id} is not new: it is {job.status.value}")
    await _job_event(session, broker, job, message, data)


async def set_job_status(
    session: AsyncSession,
    broker: Broker,
    job: Job,
    status: JobStatus,
    *,
    message: str | None = None,
    error: str | None = None,
    error_code: JobErrorCode | None = None,
    data: dict[str, Any] | None = None,
) -> None:
    if not job_may(job.status, status):
        raise IllegalTransition(f"job {job.id}: {job.status.value} -> {status.value}")
    job.status = status
    now = utcnow()
    if status is JobStatus.RUNNING and job.started_at is None:
        job.started_at = now
    if status in JOB_FINAL:
        job.finished_at = now
    elif job.finished_at is not None:
        job.finished_at = None
    if error is not None or status is JobStatus.SUCCEEDED:
        job.error, job.error_code = error, error_code
    await _job_event(session, broker, job, message or error, data)


async def _job_event(
    session: AsyncSession,
    broker: Broker,
    job: Job,
    message: str | None,
    data: dict[str, Any] | None,
) -> None:
    await append_event(
        session,
        broker,
        job,
        type="job.status",
        status=job.status.value,
        message=message,
        data={
            "costActualUsd": str(job.cost_actual_usd),
            "outputAssetId": str(job.output_asset_id) if job.output_asset_id else None,
            **(data or {}),
        },
    )


async def set_sub_status(
    session: AsyncSession,
    broker: Broker,
    job: Job,
    sub: SubJob,
    status: SubJobStatus,
    *,
    message: str | None = None,
    error: str | None = None,
    error_code: JobErrorCode | None = None,
    progress: float | None = None,
    data: dict[str, Any] | None = None,
) -> None:
    if not sub_may(sub.status, status):
        raise IllegalTransition(f"sub-job {sub.id}: {sub.status.value} -> {status.value}")
    sub.status = status
    now = utcnow()
    if status in SUB_FINAL or status is SubJobStatus.QUEUED:
        release_after_commit(session, broker, f"provider:{sub.provider}", str(sub.id))
    if status is SubJobStatus.SUBMITTED and sub.started_at is None:
        sub.started_at = now
    if status in SUB_FINAL:
        sub.finished_at = now
    if status is SubJobStatus.SUCCEEDED:
        sub.progress = 1.0
        sub.error = sub.error_code = None
    elif progress is not None:
        sub.progress = progress
    if error is not None:
        sub.error, sub.error_code = error, error_code
    await append_event(
        session,
        broker,
        job,
        sub_job=sub,
        type="subjob.status",
        status=status.value,
        progress=sub.progress,
        message=message or error,
        data={
            "index": sub.index,
            "attempts": sub.attempts,
            "costUsd": str(sub.cost_usd),
            "outputAssetId": str(sub.output_asset_id) if sub.output_asset_id else None,
            **(data or {}),
        },
    )


class ProgressThrottle:
    """At most one progress tick per sub-job per `interval` seconds, in this process.
    Only ticks are thinned: status changes never pass through here."""

    def __init__(
        self, interval: float, clock: Callable[[], float] = time.monotonic, size: int = 10_000
    ) -> None:
        self.interval = interval
        self.clock = clock
        self._last: OrderedDict[uuid.UUID, float] = OrderedDict()
        self._size = size

    def due(self, sub_id: uuid.UUID) -> bool:
        """Whether a tick would pass now, without recording one."""
        last = self._last.get(sub_id)
        return last is None or self.clock() - last >= self.interval

    def allow(self, sub_id: uuid.UUID) -> bool:
        now = self.clock()
        last = self._last.get(sub_id)
        if last is not None and now - last < self.interval:
            return False
        self._last[sub_id] = now
        self._last.move_to_end(sub_id)
        if len(self._last) > self._size:
            self._last.popitem(last=False)
        return True


# One tick a second per sub-job: bars stay live (Replicate itself sends `logs` webhooks
# at most every 500 ms) and a 20-clip job writes 20 progress events a second, not 80.
PROGRESS_THROTTLE = ProgressThrottle(1.0)


async def report_progress(
    session: AsyncSession, broker: Broker, job: Job, sub: SubJob, progress: float | None
) -> bool:
    """A progress tick; returns False (and writes nothing) when it says nothing new, or
    when this sub-job's previous tick was less than PROGRESS_THROTTLE.interval ago."""
    if progress is None or sub.status in SUB_FINAL:
        return False
    progress = max(0.0, min(1.0, progress))
    if sub.progress is not None and progress - sub.progress < 0.01:
        return False
    if not PROGRESS_THROTTLE.allow(sub.id):
        return False
    sub.progress = progress
    await append_event(
        session,
        broker,
        job,
        sub_job=sub,
        type="subjob.progress",
        status=sub.status.value,
        progress=progress,
        data={"index": sub.index},
    )
    return True


def total_cost(subs: list[SubJob]) -> Decimal:
    return sum((s.cost_usd for s in subs), Decimal(0))


async def report_job_progress(
    session: AsyncSession, broker: Broker, job: Job, progress: float, message: str
) -> None:
    """Progress of a job-level step (combining), not tied to one sub-job."""
    await append_event(
        session,
        broker,
        job,
        type="job.progress",
        status=job.status.value,
        progress=max(0.0, min(1.0, progress)),
        message=message,
    )
