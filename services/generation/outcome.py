"""What the provider says about a prediction that was just created or has ended, from
a create's answer, a poll or a webhook: stored, then downloaded when it succeeded, or
tried again (or failed) when it did not."""

from __future__ import annotations

import uuid

from db.models import SubJob, SubJobStatus
from services.generation.completion import cancel_after_commit, retry_or_fail
from services.generation.deps import Deps
from services.generation.download import download
from services.generation.running import note_running
from services.generation.state import age, in_play, lock_sub_job, set_sub_status
from services.providers.base import Prediction, PredictionStatus

DOWNLOAD_STALL_SECONDS = 60  # a download this quiet is taken for dead: news starts another


async def apply_prediction(
    deps: Deps,
    sub_id: uuid.UUID,
    prediction: Prediction,
    *,
    poll_n: int | None,
    store_id: bool,
    attempt: int | None = None,
) -> None:
    """`store_id`: the prediction was just created by `attempt`, and is the sub-job's
    own from now on. `poll_n` None (a webhook) applies the news without scheduling a
    poll."""
    status = prediction.status
    async with deps.transaction() as session:
        found = await lock_sub_job(session, sub_id)
        if found is None:
            return
        job, sub = found
        if store_id and prediction.id != sub.prediction_id and _given_up(sub, attempt):
            # This worker was taken for dead and the sub-job moved on without it.
            if not status.terminal:
                cancel_after_commit(session, deps, job, sub.provider, prediction.id)
            return
        if store_id:
            sub.prediction_id = prediction.id
        elif prediction.id != sub.prediction_id:
            return  # late news of an earlier attempt's prediction
        if not in_play(job, sub):
            if store_id and not status.terminal:
                cancel_after_commit(session, deps, job, sub.provider, prediction.id)
            return
        if status is PredictionStatus.SUCCEEDED:
            if sub.status is SubJobStatus.DOWNLOADING and age(sub) < DOWNLOAD_STALL_SECONDS:
                return  # a webhook and a poll both said so: one download is under way
            await set_sub_status(
                session, deps.broker, job, sub, SubJobStatus.DOWNLOADING,
                message="copying the output into storage",
            )  # fmt: skip
        elif not status.terminal:
            await note_running(session, deps, job, sub, prediction, poll_n)
            return
    if status is PredictionStatus.SUCCEEDED:
        await download(deps, sub_id, prediction)
    else:
        reason = prediction.error or f"the prediction was {status.value}"
        await retry_or_fail(deps, sub_id, reason)


def _given_up(sub: SubJob, attempt: int | None) -> bool:
    """Whether the attempt that made a prediction is no longer the sub-job's own."""
    if attempt is None:
        return False
    return sub.attempts != attempt or sub.status is SubJobStatus.QUEUED
