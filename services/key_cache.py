"""Valid API keys, remembered for a few seconds by each API process.

Without it every request pays a pool checkout and a SELECT on api_keys to learn who is
asking: for a small query, a third of its cost.

- Keyed by the key's public prefix. An entry holds the SHA-256 of the secret (never the
  secret) and answers only a presented key that hashes to it, compared in constant
  time. A wrong secret for a remembered prefix is refused without a query: prefixes
  are unique and a key's hash never changes.
- Only valid keys are remembered: an unknown, malformed or revoked key goes to the
  database every time (and the view counts it against its address's keyless limit).
- Revocation: `revoke_key` publishes the prefix after its commit, and `following`
  drops it here as soon as Redis delivers it. A lookup in flight when any revocation
  arrives is not remembered: it may have read the row before that commit. When the
  subscription comes back after a drop, everything is forgotten (what was published
  in between is lost). While Redis is unreachable an entry still lives at most `ttl`
  seconds (`Settings.key_cache_seconds`): that bounds how long a revoked key works.
- Memory answers only while the cache follows revocations: a process that does not
  listen (the CLI, a worker) always asks the database.
- At most `size` entries; the least recently used goes first.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import logging
import time
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from typing import Protocol

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.api_keys import authenticate, secret_hash, split_secret
from services.viewer import Viewer

log = logging.getLogger(__name__)


class Revocations(Protocol):
    """A subscription to `api_keys.revocation_channel`: `get` gives the next revoked
    prefix (a str) or anything else when messages may have been lost."""

    async def get(self) -> object: ...


@dataclass(frozen=True, slots=True)
class _Entry:
    digest: str
    viewer: Viewer
    expires: float


class KeyCache:
    def __init__(
        self,
        factory: async_sessionmaker[AsyncSession],
        *,
        ttl: float,
        size: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._factory = factory
        self._ttl = ttl
        self._size = max(size, 1)
        self._clock = clock
        self._entries: OrderedDict[str, _Entry] = OrderedDict()
        self._following = False
        self._revocations = 0  # drops so far: a lookup that spans one is not remembered

    def __len__(self) -> int:
        return len(self._entries)

    @property
    def active(self) -> bool:
        return self._following and self._ttl > 0

    async def authenticate(self, secret: str) -> Viewer | None:
        """The key's viewer, or None when it is unknown, malformed or revoked."""
        split = split_secret(secret)
        if split is None:
            return None
        prefix, digest = split[0], secret_hash(secret)
        entry = self._entries.get(prefix)
        if entry is not None:
            if entry.expires > self._clock():
                if not hmac.compare_digest(entry.digest, digest):
                    return None
                self._entries.move_to_end(prefix)
                return entry.viewer
            del self._entries[prefix]
        seen = self._revocations
        async with self._factory() as session:
            viewer = await authenticate(session, secret)
        if viewer is not None and self.active and seen == self._revocations:
            self._entries[prefix] = _Entry(digest, viewer, self._clock() + self._ttl)
            self._entries.move_to_end(prefix)
            while len(self._entries) > self._size:
                self._entries.popitem(last=False)
        return viewer

    def drop(self, prefix: str) -> None:
        self._revocations += 1
        self._entries.pop(prefix, None)

    def clear(self) -> None:
        self._revocations += 1
        self._entries.clear()

    @contextlib.asynccontextmanager
    async def following(
        self, revocations: AbstractAsyncContextManager[Revocations]
    ) -> AsyncIterator[None]:
        """Remember keys while `revocations` delivers: entered once the subscription is
        confirmed (the hub's `listen`), so no key is remembered before a revocation of
        it could be heard."""
        async with revocations as inbox:
            self._following = True
            task = asyncio.create_task(self._follow(inbox), name="key-cache-revocations")
            try:
                yield
            finally:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
                self._following = False
                self.clear()

    async def _follow(self, inbox: Revocations) -> None:
        try:
            while True:
                message = await inbox.get()
                if isinstance(message, str):
                    self.drop(message)
                else:  # messages may have been lost (a reconnect, an overflow)
                    self.clear()
        except Exception as exc:  # the subscription ended: ask the database from now on
            log.warning("API key cache: revocations no longer heard (%r); caching stops", exc)
        finally:
            self._following = False
            self.clear()
