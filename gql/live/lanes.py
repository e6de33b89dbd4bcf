"""Lanes: one task per (channel, cohort) writes each live event to every WebSocket of
the cohort that is in step, without waking their tasks.

A subscriber joins its lane before it replays, so nothing falls between. Until its
feed has caught up (and whenever it falls behind: a gap, a resync, a slow socket) the
lane queues events into the subscriber's own inbox and its feed handles them: refill,
de-duplication, order. Once the feed waits with nothing left to do it marks its cursor
in step, and from then on the lane renders each event once for the whole cohort and
writes `prefix + payload + "}"` to each socket itself, moving the cursor on.

A write is started eagerly, in the lane's task: with room in the socket's buffer the
ASGI send completes without suspending, which is the common case. A send that has to
wait (a slow reader) is finished by a task of its own, and that subscriber leaves the
lane's fast path until its feed has settled it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Hashable
from dataclasses import dataclass, field
from typing import Any

from gql.live.cursor import Cursor
from gql.live.hub import Hub
from gql.live.inbox import HubClosed, Inbox, Signal
from gql.live.live_event import LiveEvent

log = logging.getLogger(__name__)


def start_eagerly(coro: Coroutine[Any, Any, None]) -> asyncio.Task[None] | None:
    """Run `coro` in the caller's task up to its first suspension: None when it finished
    there; otherwise a task that finishes it. Errors before any suspension raise here."""
    try:
        yielded = coro.send(None)
    except StopIteration:
        return None
    task = asyncio.ensure_future(_resume(coro, yielded))
    task.add_done_callback(_retrieve)
    return task


def _retrieve(task: asyncio.Task[None]) -> None:
    if not task.cancelled():
        task.exception()  # seen by the feed when it settles; never "never retrieved"


async def _resume(coro: Coroutine[Any, Any, None], yielded: Any) -> None:
    """Go on driving a coroutine that suspended on `yielded`, as its task would."""
    while True:
        try:
            if yielded is None:  # a bare `yield`: it only gave the loop a turn
                await asyncio.sleep(0)
            else:  # a future: take it over as Task.__step does, then wait for it
                yielded._asyncio_future_blocking = False
                await yielded
        except BaseException as exc:
            try:
                yielded = coro.throw(exc)
            except StopIteration:
                return
            continue
        try:
            yielded = coro.send(None)
        except StopIteration:
            return


@dataclass(eq=False)
class Member:
    cursor: Cursor
    inbox: Inbox[LiveEvent]
    write: Callable[[str], Coroutine[Any, Any, None]]
    """Sends one payload (already rendered for the cohort) in this subscriber's frame."""


@dataclass(eq=False)
class Lane:
    channel: str
    key: Hashable
    render: Callable[[LiveEvent], Awaitable[str]]
    members: set[Member] = field(default_factory=set)
    ready: asyncio.Future[None] = field(
        default_factory=lambda: asyncio.get_running_loop().create_future()
    )
    task: asyncio.Task[None] | None = None

    async def run(self, hub: Hub[LiveEvent]) -> None:
        try:
            async with hub.listen(self.channel) as inbox:
                self.ready.set_result(None)
                while True:
                    got = await inbox.get()
                    if isinstance(got, Signal):  # Redis came back, or the lane overflowed
                        for member in self.members:
                            member.cursor.in_step = False
                            member.inbox.mark_resync()
                        continue
                    await self.deliver(got)
        except HubClosed:
            for member in self.members:
                member.inbox.close()
            if not self.ready.done():
                self.ready.set_exception(HubClosed())

    async def deliver(self, event: LiveEvent) -> None:
        payload = None
        if any(m.cursor.in_step for m in self.members):
            try:
                payload = await self.render(event)
            except Exception:  # each feed renders it again and reports what fails
                log.exception("live lane: rendering an event failed")
        now = asyncio.get_running_loop().time()
        for member in list(self.members):
            cursor = member.cursor
            if payload is None or not cursor.in_step or not cursor.fits(event):
                cursor.in_step = False
                member.inbox.push(event)  # its feed sorts it out
                continue
            cursor.advance(event)
            member.inbox.touch(now)  # its feed's idle check counts from here
            try:
                cursor.pending = start_eagerly(member.write(payload))
            except Exception:  # the socket is gone; its handler ends the operation
                log.debug("live lane: a write failed", exc_info=True)
                cursor.in_step = False
                member.inbox.nudge()
                continue
            if cursor.pending is not None or cursor.ended:
                cursor.in_step = False
                member.inbox.nudge()


class Lanes:
    """The lanes of one process, created with their first member and ended with the last."""

    def __init__(self, hub: Hub[LiveEvent]) -> None:
        self._hub = hub
        self._lanes: dict[tuple[str, Hashable], Lane] = {}

    def stats(self) -> tuple[int, int]:
        """(lanes, members): each lane is one hub subscriber and one task."""
        return len(self._lanes), sum(len(lane.members) for lane in self._lanes.values())

    @contextlib.asynccontextmanager
    async def join(
        self,
        channel: str,
        key: Hashable,
        render: Callable[[LiveEvent], Awaitable[str]],
        member: Member,
    ) -> AsyncIterator[Inbox[LiveEvent]]:
        lane = self._lanes.get((channel, key))
        if lane is None:
            lane = Lane(channel, key, render)
            self._lanes[(channel, key)] = lane
            lane.task = asyncio.create_task(lane.run(self._hub), name=f"live-lane:{channel}")
        lane.members.add(member)
        try:
            await asyncio.shield(lane.ready)
            yield member.inbox
        finally:
            lane.members.discard(member)
            member.inbox.close()
            if member.cursor.pending is not None:
                member.cursor.pending.cancel()
            if not lane.members and self._lanes.get((channel, key)) is lane:
                del self._lanes[(channel, key)]
                await _stop(lane)


async def _stop(lane: Lane) -> None:
    task = lane.task
    if task is None:
        return
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError, Exception):
        await task
    if not lane.ready.done():
        lane.ready.cancel()
