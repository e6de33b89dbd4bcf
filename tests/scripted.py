"""Jobs whose progress log the test writes itself, through the real `append_event`
(same transaction, same channels, published after commit), so live subscriptions can
be checked event by event, losses and duplicates included."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from db.models import Job, JobKind, JobStatus
from services.broker import Broker
from services.events import append_event
from services.runtime import Runtime
from services.uow import unit_of_work
from tests.client import decode_gid


class MuteBroker:
    """A broker whose publishes vanish: Redis losing the message."""

    def __init__(self, inner: Broker) -> None:
        self.inner = inner

    def channel(self, kind: str, ident: object) -> str:
        return self.inner.channel(kind, ident)

    async def publish(self, channel: str, message: str) -> None:
        return None

    async def publish_many(self, messages: Sequence[tuple[str, str]]) -> None:
        return None


async def scripted_job(runtime: Runtime, campaign_gid: str) -> uuid.UUID:
    async with unit_of_work(runtime.session_factory) as session:
        job = Job(
            campaign_id=decode_gid(campaign_gid), kind=JobKind.IMAGE, status=JobStatus.RUNNING
        )
        session.add(job)
        await session.flush()
        return job.id


async def emit(
    runtime: Runtime,
    broker: Any,
    job_id: uuid.UUID,
    *,
    progress: float | None = None,
    status: JobStatus | None = None,
    message: str | None = None,
) -> int:
    """Append one event (a job.progress tick, or a job.status change); its seq."""
    async with unit_of_work(runtime.session_factory) as session:
        job = await session.get(Job, job_id)
        assert job is not None
        if status is not None:
            job.status = status
        event = await append_event(
            session,
            broker,
            job,
            type="job.status" if status is not None else "job.progress",
            status=job.status.value,
            progress=progress,
            message=message,
        )
        return event.seq
