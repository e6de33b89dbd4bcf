"""What services need from the queue and pub/sub, without importing arq or redis.

Work queued and events published during a unit of work leave only after it commits;
a rollback drops them (`services.uow` runs the hooks).
"""

from __future__ import annotations

from collections.abc import Sequence
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

    async def publish_many(self, messages: Sequence[tuple[str, str]]) -> None:
        """Publish each `(channel, message)`, in order, in one round trip."""
        ...

    def channel(self, kind: str, ident: object) -> str: ...

    async def acquire_slot(self, pool: str, member: str, limit: int) -> bool:
        """Claim one of `limit` slots of `pool` for `member` (idempotent per member)."""
        ...

    async def release_slot(self, pool: str, member: str) -> None: ...

    async def once(self, key: str, ttl_seconds: int) -> bool:
        """True the first time `key` is claimed within `ttl_seconds` (webhook de-duplication)."""
        ...

    async def forget(self, key: str) -> None:
        """Drop a claim made by `once`, so the next claim of `key` succeeds."""
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
    """Everything a transaction publishes leaves after its commit, in order, together."""
    outbox: list[tuple[str, str]] | None = session.info.get("publish")
    if outbox is None:
        outbox = session.info["publish"] = []

        async def send() -> None:
            messages = session.info.pop("publish", [])
            if messages:
                await broker.publish_many(messages)

        after_commit(session, send)
    outbox.append((channel, message))


def abort_after_commit(session: AsyncSession, broker: Broker, job_id: str) -> None:
    async def send() -> None:
        await broker.abort(job_id)

    after_commit(session, send)


def release_after_commit(session: AsyncSession, broker: Broker, pool: str, member: str) -> None:
    async def send() -> None:
        await broker.release_slot(pool, member)

    after_commit(session, send)
