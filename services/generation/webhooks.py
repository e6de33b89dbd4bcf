"""A provider told us a prediction changed: poll it now instead of at the next tick."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from db.models import SubJob
from services.broker import Broker
from services.generation import tasks
from services.generation.state import SUB_FINAL


async def prediction_updated(
    session: AsyncSession, broker: Broker, prediction_id: str, delivery_id: str
) -> bool:
    sub = await session.scalar(select(SubJob).where(SubJob.prediction_id == prediction_id))
    if sub is None:
        return False
    if sub.status not in SUB_FINAL:
        await broker.enqueue(
            tasks.POLL_SUB_JOB, str(sub.id), 0, job_id=f"hook:{sub.id}:{delivery_id}"
        )
    return True
