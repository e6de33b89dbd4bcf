"""Housekeeping tasks: cancel predictions of canceled jobs, resume the sub-jobs of dead
workers, and re-enqueue work whose task was lost (a killed worker's job only returns
after its in-progress key expires, the longest task timeout plus 10 s)."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Sequence
from datetime import timedelta

from sqlalchemy import and_, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from db.base import utcnow
from db.models import Job, JobKind, JobStatus, SubJob, SubJobStatus
from services.broker import enqueue_after_commit
from services.generation import faults, tasks
from services.generation.completion import fail_now
from services.generation.deps import Deps
from services.generation.error_codes import JobErrorCode
from services.generation.liveness import COMBINE, SUB_JOB, Claim, Liveness
from services.generation.state import RUNNABLE, in_play, lock_sub_job, set_sub_status
from services.providers.base import ProviderError

log = logging.getLogger(__name__)
OPEN_SUB = (
    SubJobStatus.QUEUED,
    SubJobStatus.SUBMITTED,
    SubJobStatus.PROCESSING,
    SubJobStatus.DOWNLOADING,
)


async def cancel_predictions(
    deps: Deps, job_id: uuid.UUID, unwanted: Sequence[Sequence[str]] = ()
) -> int:
    """Cancel the predictions of the job's canceled sub-jobs; with `unwanted` given,
    only those ((provider, prediction id) pairs nobody wants, such as a lost create's)."""
    targets: list[tuple[str, str | None]] = [(p, i) for p, i in unwanted]
    if not targets:
        async with deps.runtime.session_factory() as session:
            stmt = select(SubJob).where(
                SubJob.job_id == job_id,
                SubJob.status == SubJobStatus.CANCELED,
                SubJob.prediction_id.is_not(None),
            )
            targets = [(s.provider, s.prediction_id) for s in await session.scalars(stmt)]
    canceled = 0
    for provider, prediction_id in targets:
        assert prediction_id is not None
        try:
            await deps.provider(provider).cancel(prediction_id)
            canceled += 1
        except ProviderError as exc:
            log.warning("could not cancel prediction %s: %s", prediction_id, exc)
    return canceled


async def resume_orphans(deps: Deps, liveness: Liveness) -> int:
    """Resume the sub-jobs and joins that dead workers had claimed (`liveness`); every
    worker runs this after each heartbeat. Safe to run anywhere at once: a sub-job is
    resumed under its lock, once, and only if it is still at the dead worker's attempt;
    a join under an id of its own (the dead one's stays taken until arq's expiry)."""
    resumed = 0
    for claim in await liveness.orphans():
        resume = {SUB_JOB: _resume_sub_job, COMBINE: _resume_combine}.get(claim.kind)
        try:
            if resume is not None and await resume(deps, claim):
                resumed += 1
        except Exception as exc:
            if claim.kind != SUB_JOB:
                raise  # the claim stays: the next heartbeat tries again
            # Not at every heartbeat forever: a failed attempt of the sub-job.
            await faults.sub_job_failed(deps, claim.ident, exc, "resuming")
        await liveness.release(claim)
    return resumed


async def _resume_combine(deps: Deps, claim: Claim) -> bool:
    async with deps.runtime.session_factory() as session:
        job = await session.get(Job, claim.ident)
        if job is None or job.status is not JobStatus.COMBINING:
            return False
    log.warning("job %s: worker %s is gone mid-join; joining again", job.id, claim.worker)
    return await deps.broker.enqueue(
        tasks.COMBINE_JOB, str(job.id), job_id=f"combine:{job.id}:{claim.worker}"
    )


async def _resume_sub_job(deps: Deps, claim: Claim) -> bool:
    async with deps.transaction() as session:
        found = await lock_sub_job(session, claim.ident)
        if found is None:
            return False
        job, sub = found
        if (
            not in_play(job, sub)
            or sub.status is SubJobStatus.QUEUED
            or sub.attempts != claim.attempt
        ):
            return False  # it moved on without that worker
        log.warning("sub-job %s: worker %s is gone; resuming", sub.id, claim.worker)
        return await resume_lost(
            session, deps, job, sub, f"its worker {claim.worker} stopped answering"
        )


async def resume_lost(
    session: AsyncSession, deps: Deps, job: Job, sub: SubJob, reason: str
) -> bool:
    """Under the sub-job's lock: the worker that worked on it is gone. A stored
    prediction is followed (never paid for twice); a create that died with its worker is
    made again only where that is free (a local render: rendering again is the resume),
    and counts as an attempt, so a render that kills its workers ends. A paid create is
    left to the SUBMIT_LOST_SECONDS rule: it may have reached the provider. Returns
    whether the sub-job was resumed."""
    if sub.prediction_id:
        enqueue_after_commit(
            session, deps.broker, tasks.RUN_SUB_JOB, str(sub.id),
            job_id=f"{tasks.run_id(sub)}:resume",
        )  # fmt: skip
        return True
    if not getattr(deps.providers.get(sub.provider), "rerun_is_free", False):
        log.warning("sub-job %s: %s during a create; waiting for its answer", sub.id, reason)
        return False
    if sub.attempts >= deps.settings.max_attempts:
        reason = f"{reason} ({sub.attempts} attempts)"
        await fail_now(session, deps, job, sub, reason, JobErrorCode.WORKER_LOST)
        return True
    await set_sub_status(
        session, deps.broker, job, sub, SubJobStatus.QUEUED,
        message=f"attempt {sub.attempts} stopped: {reason}; rendering again",
    )  # fmt: skip
    enqueue_after_commit(
        session, deps.broker, tasks.RUN_SUB_JOB, str(sub.id), job_id=tasks.run_id(sub)
    )
    return True


JOB_STEPS: dict[tuple[JobStatus, JobKind | None], tuple[str, Callable[[uuid.UUID], str]]] = {
    (JobStatus.COMBINING, None): (tasks.COMBINE_JOB, tasks.combine_id),
    (JobStatus.QUEUED, JobKind.PAIR_VIDEO): (tasks.SELECT_PAIRS, tasks.pairs_id),
    (JobStatus.QUEUED, JobKind.STORYBOARD_WRITING): (tasks.WRITE_STORYBOARD, tasks.writing_id),
    (JobStatus.QUEUED, JobKind.EXPORT): (tasks.EXPORT_VIDEO, tasks.export_id),
    (JobStatus.RUNNING, JobKind.EXPORT): (tasks.EXPORT_VIDEO, tasks.export_id),
}
"""A job's own step, by the status it waits in (and its kind): what to enqueue again when
nothing has touched the job for a while, its task lost with a worker."""


async def reconcile(deps: Deps, liveness: Liveness | None = None) -> int:
    """Re-enqueue stale work under its deterministic id: arq drops the duplicate when
    the original task is still queued or running, so only lost work runs again. Also
    frees provider slots held by sub-jobs that have ended, and (with `liveness`)
    resumes dead workers' sub-jobs."""
    resumed = await resume_orphans(deps, liveness) if liveness is not None else 0
    stale_after = timedelta(seconds=deps.runtime.settings.reconcile_stale_seconds)
    cutoff = utcnow() - stale_after
    await _free_slots(deps)
    enqueued = 0
    async with deps.runtime.session_factory() as session:
        subs = await session.scalars(
            select(SubJob)
            .join(Job, Job.id == SubJob.job_id)
            .where(
                Job.status.in_(RUNNABLE),  # queued: never started
                SubJob.status.in_(OPEN_SUB),
                SubJob.updated_at < cutoff,
            )
        )
        for sub in subs:
            await deps.broker.enqueue(tasks.RUN_SUB_JOB, str(sub.id), job_id=tasks.run_id(sub))
            enqueued += 1
        waiting = or_(
            Job.status.in_((JobStatus.COMBINING, JobStatus.QUEUED)),
            and_(Job.status == JobStatus.RUNNING, Job.kind == JobKind.EXPORT),
        )
        jobs = await session.scalars(select(Job).where(waiting, Job.updated_at < cutoff))
        for job in jobs:
            step = JOB_STEPS.get((job.status, job.kind)) or JOB_STEPS.get((job.status, None))
            if step is not None:
                task, task_id = step
                await deps.broker.enqueue(task, str(job.id), job_id=task_id(job.id))
                enqueued += 1
    return resumed + enqueued


async def _free_slots(deps: Deps) -> None:
    members_of = getattr(deps.broker, "slot_members", None)
    if members_of is None:
        return
    for provider in deps.providers:
        pool = f"provider:{provider}"
        members = await members_of(pool)
        if not members:
            continue
        async with deps.runtime.session_factory() as session:
            ids = [uuid.UUID(m) for m in members]
            open_ids = set(
                await session.scalars(
                    select(SubJob.id).where(SubJob.id.in_(ids), SubJob.status.in_(OPEN_SUB))
                )
            )
        for member_id in ids:
            if member_id not in open_ids:
                await deps.broker.release_slot(pool, str(member_id))
