"""A provider told us a prediction changed. News of a running prediction (it started,
it moved on) is applied here at once; an ended one goes to a worker, which downloads
the output or retries. The polling chain keeps running behind webhooks, because only
the final webhook is retried."""

from __future__ import annotations

from sqlalchemy import select

from db.models import SubJob
from services.broker import Broker
from services.generation import tasks
from services.generation.runner import adopt_prediction, record_running
from services.generation.state import SUB_FINAL
from services.generation.webhook_urls import Named
from services.providers.base import Prediction
from services.runtime import Runtime


async def prediction_updated(
    runtime: Runtime,
    broker: Broker,
    prediction: Prediction,
    delivery_id: str,
    named: Named | None = None,
) -> bool:
    """Apply a verified webhook; `named` is the sub-job and attempt its URL names."""
    async with runtime.session_factory() as session:
        sub = await session.scalar(select(SubJob).where(SubJob.prediction_id == prediction.id))
    if sub is None and named is not None:  # a create whose answer we never had
        sub = await adopt_prediction(runtime, broker, named, prediction)
    if sub is None:
        return False
    if sub.status in SUB_FINAL:
        return True
    if prediction.status.terminal:
        ended = {k: v for k, v in prediction.raw.items() if k != "logs"}  # can be large
        await broker.enqueue(
            tasks.APPLY_WEBHOOK, str(sub.id), ended, job_id=f"hook:{sub.id}:{delivery_id}"
        )
    else:
        await record_running(runtime, broker, sub, prediction, poll_n=None)
    return True
