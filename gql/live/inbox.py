"""One subscriber's queue of live messages from one channel.

The hub pushes without waiting; the subscriber takes in order. A subscriber that
falls `limit` messages behind loses what was queued and is told to resync, so a
slow socket costs bounded memory and still misses nothing (it refills from the log).
"""

from __future__ import annotations

import asyncio
import enum
from collections import deque
from typing import Generic, TypeVar

T = TypeVar("T")


class Signal(enum.Enum):
    RESYNC = "resync"
    """Messages may have been lost (Redis reconnected, or this inbox overflowed)."""
    IDLE = "idle"
    """Nothing arrived within the timeout given to `get`."""
    WAKE = "wake"
    """Something changed for the subscriber (see its cursor); nothing to take."""


class HubClosed(Exception):
    """The hub stopped (the server is shutting down)."""


class Inbox(Generic[T]):
    __slots__ = (
        "_idle", "_items", "_limit", "_since", "_waiter", "closed", "nudged", "overflows", "resync",
    )  # fmt: skip

    def __init__(self, limit: int) -> None:
        self._items: deque[T] = deque()
        self._limit = max(limit, 1)
        self._waiter: asyncio.Future[Signal | None] | None = None
        self._idle: asyncio.TimerHandle | None = None
        self._since = 0.0  # when the current waiter started waiting
        self.resync = False
        self.nudged = False
        self.closed = False
        self.overflows = 0

    def __len__(self) -> int:
        return len(self._items)

    def push(self, item: T) -> None:
        if len(self._items) >= self._limit:
            self._items.clear()
            self.overflows += 1
            self.mark_resync()
            return
        self._items.append(item)
        self._wake(None)

    def mark_resync(self) -> None:
        self.resync = True
        self._wake(None)

    def touch(self, now: float) -> None:
        """Something was delivered around this inbox (by a lane): not idle since `now`."""
        self._since = now

    def nudge(self) -> None:
        self.nudged = True
        self._wake(None)

    def close(self) -> None:
        self.closed = True
        self._wake(None)
        if self._idle is not None:
            self._idle.cancel()
            self._idle = None

    def _wake(self, value: Signal | None) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(value)

    def _idle_timer(self, loop: asyncio.AbstractEventLoop, timeout: float) -> None:
        """One timer per quiet period, not one per message: it fires `timeout` after it
        was set, and only wakes a waiter that has been waiting that long."""
        self._idle = None
        waiter = self._waiter
        if waiter is None or waiter.done():
            return
        waited = loop.time() - self._since
        if waited >= timeout:
            waiter.set_result(Signal.IDLE)
        else:
            self._idle = loop.call_later(timeout - waited, self._idle_timer, loop, timeout)

    async def get(self, timeout: float | None = None) -> T | Signal:
        """The next message, or a Signal; raises HubClosed once the hub has stopped."""
        while True:
            if self.closed:
                raise HubClosed
            if self.resync:
                self.resync = False
                return Signal.RESYNC
            if self.nudged:
                self.nudged = False
                return Signal.WAKE
            if self._items:
                return self._items.popleft()
            loop = asyncio.get_running_loop()
            waiter: asyncio.Future[Signal | None] = loop.create_future()
            self._since = loop.time()
            self._waiter = waiter
            if timeout and self._idle is None:
                self._idle = loop.call_later(timeout, self._idle_timer, loop, timeout)
            try:
                woke = await waiter
            finally:
                self._waiter = None
            if woke is Signal.IDLE and not self._items and not self.resync:
                return Signal.IDLE
