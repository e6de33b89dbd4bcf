"""The poll task: ask the provider about a sub-job's prediction, apply the answer, and
queue the next poll while it runs (`running.poll_delay` says when)."""

from __future__ import annotations

import uuid

from db.models import Job, SubJob
from services.generation.completion import retry_or_fail
from services.generation.deps import Deps
from services.generation.faults import sub_job_task
from services.generation.outcome import apply_prediction
from services.generation.running import next_poll, record_running
from services.generation.state import in_play
from services.providers.base import ProviderError


@sub_job_task
async def poll_sub_job(deps: Deps, sub_id: uuid.UUID, n: int) -> None:
    async with deps.runtime.session_factory() as session:
        sub = await session.get(SubJob, sub_id)
        job = await session.get(Job, sub.job_id) if sub else None
        if sub is None or job is None or not in_play(job, sub) or not sub.prediction_id:
            return
    try:
        prediction = await deps.provider(sub.provider).get(sub.prediction_id)
    except ProviderError as exc:
        if not exc.retryable:
            await retry_or_fail(deps, sub_id, str(exc))
            return
        await next_poll(deps, sub, n + 1, exc.retry_after)
        return
    if prediction.status.terminal:
        await apply_prediction(deps, sub_id, prediction, poll_n=n + 1, store_id=False)
    else:  # `sub` was read before the request: stale only in ways that cause a write
        await record_running(deps, sub, prediction, poll_n=n + 1)
