"""News of a prediction that is still running (it started, it moved on), from a poll or
a webhook, written only when it says something new; and the schedule of the poll chain
that follows every prediction, behind webhooks too (only their final delivery is
retried)."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from db.base import utcnow
from db.models import Job, SubJob, SubJobStatus
from services.broker import enqueue_after_commit
from services.generation import tasks, webhook_urls
from services.generation.deps import Core
from services.generation.state import (
    PROGRESS_THROTTLE,
    SUB_FINAL,
    age,
    in_play,
    lock_sub_job,
    report_progress,
    set_sub_status,
    sub_may,
)
from services.providers.base import Prediction, PredictionStatus
from services.settings import Settings

HEARTBEAT_SECONDS = 20  # a running sub-job's row is touched at least this often
# With webhooks, polls only catch a lost delivery (Replicate retries the final one):
# the first after 5 s, then backing off to one every 30 s.
WEBHOOK_POLL_INITIAL, WEBHOOK_POLL_MAX = 5.0, 30.0


def poll_delay(settings: Settings, sub: SubJob, n: int) -> float:
    initial, ceiling = settings.poll_initial_seconds, settings.poll_max_seconds
    if webhook_urls.enabled(settings, sub.provider):  # webhooks lead; polls are the safety net
        initial, ceiling = max(initial, WEBHOOK_POLL_INITIAL), max(ceiling, WEBHOOK_POLL_MAX)
    return float(min(initial * (1.5 ** min(n, 20)), ceiling))


def schedule_poll(session: AsyncSession, core: Core, sub: SubJob, n: int) -> None:
    """The chain's poll `n`, queued when this transaction commits."""
    enqueue_after_commit(
        session, core.broker, tasks.POLL_SUB_JOB, str(sub.id), n,
        job_id=tasks.poll_id(sub, n), defer_seconds=poll_delay(core.settings, sub, n),
    )  # fmt: skip


async def next_poll(core: Core, sub: SubJob, n: int, delay: float | None = None) -> None:
    """The chain's poll `n`, queued now (no transaction to wait for)."""
    await core.broker.enqueue(
        tasks.POLL_SUB_JOB, str(sub.id), n,
        job_id=tasks.poll_id(sub, n),
        defer_seconds=delay if delay is not None else poll_delay(core.settings, sub, n),
    )  # fmt: skip


def _nothing_new(sub: SubJob, prediction: Prediction) -> bool:
    """A running prediction with no news worth a write: same state, progress moved
    less than 1% or too soon after the last tick (PROGRESS_THROTTLE), no heartbeat due."""
    if sub.status in SUB_FINAL:
        return True
    if _now_processing(sub, prediction):
        return False
    if age(sub) > HEARTBEAT_SECONDS:
        return False
    progress = prediction.progress
    if progress is None or (sub.progress is not None and progress - sub.progress < 0.01):
        return True
    return not PROGRESS_THROTTLE.due(sub.id)


def _now_processing(sub: SubJob, prediction: Prediction) -> bool:
    return prediction.status is PredictionStatus.PROCESSING and sub_may(
        sub.status, SubJobStatus.PROCESSING
    )


async def record_running(
    core: Core, sub: SubJob, prediction: Prediction, *, poll_n: int | None
) -> None:
    """A poll (`poll_n` set) schedules the next one; a webhook's news is applied by
    whoever received it, with no worker round trip."""
    if _nothing_new(sub, prediction):  # read-only: no transaction, no lock, no event
        if poll_n is not None:
            await next_poll(core, sub, poll_n)
        return
    async with core.transaction() as session:
        found = await lock_sub_job(session, sub.id)
        if found is None:
            return
        job, sub = found
        if not in_play(job, sub):
            return
        if prediction.id != sub.prediction_id:
            return  # news of an earlier attempt's prediction
        await note_running(session, core, job, sub, prediction, poll_n)


async def note_running(
    session: AsyncSession,
    core: Core,
    job: Job,
    sub: SubJob,
    prediction: Prediction,
    poll_n: int | None,
) -> None:
    """Under the sub-job's lock: `processing` once the provider says so, the progress,
    a heartbeat for the reconciler, and the next poll."""
    if _now_processing(sub, prediction):
        await set_sub_status(session, core.broker, job, sub, SubJobStatus.PROCESSING)
    changed = await report_progress(session, core.broker, job, sub, prediction.progress)
    if not changed and age(sub) > HEARTBEAT_SECONDS:
        sub.updated_at = utcnow()  # heartbeat for the reconciler
    if poll_n is not None:
        schedule_poll(session, core, sub, poll_n)
