"""State changes of jobs and sub-jobs. Each writes its row and its JobEvent together."""

from __future__ import annotations

import time
import uuid
from collections import OrderedDict
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from db.base import utcnow
from db.models import Campaign, Job, JobStatus, SubJob, SubJobStatus
from services.broker import Broker, release_after_commit
from services.events import append_event

_FRESH = {"populate_existing": True}  # rows read under a lock replace what the session holds
JOB_FINAL = frozenset({JobStatus.SUCCEEDED, JobStatus.FAILED, JobStatus.CANCELED})
SUB_FINAL = frozenset({SubJobStatus.SUCCEEDED, SubJobStatus.FAILED, SubJobStatus.CANCELED})


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


async def set_job_status(
    session: AsyncSession,
    broker: Broker,
    job: Job,
    status: JobStatus,
    *,
    message: str | None = None,
    error: str | None = None,
    error_code: str | None = None,
    data: dict[str, Any] | None = None,
) -> None:
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
    await append_event(
        session,
        broker,
        job,
        type="job.status",
        status=status.value,
        message=message or error,
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
    error_code: str | None = None,
    progress: float | None = None,
    data: dict[str, Any] | None = None,
) -> None:
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
