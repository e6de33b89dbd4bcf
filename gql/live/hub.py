"""One Redis pub/sub connection per API process, fanned out in memory.

A channel is subscribed in Redis while at least one local subscriber listens to it,
once however many there are; the last one leaving unsubscribes it. One reader task
reads the connection, decodes each message once and pushes it to every inbox of its
channel. If the connection drops, the reader reconnects (with backoff), subscribes
every channel again and, once Redis confirms, tells each subscriber to resync from
the database: what was published in between is gone from Redis but not from the log.

The reader reads replies off a redis-py connection itself rather than through redis-py's
`PubSub`: the same hub on `PubSub` (bench/pubsub_hub.py) behaves the same but spends
about a quarter more CPU per message and needs as much code around it
(bench/hub_bench.py measures both). The redis-py internals used here (the pool's
`connection_class`/`connection_kwargs`, `send_command`, `read_response`) are checked
by tests/test_library_contracts.py against the locked version.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from redis.asyncio import Redis
from redis.asyncio.connection import AbstractConnection
from redis.backoff import NoBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError
from redis.retry import Retry

from gql.live.inbox import HubClosed, Inbox

log = logging.getLogger(__name__)
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class HubStats:
    channels: int
    """Channels subscribed (or being unsubscribed) in Redis."""
    subscribers: int
    """Local inboxes, one per live subscription."""
    tasks: int
    """Background tasks the hub runs: its reader, while started."""
    connected: bool
    reconnects: int
    delivered: int
    """Messages pushed into inboxes."""


@dataclass(eq=False)
class _Channel(Generic[T]):
    name: str
    ready: asyncio.Future[None]
    inboxes: set[Inbox[T]] = field(default_factory=set)
    closing: asyncio.Future[None] | None = None
    stale: bool = False  # subscribed again after a reconnect: its inboxes must resync


class Hub(Generic[T]):
    def __init__(
        self,
        redis: Redis,
        decode: Callable[[bytes], T],
        *,
        name: str = "reelgraph-live",
        inbox_limit: int = 1000,
        ping_interval: float = 10.0,
        max_backoff: float = 2.0,
    ) -> None:
        pool = redis.connection_pool
        self._make_connection: Callable[[], AbstractConnection] = lambda: pool.connection_class(
            **{
                **pool.connection_kwargs,
                "client_name": name,
                "socket_timeout": None,
                "retry": Retry(NoBackoff(), 0),
                "retry_on_error": [],
                "retry_on_timeout": False,
                "health_check_interval": 0,
            }
        )
        self._decode = decode
        self.name = name
        self._inbox_limit = inbox_limit
        self._ping_interval = ping_interval
        self._max_backoff = max_backoff
        self._channels: dict[str, _Channel[T]] = {}
        self._conn: AbstractConnection | None = None
        self._reader: asyncio.Task[None] | None = None
        self._stopped = False
        self._reconnects = 0
        self._delivered = 0
        self._connected_once = False

    # lifecycle -----------------------------------------------------------------------

    async def start(self) -> None:
        assert self._reader is None, "started twice"
        await self._connect()  # fail fast at start-up if Redis is unreachable
        self._reader = asyncio.create_task(self._run(), name=f"{self.name}-reader")

    async def stop(self) -> None:
        self._stopped = True
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reader
            self._reader = None
        await self._disconnect()
        for channel in self._channels.values():
            for inbox in channel.inboxes:
                inbox.close()
            for future in (channel.ready, channel.closing):
                if future is not None and not future.done():
                    future.set_exception(HubClosed())
                    future.exception()
        self._channels.clear()

    def stats(self) -> HubStats:
        return HubStats(
            channels=len(self._channels),
            subscribers=sum(len(c.inboxes) for c in self._channels.values()),
            tasks=int(self._reader is not None and not self._reader.done()),
            connected=self._conn is not None,
            reconnects=self._reconnects,
            delivered=self._delivered,
        )

    # subscribers ---------------------------------------------------------------------

    @contextlib.asynccontextmanager
    async def listen(self, name: str) -> AsyncIterator[Inbox[T]]:
        """An inbox of `name`'s messages, entered once Redis has confirmed the subscription."""
        channel = await self._join(name)
        inbox: Inbox[T] = Inbox(self._inbox_limit)
        channel.inboxes.add(inbox)
        try:
            await asyncio.shield(channel.ready)
            yield inbox
        finally:
            await self._leave(channel, inbox)

    async def _join(self, name: str) -> _Channel[T]:
        if self._stopped:
            raise HubClosed
        while (existing := self._channels.get(name)) is not None and existing.closing:
            await asyncio.shield(existing.closing)  # re-subscribe once the unsubscribe is done
        if existing is not None:
            return existing
        channel: _Channel[T] = _Channel(name, asyncio.get_running_loop().create_future())
        self._channels[name] = channel
        await self._send("SUBSCRIBE", name)
        return channel

    async def _leave(self, channel: _Channel[T], inbox: Inbox[T]) -> None:
        channel.inboxes.discard(inbox)
        inbox.close()
        if channel.inboxes or channel.closing is not None or self._stopped:
            return
        if self._channels.get(channel.name) is not channel:
            return
        channel.closing = asyncio.get_running_loop().create_future()
        if not channel.ready.done():
            channel.ready.cancel()
        if self._conn is None or not await self._send("UNSUBSCRIBE", channel.name):
            self._forget(channel)  # not subscribed anywhere: nothing to undo

    def _forget(self, channel: _Channel[T]) -> None:
        if self._channels.get(channel.name) is channel:
            del self._channels[channel.name]
        if channel.closing is not None and not channel.closing.done():
            channel.closing.set_result(None)

    async def _send(self, *args: str) -> bool:
        conn = self._conn
        if conn is None:
            return False  # the reader subscribes every channel when it reconnects
        try:
            await conn.send_command(*args, check_health=False)
        except (RedisError, OSError) as exc:
            log.debug("live hub: %s failed (%s); the reader reconnects", args[0], exc)
            return False
        return True

    # the reader ----------------------------------------------------------------------

    async def _connect(self) -> None:
        conn = self._make_connection()
        await conn.connect()  # type: ignore[no-untyped-call]
        self._conn = conn
        names = [c.name for c in self._channels.values() if c.closing is None]
        for name in names:
            self._channels[name].stale = self._connected_once
        closing = [c for c in self._channels.values() if c.closing is not None]
        for channel in closing:
            self._forget(channel)
        self._connected_once = True
        if names:
            await conn.send_command("SUBSCRIBE", *names, check_health=False)

    async def _disconnect(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            with contextlib.suppress(Exception):
                await conn.disconnect()

    async def _run(self) -> None:
        backoff = 0.05
        while not self._stopped:
            try:
                if self._conn is None:
                    await self._connect()
                    self._reconnects += 1
                    log.info("live hub: reconnected to Redis (%d channels)", len(self._channels))
                await self._read(self._conn)  # type: ignore[arg-type]
            except asyncio.CancelledError:
                raise
            except (RedisError, OSError) as exc:
                log.warning("live hub: Redis connection lost (%s); reconnecting", exc)
                await self._disconnect()
                await asyncio.sleep(backoff)  # back off between reconnect attempts
                backoff = min(backoff * 2, self._max_backoff)
                continue
            backoff = 0.05

    async def _read(self, conn: AbstractConnection) -> None:
        pinged = False
        while True:
            response = await conn.read_response(
                timeout=self._ping_interval, disconnect_on_error=False, push_request=True
            )
            if response is None:  # quiet for a while: is the connection still there?
                if pinged:
                    raise RedisConnectionError("no PONG from Redis")
                await conn.send_command("PING", check_health=False)
                pinged = True
                continue
            pinged = False
            self._dispatch(response)

    def _dispatch(self, response: Any) -> None:
        if not isinstance(response, list) or len(response) < 3:
            return  # PONG
        kind = _text(response[0])
        name = _text(response[1])
        channel = self._channels.get(name)
        if kind == "message":
            if channel is None or channel.closing is not None or not channel.inboxes:
                return
            try:
                message = self._decode(response[2])
            except Exception:
                log.exception("live hub: undecodable message on %s", name)
                return
            for inbox in channel.inboxes:
                inbox.push(message)
            self._delivered += len(channel.inboxes)
        elif kind == "subscribe" and channel is not None and channel.closing is None:
            if not channel.ready.done():
                channel.ready.set_result(None)
            if channel.stale:
                channel.stale = False
                for inbox in channel.inboxes:
                    inbox.mark_resync()
        elif kind == "unsubscribe" and channel is not None and channel.closing is not None:
            self._forget(channel)


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)
