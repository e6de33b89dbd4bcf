"""Reads of the progress log for live subscriptions, shared and throttled.

After a Redis reconnect, or when a thousand sockets subscribe at once, every feed of a
job wants the same page of its log at the same moment. Identical reads are made once
and shared (their LiveEvents too, so each is also rendered once per cohort), and a
storm queues here rather than exhausting the database pool (see coalesce).
"""

from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from gql.live.coalesce import Coalescer
from gql.live.live_event import LiveEvent
from services.events import events_after

Key = tuple[uuid.UUID, int, int]


class LogReads:
    def __init__(self, factory: async_sessionmaker[AsyncSession], concurrency: int = 4) -> None:
        self._factory = factory
        self._reads: Coalescer[Key, list[LiveEvent]] = Coalescer(concurrency)

    async def page(
        self, job_id: uuid.UUID, campaign_id: uuid.UUID, after: int, limit: int
    ) -> list[LiveEvent]:
        """Up to `limit` logged events of a job with seq > after, oldest first."""

        async def read() -> list[LiveEvent]:
            async with self._factory() as session:
                rows = await events_after(session, job_id, after, limit)
            return [LiveEvent.from_row(row, campaign_id) for row in rows]

        return await self._reads.run((job_id, after, limit), read)
