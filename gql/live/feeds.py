"""Feeds that lose nothing: subscribe to Redis first, replay the log after the client's
last `seq`, then follow Redis, dropping any `seq` already delivered and refilling any
gap (or any doubt: a reconnect, an overflow, a long silence) from the database."""

from __future__ import annotations

import uuid
from collections.abc import AsyncGenerator, Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from db.base import utcnow
from gql.live.cursor import CampaignCursor, JobCursor
from gql.live.heads import HeadCache
from gql.live.hub import Hub
from gql.live.inbox import Inbox, Signal
from gql.live.lanes import Lanes
from gql.live.live_event import LiveEvent
from gql.live.reads import LogReads
from services import live as log
from services.eta import EtaEstimator

PAGE = 500
Source = Callable[[str], AbstractAsyncContextManager[Inbox[LiveEvent]]]
"""Where a feed listens: the hub directly, or its cohort's lane (see lanes)."""
# Jobs touched this long before a campaign watcher arrived count as already seen.
CLOCK_SLACK = timedelta(seconds=5)


@dataclass(frozen=True, slots=True)
class LiveStats:
    """What this process holds for live subscriptions; all zero (but the hub's reader
    task) once every socket has gone."""

    channels: int
    """Channels subscribed in Redis: one per channel, however many listen."""
    subscribers: int
    """Live subscriptions: lane members plus feeds listening to the hub directly."""
    lanes: int
    tasks: int
    """The hub's reader and one task per lane."""
    connected: bool
    reconnects: int


@dataclass(eq=False)
class Live:
    """What live subscriptions share in one API process."""

    hub: Hub[LiveEvent]
    factory: async_sessionmaker[AsyncSession]
    channel: Callable[[str, object], str]
    eta: EtaEstimator | None = None
    idle_resync: float = 10.0
    inbox_limit: int = 1000
    heads: HeadCache = field(init=False)
    lanes: Lanes = field(init=False)
    reads: LogReads = field(init=False)

    def __post_init__(self) -> None:
        self.heads = HeadCache(self.factory)
        self.lanes = Lanes(self.hub)
        self.reads = LogReads(self.factory)

    def stats(self) -> LiveStats:
        hub = self.hub.stats()
        lanes, members = self.lanes.stats()
        return LiveStats(
            channels=hub.channels,
            subscribers=hub.subscribers - lanes + members,
            lanes=lanes,
            tasks=hub.tasks + lanes,
            connected=hub.connected,
            reconnects=hub.reconnects,
        )

    async def events(
        self, job_id: uuid.UUID, campaign_id: uuid.UUID, after: int, before: int | None = None
    ) -> AsyncGenerator[LiveEvent, None]:
        """Logged events of a job with after < seq (< before), oldest first."""
        while before is None or after + 1 < before:
            limit = PAGE if before is None else min(PAGE, before - after - 1)
            page = await self.reads.page(job_id, campaign_id, after, limit)
            for event in page:
                yield event
                after = event.seq
            if len(page) < limit:
                return


async def job_feed(
    live: Live, job_id: uuid.UUID, campaign_id: uuid.UUID, cursor: JobCursor, source: Source
) -> AsyncGenerator[LiveEvent, None]:
    """Every event of a job after `cursor.last`, in order, once; ends after a final status.
    Yields what its subscriber must send itself (a lane may send the rest, see lanes)."""
    async with source(live.channel("job", job_id)) as inbox:
        async for event in live.events(job_id, campaign_id, cursor.last):
            yield event
            cursor.last = event.seq
        head = await live.heads.job(job_id, fresh=True)
        if head is None or (head.final and head.last_seq <= cursor.last):
            return
        while True:
            cursor.in_step = True
            got = await inbox.get(live.idle_resync)
            await cursor.settle()
            if cursor.ended:
                return
            if got is Signal.WAKE:
                continue
            if got is Signal.IDLE:
                head = await live.heads.job(job_id)
                if head is None or head.last_seq <= cursor.last:
                    continue
            if isinstance(got, Signal):
                final = False
                async for event in live.events(job_id, campaign_id, cursor.last):
                    yield event
                    cursor.last, final = event.seq, event.final
                if final:
                    return
                continue
            if got.seq <= cursor.last:
                continue  # already delivered (replayed, refilled, or sent twice)
            if got.seq > cursor.last + 1:  # Redis lost or reordered some: the log has them
                async for event in live.events(job_id, campaign_id, cursor.last, got.seq):
                    yield event
                    cursor.last = event.seq
            yield got
            cursor.last = got.seq
            if got.final:
                return


async def campaign_feed(
    live: Live, campaign_id: uuid.UUID, cursor: CampaignCursor, source: Source
) -> AsyncGenerator[LiveEvent, None]:
    """Every event of every job of a campaign from now on, each (job, seq) once."""
    since = utcnow() - CLOCK_SLACK
    seen = cursor.seen
    async with source(live.channel("campaign", campaign_id)) as inbox:
        seen.update(await _touched(live, campaign_id, since))
        while True:
            cursor.in_step = True
            got = await inbox.get(live.idle_resync)
            await cursor.settle()
            if got is Signal.WAKE:
                continue
            if isinstance(got, Signal):
                for job_id, head in (await _touched(live, campaign_id, since)).items():
                    after = seen.get(job_id)
                    if after is None:
                        after = await _restart_point(live, job_id, head + 1)
                    async for event in live.events(job_id, campaign_id, after, head + 1):
                        yield event
                        after = event.seq
                    seen[job_id] = after
                continue
            after = seen.get(got.job_id)
            if after is None:
                after = await _restart_point(live, got.job_id, got.seq)
            if got.seq <= after:
                continue
            async for event in live.events(got.job_id, campaign_id, after, got.seq):
                yield event
            yield got
            seen[got.job_id] = got.seq


async def _touched(live: Live, campaign_id: uuid.UUID, since: datetime) -> dict[uuid.UUID, int]:
    async with live.factory() as session:
        return await log.campaign_job_seqs(session, campaign_id, since)


async def _restart_point(live: Live, job_id: uuid.UUID, seq: int) -> int:
    """Where a job we have not seen yet picks up: after its last final status (a job
    that ended before we arrived and was retried), or from its start (a new job)."""
    async with live.factory() as session:
        return await log.last_final_seq(session, job_id, seq)
