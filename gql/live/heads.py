"""Where each job's log ends, cached for a second: a thousand idle watchers of a quiet
job cost one query a second, and a thousand arriving at once share a few (coalesce)."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from gql.live.coalesce import Coalescer
from services.live import JobHead, job_head


class HeadCache:
    def __init__(
        self,
        factory: async_sessionmaker[AsyncSession],
        *,
        ttl: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._factory = factory
        self._ttl = ttl
        self._clock = clock
        self._heads: dict[uuid.UUID, tuple[float, JobHead | None]] = {}
        self._reads: Coalescer[uuid.UUID, JobHead | None] = Coalescer()

    async def job(self, job_id: uuid.UUID, *, fresh: bool = False) -> JobHead | None:
        """The job's head, at most `ttl` old; `fresh`: read after this call began."""
        now = self._clock()
        cached = self._heads.get(job_id)
        if cached is not None and not fresh and now < cached[0]:
            return cached[1]

        async def read() -> JobHead | None:
            async with self._factory() as session:
                return await job_head(session, job_id)

        head = await self._reads.run(job_id, read)
        if len(self._heads) > 1000:
            self._heads = {k: v for k, v in self._heads.items() if v[0] > now}
        self._heads[job_id] = (self._clock() + self._ttl, head)
        return head
