"""Coalesced reads: many feeds asking the database the same question at the same
moment (a reconnect, a thousand sockets subscribing at once) share one query.

A caller joins a read of the same key only if that read has not started yet, so what
it gets is at least as fresh as the moment it asked; at most `concurrency` reads run
at a time, and the rest wait here, not in the database pool. A read runs in a task of
its own, so a caller that goes away does not cancel it for the others.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Hashable
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class Coalescer(Generic[K, V]):
    def __init__(self, concurrency: int = 4) -> None:
        self._slots = asyncio.Semaphore(concurrency)
        self._queued: dict[K, asyncio.Task[V]] = {}

    async def run(self, key: K, fetch: Callable[[], Awaitable[V]]) -> V:
        task = self._queued.get(key)
        if task is None:
            task = asyncio.ensure_future(self._read(key, fetch))
            task.add_done_callback(_retrieve)
            self._queued[key] = task
        return await asyncio.shield(task)

    async def _read(self, key: K, fetch: Callable[[], Awaitable[V]]) -> V:
        try:
            async with self._slots:
                self._forget(key)  # started: later callers need a read of their own
                return await fetch()
        finally:
            self._forget(key)

    def _forget(self, key: K) -> None:
        if self._queued.get(key) is asyncio.current_task():
            del self._queued[key]


def _retrieve(task: asyncio.Task[object]) -> None:
    if not task.cancelled():
        task.exception()  # every caller gets it; none is left unretrieved
