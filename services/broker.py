"""What services need from the queue and pub/sub, without importing arq or redis.

Work queued and events published during a unit of work leave only after it commits;
a rollback drops them (`services.uow` runs the hooks).
"""

from __future__ import annotations

from typing import Any, Protocol

from sqlalchemy.ext.asyncio import AsyncSession

from services.uow import after_commit


class Broker(Protocol):
    async def enqueue(
        self, task: str, *args: Any, job_id: str | None = None, defer_seconds: float | None = None
    ) -> bool:
        """Queue a task; False when a task with this `job_id` is already queued or running."""
        ...

    async def abort(self, job_id: str) -> None: ...

    async def publish(self, channel: str, message: str) -> None: ...

    def channel(self, kind: str, ident: object) -> str: ...

    async def acquire_slot(self, pool: str, member: str, limit: int) -> bool:
        """Claim one of `limit` slots of `pool` for `member` (idempotent per member)."""
        ...

    async def release_slot(self, pool: str, member: str) -> None: ...

    async def once(self, key: str, ttl_seconds: int) -> bool:
        """True the first time `key` is claimed within `ttl_seconds` (webhook de-duplication)."""
        ...


def enqueue_after_commit(
    session: AsyncSession,
    broker: Broker,
    task: str,
    *args: Any,
    job_id: str | None = None,
    defer_seconds: float | None = None,
) -> None:
    async def send() -> None:
        await broker.enqueue(task, *args, job_id=job_id, defer_seconds=defer_seconds)

    after_commit(session, send)


def publish_after_commit(session: AsyncSession, broker: Broker, channel: str, message: str) -> None:
    async def send() -> None:
        await broker.publish(channel, message)

    after_commit(session, send)


def abort_after_commit(session: AsyncSession, broker: Broker, job_id: str) -> None:
    async def send() -> None:
        await broker.abort(job_id)

    after_commit(session, send)


def release_after_commit(session: AsyncSession, broker: Broker, pool: str, member: str) -> None:
    async def send() -> None:
        await broker.release_slot(pool, member)

    after_commit(session, send)
