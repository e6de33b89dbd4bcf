"""A provider told us a prediction changed. News of a running prediction (it started,
it moved on) is applied where the webhook arrives, in the API (`prediction_updated`);
an ended one goes to a worker (`apply_webhook`), which downloads the output or retries.
The polling chain keeps running behind webhooks, because only the final webhook is
retried."""

from __future__ import annotations

import logging
import uuid
from typing import Any

from sqlalchemy import select

from db.models import SubJob
from services.generation import tasks
from services.generation.adoption import adopt_prediction
from services.generation.deps import Core, Deps
from services.generation.faults import sub_job_task
from services.generation.outcome import apply_prediction
from services.generation.running import record_running
from services.generation.state import SUB_FINAL
from services.generation.webhook_urls import Named
from services.providers.base import Prediction, ProviderError

log = logging.getLogger(__name__)


async def prediction_updated(
    core: Core, prediction: Prediction, delivery_id: str, named: Named | None = None
) -> bool:
    """Apply a verified webhook; `named` is the sub-job and attempt its URL names.
    Returns whether a sub-job follows the prediction."""
    async with core.runtime.session_factory() as session:
        sub = await session.scalar(select(SubJob).where(SubJob.prediction_id == prediction.id))
    if sub is None and named is not None:  # a create whose answer we never had
        sub = await adopt_prediction(core, named, prediction)
    if sub is None:
        return False
    if sub.status in SUB_FINAL:
        return True
    if prediction.status.terminal:
        ended = {k: v for k, v in prediction.raw.items() if k != "logs"}  # can be large
        await core.broker.enqueue(
            tasks.APPLY_WEBHOOK, str(sub.id), ended, job_id=f"hook:{sub.id}:{delivery_id}"
        )
    else:
        await record_running(core, sub, prediction, poll_n=None)
    return True


@sub_job_task
async def apply_webhook(deps: Deps, sub_id: uuid.UUID, body: dict[str, Any]) -> None:
    """A verified webhook saying a prediction ended, parsed by the sub-job's provider
    and applied like a poll's news, without starting a chain."""
    async with deps.runtime.session_factory() as session:
        provider = await session.scalar(select(SubJob.provider).where(SubJob.id == sub_id))
    if provider is None:
        return
    try:
        prediction = deps.provider(provider).parse_prediction(body)
    except ProviderError:
        log.warning("sub-job %s: ignoring a webhook body that is not a prediction", sub_id)
        return
    await apply_prediction(deps, sub_id, prediction, poll_n=None, store_id=False)
