"""Which workers are alive, and which sub-jobs each is working on inside itself.

A worker's own work on a sub-job (a create, and for the local provider the whole
render; the download) lives only in that process: when it dies, nothing in the queue
says so until arq's in-progress key expires (the longest task timeout, 15 minutes).
So each worker says it is alive, a Redis key that expires `worker_dead_seconds` after
its last heartbeat, and claims what it works on (a hash field: `sub:<id>` or
`combine:<job id>` -> worker and attempt) before it starts. A claim whose worker's key
has expired is an orphan; `maintenance.resume_orphans` resumes it on a live worker.

Redis, not the database: liveness is worth nothing after a Redis restart anyway (the
queue is gone too), and the reconciler's slower rules still cover that case.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass

import redis.asyncio as aioredis

log = logging.getLogger(__name__)

# Compare-and-delete: a late release must not drop the claim of a newer attempt.
RELEASE = """
if redis.call('HGET', KEYS[1], ARGV[1]) == ARGV[2] then
  return redis.call('HDEL', KEYS[1], ARGV[1])
end
return 0
"""


SUB_JOB, COMBINE = "sub", "combine"  # what a claim is on: a sub-job, a job's join


@dataclass(frozen=True, slots=True)
class Claim:
    kind: str
    ident: uuid.UUID
    worker: str
    attempt: int

    @property
    def field(self) -> str:
        return f"{self.kind}:{self.ident}"

    @property
    def value(self) -> str:
        return f"{self.worker}|{self.attempt}"


class Liveness:
    """One worker process's heartbeat and claims, on the Redis its queue lives in."""

    def __init__(
        self,
        redis: aioredis.Redis,
        *,
        prefix: str,
        heartbeat_seconds: float,
        dead_seconds: float,
        worker_id: str | None = None,
    ) -> None:
        self.redis = redis
        self.prefix = prefix
        self.heartbeat_seconds = heartbeat_seconds
        self.dead_seconds = max(dead_seconds, heartbeat_seconds * 2)  # one late beat is no death
        self.worker_id = worker_id or f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self.claims_key = f"{prefix}:claims"

    def _beat_key(self, worker: str) -> str:
        return f"{self.prefix}:worker:{worker}"

    async def beat(self) -> None:
        await self.redis.set(self._beat_key(self.worker_id), b"1", px=int(self.dead_seconds * 1000))

    async def stop(self) -> None:
        """A worker that stops says so: its claims are orphans at once, not in a minute."""
        await self.redis.delete(self._beat_key(self.worker_id))

    async def claim(self, kind: str, ident: uuid.UUID, attempt: int = 0) -> Claim:
        claim = Claim(kind, ident, self.worker_id, attempt)
        await self.redis.hset(self.claims_key, claim.field, claim.value)  # type: ignore[misc]
        return claim

    async def release(self, claim: Claim) -> None:
        await self.redis.eval(  # type: ignore[misc]
            RELEASE, 1, self.claims_key, claim.field, claim.value
        )

    @asynccontextmanager
    async def holding(self, kind: str, ident: uuid.UUID) -> AsyncIterator[Claim]:
        """Claimed for the block; a cancelled block (the worker is stopping) keeps the
        claim, so that another worker resumes the work once this one is gone."""
        claim = await self.claim(kind, ident)
        stopping = False
        try:
            yield claim
        except asyncio.CancelledError:
            stopping = True
            raise
        finally:
            if not stopping:
                await self.release(claim)

    async def orphans(self) -> list[Claim]:
        """Claims of workers whose heartbeat has expired (never this one's)."""
        raw: dict[bytes | str, bytes | str] = await self.redis.hgetall(self.claims_key)  # type: ignore[misc]
        claims = [c for c in (_parse(k, v) for k, v in raw.items()) if c is not None]
        others = sorted({c.worker for c in claims if c.worker != self.worker_id})
        if not others:
            return []
        async with self.redis.pipeline(transaction=False) as pipe:
            for worker in others:
                pipe.exists(self._beat_key(worker))
            found = await pipe.execute()
        dead = {w for w, alive in zip(others, found, strict=True) if not alive}
        return [c for c in claims if c.worker in dead]

    async def run(self, sweep: Callable[[], Awaitable[object]]) -> None:
        """Beat every `heartbeat_seconds`, and after each beat look for orphans. The
        sweep runs in its own task: a slow database must not delay the heartbeat, or
        live workers would look dead."""
        sweeping: asyncio.Task[object] | None = None
        try:
            while True:
                try:
                    await self.beat()
                except (OSError, aioredis.RedisError) as exc:
                    log.warning("worker %s: heartbeat failed: %s", self.worker_id, exc)
                if sweeping is None or sweeping.done():
                    sweeping = asyncio.create_task(_logged(sweep))
                await asyncio.sleep(self.heartbeat_seconds)
        finally:
            if sweeping is not None:
                sweeping.cancel()


async def _logged(sweep: Callable[[], Awaitable[object]]) -> object:
    try:
        return await sweep()
    except Exception:
        log.exception("resuming orphaned sub-jobs failed; trying again at the next heartbeat")
        return None


def _parse(field: bytes | str, value: bytes | str) -> Claim | None:
    field = field.decode() if isinstance(field, bytes) else field
    value = value.decode() if isinstance(value, bytes) else value
    kind, _, ident = field.partition(":")
    worker, sep, attempt = value.rpartition("|")
    try:
        return Claim(kind, uuid.UUID(ident), worker, int(attempt)) if sep else None
    except ValueError:
        return None
