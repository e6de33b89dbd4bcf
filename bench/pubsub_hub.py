"""The live hub rebuilt on redis-py's own `PubSub` (redis.asyncio), for comparison with
`gql.live.hub.Hub`: the same interface and the same promises (one Redis subscription
per channel fanned out in memory, no gap and no repeat while connected, reconnection
with backoff and a resync signal for every channel once Redis confirms it again,
bounded inboxes, a ping when quiet that detects a dead connection).

`bench/hub_bench.py` measures both. What PubSub does for us: it keeps the set of
channels and subscribes them again when its connection reconnects (its `on_connect`
callback), parses each reply into a message dict and filters its own health checks.
What it does not, and what this class adds around it: the fan-out, a reader that
reconnects (PubSub reconnects lazily, on the next command or read), a way to know
when a channel is live again (its second `subscribe` confirmation), unsubscribes
still pending when the connection dropped (PubSub forgets them and subscribes those
channels again), and a guard that only the reader connects (a `subscribe` from a
listener while the connection is down would connect from that task).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from redis.asyncio import Redis
from redis.asyncio.client import PubSub
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError

from gql.live.hub import HubStats
from gql.live.inbox import HubClosed, Inbox

log = logging.getLogger(__name__)
T = TypeVar("T")


@dataclass(eq=False)
class _Channel(Generic[T]):
    name: str
    ready: asyncio.Future[None]
    inboxes: set[Inbox[T]] = field(default_factory=set)
    closing: asyncio.Future[None] | None = None
    confirmed: bool = False  # a later `subscribe` confirmation means: subscribed again


class PubSubHub(Generic[T]):
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
        """`redis` should be a client of its own with `health_check_interval=0` and no
        retries (PubSub's health check reads replies from the reader's connection)."""
        self._redis = redis
        self._pubsub: PubSub = redis.pubsub()
        self._decode = decode
        self.name = name
        self._inbox_limit = inbox_limit
        self._ping_interval = ping_interval
        self._max_backoff = max_backoff
        self._channels: dict[str, _Channel[T]] = {}
        self._connected = False
        self._reader: asyncio.Task[None] | None = None
        self._stopped = False
        self._reconnects = 0
        self._delivered = 0

    async def start(self) -> None:
        assert self._reader is None, "started twice"
        await self._pubsub.connect()  # type: ignore[no-untyped-call]
        self._connected = True
        self._reader = asyncio.create_task(self._run(), name=f"{self.name}-reader")

    async def stop(self) -> None:
        self._stopped = True
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reader
            self._reader = None
        self._connected = False
        with contextlib.suppress(Exception):
            await self._pubsub.aclose()  # type: ignore[no-untyped-call]
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
            connected=self._connected,
            reconnects=self._reconnects,
            delivered=self._delivered,
        )

    @contextlib.asynccontextmanager
    async def listen(self, name: str) -> AsyncIterator[Inbox[T]]:
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
            await asyncio.shield(existing.closing)
        if existing is not None:
            return existing
        channel: _Channel[T] = _Channel(name, asyncio.get_running_loop().create_future())
        self._channels[name] = channel
        await self._command(self._pubsub.subscribe, name)
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
        if not await self._command(self._pubsub.unsubscribe, channel.name):
            self._forget(channel)

    def _forget(self, channel: _Channel[T]) -> None:
        if self._channels.get(channel.name) is channel:
            del self._channels[channel.name]
        if channel.closing is not None and not channel.closing.done():
            channel.closing.set_result(None)

    async def _command(self, command: Callable[..., Any], *names: str) -> bool:
        if not self._connected:
            return False  # the reader settles every channel when it reconnects
        try:
            await command(*names)
        except (RedisError, OSError) as exc:
            log.debug("pubsub hub: %s failed (%s); the reader reconnects", command, exc)
            return False
        return True

    async def _reconnect(self) -> None:
        # PubSub's on_connect subscribes again every channel it knows, pending
        # unsubscribes included (it clears them): those are unsubscribed once more.
        await self._pubsub.connect()  # type: ignore[no-untyped-call]
        known = set(self._pubsub.channels)
        missing, closing = [], []
        for channel in self._channels.values():
            if channel.closing is not None:
                if channel.name.encode() in known:
                    closing.append(channel.name)
                else:
                    self._forget(channel)
            elif channel.name.encode() not in known:
                missing.append(channel.name)
        self._connected = True  # from here a new listener subscribes by itself
        if missing:
            await self._pubsub.subscribe(*missing)
        if closing:
            await self._pubsub.unsubscribe(*closing)

    async def _run(self) -> None:
        backoff = 0.05
        while not self._stopped:
            try:
                if not self._connected:
                    await self._reconnect()
                    self._reconnects += 1
                await self._read()
            except asyncio.CancelledError:
                raise
            except (RedisError, OSError) as exc:
                log.warning("pubsub hub: Redis connection lost (%s); reconnecting", exc)
                self._connected = False
                with contextlib.suppress(Exception):
                    if self._pubsub.connection is not None:
                        await self._pubsub.connection.disconnect()
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, self._max_backoff)
                continue
            backoff = 0.05

    async def _read(self) -> None:
        pinged = False
        while True:
            message = await self._pubsub.get_message(timeout=self._ping_interval)
            if message is None:
                if pinged:
                    raise RedisConnectionError("no PONG from Redis")
                await self._pubsub.ping()
                pinged = True
                continue
            pinged = False
            self._dispatch(message)

    def _dispatch(self, message: dict[str, Any]) -> None:
        kind = message["type"]
        if kind == "pong":
            return
        raw = message["channel"]
        name = raw.decode() if isinstance(raw, bytes) else str(raw)
        channel = self._channels.get(name)
        if kind == "message":
            if channel is None or channel.closing is not None or not channel.inboxes:
                return
            try:
                decoded = self._decode(message["data"])
            except Exception:
                log.exception("pubsub hub: undecodable message on %s", name)
                return
            for inbox in channel.inboxes:
                inbox.push(decoded)
            self._delivered += len(channel.inboxes)
        elif kind == "subscribe" and channel is not None and channel.closing is None:
            if not channel.ready.done():
                channel.ready.set_result(None)
            if channel.confirmed:  # subscribed again after a reconnect
                for inbox in channel.inboxes:
                    inbox.mark_resync()
            channel.confirmed = True
        elif kind == "unsubscribe" and channel is not None and channel.closing is not None:
            self._forget(channel)
