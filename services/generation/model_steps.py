"""A job's own step that asks a language model (pair selection, storyboard writing):
when the model fails, the step runs again after a backoff while trying again may help,
else the job fails with the step's code."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass

from db.models import JobStatus
from services.broker import enqueue_after_commit
from services.generation.deps import Deps
from services.generation.error_codes import JobErrorCode
from services.generation.state import lock_job, set_job_status
from services.llm import LlmError


@dataclass(frozen=True, slots=True)
class ModelStep:
    label: str  # for people: "pair selection"
    task: str
    task_id: Callable[[uuid.UUID, int], str]  # the arq id of an attempt
    code: JobErrorCode
    max_attempts: int = 3


async def model_failed(
    deps: Deps, step: ModelStep, job_id: uuid.UUID, exc: LlmError, attempt: int
) -> None:
    """The step's model call failed on `attempt`: queue the next, or fail the job (which
    must still be `queued`, as it is while its step runs)."""
    async with deps.transaction() as session:
        job = await lock_job(session, job_id)
        if job is None or job.status is not JobStatus.QUEUED:
            return
        if exc.retryable and attempt < step.max_attempts:
            delay = exc.retry_after or deps.runtime.settings.retry_backoff_seconds * attempt
            enqueue_after_commit(
                session, deps.broker, step.task, str(job_id), attempt + 1,
                job_id=step.task_id(job_id, attempt + 1), defer_seconds=delay,
            )  # fmt: skip
            return
        await set_job_status(
            session, deps.broker, job, JobStatus.FAILED,
            error=f"{step.label} failed: {exc.message}", error_code=step.code,
        )  # fmt: skip
