"""How a sub-job's attempt ends: another try after a backoff, or the sub-job fails; and
when the last sub-job of a job ends, the job moves on (combining, done, failed)."""

from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from db.models import Job, JobKind, JobStatus, SubJob, SubJobStatus
from services.broker import enqueue_after_commit
from services.generation import tasks
from services.generation.deps import Core
from services.generation.error_codes import JobErrorCode
from services.generation.state import (
    SUB_FINAL,
    in_play,
    lock_sub_job_and_job,
    set_job_status,
    set_sub_status,
    sub_jobs_of,
    total_cost,
)
from services.settings import Settings

COMBINED = frozenset({JobKind.PAIR_VIDEO, JobKind.STORYBOARD})
"""Jobs whose sub-jobs' outputs are joined into one video when all have succeeded."""


async def retry_or_fail(
    core: Core,
    sub_id: uuid.UUID,
    reason: str,
    *,
    retry_after: float | None = None,
    count_attempt: bool = True,
    code: JobErrorCode = JobErrorCode.PROVIDER_ERROR,
) -> None:
    """Queue the sub-job for another attempt after a backoff, or fail it with `code` once
    it has had `max_attempts`. `count_attempt=False`: the provider refused before starting
    anything (a 429), so the try is given back."""
    async with core.transaction() as session:
        found = await lock_sub_job_and_job(session, sub_id)
        if found is None:
            return
        job, sub = found
        if not in_play(job, sub) or sub.status is SubJobStatus.QUEUED:
            return  # it ended, or has been queued for its next try meanwhile
        if not count_attempt:
            sub.attempts = max(0, sub.attempts - 1)
        if sub.attempts >= core.settings.max_attempts:
            await fail_now(session, core, job, sub, reason, code)
            return
        what = f"attempt {sub.attempts} failed" if count_attempt else "refused"
        # A given-back try's id may be this very task's: queue it under a new one.
        job_id = tasks.run_id(sub) if count_attempt else tasks.wait_id(sub)
        await requeue(session, core, job, sub, what, reason, job_id, retry_after)


async def requeue(
    session: AsyncSession,
    core: Core,
    job: Job,
    sub: SubJob,
    what: str,
    reason: str,
    job_id: str,
    retry_after: float | None = None,
) -> None:
    """Back to `queued`, its prediction forgotten, and run again after a backoff."""
    delay = retry_after or backoff(core.settings, sub.attempts)
    sub.prediction_id = None
    await set_sub_status(
        session, core.broker, job, sub, SubJobStatus.QUEUED,
        message=f"{what}: {reason}; retrying in {delay:g}s",
    )  # fmt: skip
    enqueue_after_commit(
        session, core.broker, tasks.RUN_SUB_JOB, str(sub.id), job_id=job_id, defer_seconds=delay
    )


def backoff(settings: Settings, attempts: int) -> float:
    """Seconds to wait before the try after `attempts` failed ones."""
    return float(settings.retry_backoff_seconds * 2 ** max(0, attempts - 1))


async def fail_now(
    session: AsyncSession, core: Core, job: Job, sub: SubJob, reason: str, code: JobErrorCode
) -> None:
    await set_sub_status(
        session, core.broker, job, sub, SubJobStatus.FAILED, error=reason, error_code=code
    )
    await after_sub_job(session, core, job)


def cancel_after_commit(
    session: AsyncSession, core: Core, job: Job, provider: str, prediction_id: str
) -> None:
    """Have a worker cancel a prediction nobody wants, once this transaction (which may
    remember it) has committed: a failing cancel must not undo that write."""
    enqueue_after_commit(
        session, core.broker, tasks.CANCEL_PREDICTIONS, str(job.id), [[provider, prediction_id]],
        job_id=f"cancel:{prediction_id}",
    )  # fmt: skip


async def after_sub_job(session: AsyncSession, core: Core, job: Job) -> None:
    """A sub-job ended: start what waited on it, and end the job when all have ended."""
    broker = core.broker
    subs = await sub_jobs_of(session, job.id)
    job.cost_actual_usd = total_cost(subs)
    for sub in subs:
        source_index = sub.input.get("image_from_sub_job")
        if sub.status is not SubJobStatus.QUEUED or source_index is None:
            continue
        source = subs[int(source_index)]
        if source.status is SubJobStatus.SUCCEEDED:
            enqueue_after_commit(
                session, broker, tasks.RUN_SUB_JOB, str(sub.id), job_id=tasks.run_id(sub)
            )
        elif source.status in SUB_FINAL:
            await set_sub_status(
                session, broker, job, sub, SubJobStatus.CANCELED,
                message="its start image could not be made",
            )  # fmt: skip
    if any(s.status not in SUB_FINAL for s in subs):
        return
    failed = [s for s in subs if s.status is not SubJobStatus.SUCCEEDED]
    if job.kind in COMBINED:
        if not failed:
            await set_job_status(
                session, broker, job, JobStatus.COMBINING, message="combining the clips"
            )
            enqueue_after_commit(
                session, broker, tasks.COMBINE_JOB, str(job.id), job_id=tasks.combine_id(job.id)
            )
            return
        first = failed[0]
        await set_job_status(
            session, broker, job, JobStatus.FAILED, error_code=JobErrorCode.SUBJOBS_FAILED,
            error=f"{len(failed)} of {len(subs)} sub-jobs failed "
            f"(#{first.index + 1}: {first.error}); retry them to finish the video",
        )  # fmt: skip
        return
    last = subs[-1]
    if last.status is SubJobStatus.SUCCEEDED:
        job.output_asset_id = last.output_asset_id
        await set_job_status(session, broker, job, JobStatus.SUCCEEDED, message="done")
    else:
        await set_job_status(
            session, broker, job, JobStatus.FAILED,
            error=failed[0].error or "the generation failed",
            error_code=JobErrorCode.SUBJOBS_FAILED,
        )  # fmt: skip
