"""The arq-backed Broker: the queue, job aborts, and Redis pub/sub for live events."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Sequence
from typing import Any

from arq.connections import ArqRedis
from arq.jobs import Job as ArqJob
from arq.jobs import ResultNotFound

log = logging.getLogger(__name__)

# A counting semaphore shared by every worker: a set of the members holding a slot.
ACQUIRE_SLOT = """
if redis.call('SISMEMBER', KEYS[1], ARGV[1]) == 1 then return 1 end
if redis.call('SCARD', KEYS[1]) < tonumber(ARGV[2]) then
  redis.call('SADD', KEYS[1], ARGV[1])
  return 1
end
return 0
"""


class ArqBroker:
    def __init__(self, pool: ArqRedis, *, prefix: str) -> None:
        self.pool = pool
        self.prefix = prefix
        self.queue_name = f"{prefix}:queue"

    def channel(self, kind: str, ident: object) -> str:
        return f"{self.prefix}:{kind}:{ident}"

    async def enqueue(
        self, task: str, *args: Any, job_id: str | None = None, defer_seconds: float | None = None
    ) -> bool:
        job = await self.pool.enqueue_job(
            task,
            *args,
            _job_id=job_id,
            _queue_name=self.queue_name,
            _defer_by=defer_seconds if defer_seconds else None,
        )
        if job is None:
            log.debug("task %s already queued or running; not enqueued again", job_id)
        return job is not None

    async def abort(self, job_id: str) -> None:
        job = ArqJob(job_id, self.pool, _queue_name=self.queue_name)
        # The abort is requested at once; the worker cancels the task if it runs.
        with contextlib.suppress(TimeoutError, ResultNotFound):
            await job.abort(timeout=0)

    async def publish(self, channel: str, message: str) -> None:
        await self.pool.publish(channel, message)

    async def publish_many(self, messages: Sequence[tuple[str, str]]) -> None:
        async with self.pool.pipeline(transaction=False) as pipe:
            for channel, message in messages:
                pipe.publish(channel, message)
            await pipe.execute()

    async def acquire_slot(self, pool: str, member: str, limit: int) -> bool:
        claimed = await self.pool.eval(  # type: ignore[misc]
            ACQUIRE_SLOT, 1, f"{self.prefix}:slots:{pool}", member, str(limit)
        )
        return bool(claimed)

    async def release_slot(self, pool: str, member: str) -> None:
        await self.pool.srem(f"{self.prefix}:slots:{pool}", member)  # type: ignore[misc]

    async def slot_members(self, pool: str) -> set[str]:
        members = await self.pool.smembers(f"{self.prefix}:slots:{pool}")  # type: ignore[misc]
        return {m.decode() if isinstance(m, bytes) else str(m) for m in members}

    async def once(self, key: str, ttl_seconds: int) -> bool:
        claimed = await self.pool.set(f"{self.prefix}:once:{key}", b"1", nx=True, ex=ttl_seconds)
        return bool(claimed)

    async def forget(self, key: str) -> None:
        await self.pool.delete(f"{self.prefix}:once:{key}")
