"""Where one subscriber stands in its stream. Its feed moves it; in direct mode its lane
also does, for the live events it writes to the socket itself."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from dataclasses import dataclass, field

from gql.live.live_event import LiveEvent


@dataclass(eq=False)
class Cursor:
    in_step: bool = False
    """The feed waits with nothing to do: its lane may write the next event itself."""
    ended: bool = False
    """The final event has been delivered."""
    pending: asyncio.Task[None] | None = None
    """A lane write still waiting for room in the socket."""

    def fits(self, event: LiveEvent) -> bool:
        """Is `event` the very next one for this subscriber?"""
        raise NotImplementedError

    def advance(self, event: LiveEvent) -> None:
        raise NotImplementedError

    async def settle(self) -> None:
        """Take the cursor back from the lane: no lane write may be in flight after this."""
        self.in_step = False
        pending, self.pending = self.pending, None
        if pending is not None:
            with contextlib.suppress(Exception):
                await pending


@dataclass(eq=False)
class JobCursor(Cursor):
    last: int = 0

    def fits(self, event: LiveEvent) -> bool:
        return event.seq == self.last + 1

    def advance(self, event: LiveEvent) -> None:
        self.last = event.seq
        self.ended = event.final


@dataclass(eq=False)
class CampaignCursor(Cursor):
    seen: dict[uuid.UUID, int] = field(default_factory=dict)

    def fits(self, event: LiveEvent) -> bool:
        return self.seen.get(event.job_id) == event.seq - 1

    def advance(self, event: LiveEvent) -> None:
        self.seen[event.job_id] = event.seq
