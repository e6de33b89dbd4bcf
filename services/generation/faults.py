"""Unexpected errors in a task (a bug, not a provider's failure).

Left to arq, such a task just ends: its sub-job stays `running`, the reconciler runs it
again every 30 s, and the traceback fills the log forever. Here the error counts as a
failed attempt instead, so after `max_attempts` the sub-job (or, for a job's own step,
the job) ends FAILED with INTERNAL_ERROR. People see a reference, not the error; the
log has the traceback once per job and bug (its type and where it was raised), and a
line for each later sighting.
"""

from __future__ import annotations

import functools
import hashlib
import logging
import traceback
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Concatenate, ParamSpec

from db.models import JobStatus, SubJobStatus
from services.broker import Broker, enqueue_after_commit
from services.generation import tasks
from services.generation.completion import (
    backoff,
    cancel_after_commit,
    fail_now,
    requeue,
)
from services.generation.deps import Deps
from services.generation.error_codes import JobErrorCode
from services.generation.state import (
    in_play,
    lock_job,
    lock_sub_job_and_job,
    set_job_status,
)

log = logging.getLogger(__name__)
P = ParamSpec("P")
SubJobStep = Callable[Concatenate[Deps, uuid.UUID, P], Awaitable[None]]
JobStep = Callable[[Deps, uuid.UUID, int], Awaitable[None]]
TRACEBACK_ONCE_SECONDS = 24 * 3600  # a bug's traceback, once per job in this window


def sub_job_task(step: SubJobStep[P]) -> SubJobStep[P]:
    """A task on one sub-job (`step(deps, sub_id, ...)`) whose unexpected errors count
    as failed attempts of that sub-job."""

    @functools.wraps(step)
    async def guarded(deps: Deps, sub_id: uuid.UUID, /, *args: P.args, **kwargs: P.kwargs) -> None:
        try:
            await step(deps, sub_id, *args, **kwargs)
        except Exception as exc:
            await sub_job_failed(deps, sub_id, exc, step.__name__)

    return guarded


async def sub_job_failed(deps: Deps, sub_id: uuid.UUID, exc: Exception, step: str) -> None:
    """`step` on the sub-job raised `exc` unexpectedly: count the failed attempt, and
    report it. Raises when the attempt cannot be counted (the database is away, say)."""
    ref = uuid.uuid4().hex[:8]
    what = f"{step} of sub-job {sub_id}"
    try:
        job_id = await _sub_job_attempt_failed(deps, sub_id, ref)
    except Exception:
        _log(exc, what, ref, first=True)
        raise
    await _report(deps.broker, exc, what, ref, job_id)


@dataclass(frozen=True, slots=True)
class _JobStep:
    status: JobStatus  # the job's status while the step runs
    label: str  # the step, for people
    task: str
    task_id: Callable[[uuid.UUID, int], str]  # the arq id of its attempt


def job_task(
    status: JobStatus, label: str, task: str, task_id: Callable[[uuid.UUID, int], str]
) -> Callable[[JobStep], JobStep]:
    """A job's own step (`step(deps, job_id, attempt)`, run while the job is `status`;
    `label` names it for people) whose unexpected errors run it again as `task` under
    `task_id(job, attempt + 1)`, up to `max_attempts`, and then fail the job."""

    described = _JobStep(status, label, task, task_id)

    def wrap(step: JobStep) -> JobStep:
        @functools.wraps(step)
        async def guarded(deps: Deps, job_id: uuid.UUID, attempt: int = 1) -> None:
            try:
                await step(deps, job_id, attempt)
            except Exception as exc:
                ref = uuid.uuid4().hex[:8]
                what = f"{step.__name__} of job {job_id} (attempt {attempt})"
                try:
                    await _job_attempt_failed(deps, job_id, attempt, ref, described)
                except Exception:
                    _log(exc, what, ref, first=True)
                    raise
                await _report(deps.broker, exc, what, ref, job_id)

        return guarded

    return wrap


def _reason(ref: str) -> str:
    return f"an internal error (ref {ref}); the server log has the details"


async def _sub_job_attempt_failed(deps: Deps, sub_id: uuid.UUID, ref: str) -> uuid.UUID | None:
    """Count the failed attempt: another one after a backoff, or the sub-job fails.
    Returns the sub-job's job id."""
    async with deps.transaction() as session:
        found = await lock_sub_job_and_job(session, sub_id)
        if found is None:
            return None
        job, sub = found
        if not in_play(job, sub):
            return job.id
        if sub.prediction_id:  # nobody follows it from here
            cancel_after_commit(session, deps, job, sub.provider, sub.prediction_id)
        queued = sub.status is SubJobStatus.QUEUED
        if queued:
            sub.attempts += 1  # it failed before its submission was written
        reason = _reason(ref)
        if sub.attempts >= deps.settings.max_attempts:
            await fail_now(session, deps, job, sub, reason, JobErrorCode.INTERNAL_ERROR)
        elif queued:  # still queued: its next try needs no transition
            enqueue_after_commit(
                session, deps.broker, tasks.RUN_SUB_JOB, str(sub.id),
                job_id=tasks.run_id(sub), defer_seconds=backoff(deps.settings, sub.attempts),
            )  # fmt: skip
        else:
            what = f"attempt {sub.attempts} failed"
            await requeue(session, deps, job, sub, what, reason, tasks.run_id(sub))
        return job.id


async def _job_attempt_failed(
    deps: Deps, job_id: uuid.UUID, attempt: int, ref: str, step: _JobStep
) -> None:
    """Count the failed attempt of a job's step: another one after a backoff, or the
    job fails."""
    async with deps.transaction() as session:
        job = await lock_job(session, job_id)
        if job is None or job.status is not step.status:
            return  # it moved on meanwhile
        if attempt < deps.settings.max_attempts:
            enqueue_after_commit(
                session, deps.broker, step.task, str(job_id), attempt + 1,
                job_id=step.task_id(job_id, attempt + 1),
                defer_seconds=backoff(deps.settings, attempt),
            )  # fmt: skip
            return
        await set_job_status(
            session, deps.broker, job, JobStatus.FAILED,
            error=f"{step.label} failed: {_reason(ref)}", error_code=JobErrorCode.INTERNAL_ERROR,
        )  # fmt: skip


def fingerprint(exc: BaseException) -> str:
    """The bug's type and the line that raised it: the same bug has the same print."""
    frames = traceback.extract_tb(exc.__traceback__)
    where = f"{frames[-1].filename}:{frames[-1].lineno}" if frames else "?"
    return f"{type(exc).__module__}.{type(exc).__qualname__} at {where}"


async def _report(
    broker: Broker, exc: Exception, what: str, ref: str, job_id: uuid.UUID | None
) -> None:
    """The traceback the first time this job meets this bug; a line every later time."""
    digest = hashlib.sha256(fingerprint(exc).encode()).hexdigest()[:16]
    try:
        first = await broker.once(f"bug:{job_id}:{digest}", TRACEBACK_ONCE_SECONDS)
    except Exception:  # Redis away: better twice than never
        first = True
    _log(exc, what, ref, first=first)


def _log(exc: Exception, what: str, ref: str, *, first: bool) -> None:
    if first:
        log.error("%s failed unexpectedly (ref %s)", what, ref, exc_info=exc)
    else:
        log.error(
            "%s failed unexpectedly (ref %s) with %r: %s; its traceback was logged before",
            what, ref, exc, fingerprint(exc),
        )  # fmt: skip
