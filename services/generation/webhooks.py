"""A provider told us a prediction changed: apply what it said at once. The polling chain
keeps running behind it, because only the final webhook is retried."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from db.models import SubJob
from services.broker import Broker
from services.generation import tasks
from services.generation.state import SUB_FINAL


async def prediction_updated(
    session: AsyncSession,
    broker: Broker,
    prediction_id: str,
    body: dict[str, Any],
    delivery_id: str,
) -> bool:
    sub = await session.scalar(select(SubJob).where(SubJob.prediction_id == prediction_id))
    if sub is None:
        return False
    if sub.status not in SUB_FINAL:
        await broker.enqueue(
            tasks.APPLY_WEBHOOK, str(sub.id), body, job_id=f"hook:{sub.id}:{delivery_id}"
        )
    return True
