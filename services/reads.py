"""One connection for the reads of one request.

A GraphQL page reads at every level of its query: the root resolver, then one batch per
DataLoader per level. With a session per batch, each statement paid for a pool checkout,
a `BEGIN`, a `ROLLBACK` and (with pre-ping) a ping: four round trips on PostgreSQL for
one statement. `ReadSession` opens one session on first use and keeps it until the
request ends; on PostgreSQL it runs in autocommit, so each statement is one round trip
and sees what has committed (as a new session per batch did). Statements take turns:
one session runs one statement at a time, and a request's batches at one level run one
after another anyway on one connection.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Protocol

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker


class Sessions(Protocol):
    """Where a reader gets a session from: a factory's call, or a request's `ReadSession`."""

    def __call__(self) -> AbstractAsyncContextManager[AsyncSession]: ...


@functools.cache
def _reading(engine: AsyncEngine) -> AsyncEngine:
    """The engine, in autocommit on PostgreSQL: no BEGIN/ROLLBACK around a read. (SQLite's
    driver opens no transaction for a SELECT.)"""
    if engine.dialect.name == "postgresql":
        return engine.execution_options(isolation_level="AUTOCOMMIT")
    return engine


class ReadSession:
    def __init__(self, factory: async_sessionmaker[AsyncSession]) -> None:
        self._factory = factory
        self._session: AsyncSession | None = None
        self._turn = asyncio.Lock()

    @asynccontextmanager
    async def __call__(self) -> AsyncIterator[AsyncSession]:
        async with self._turn:
            if self._session is None:
                engine = self._factory.kw["bind"]
                self._session = self._factory(bind=_reading(engine))
            yield self._session

    async def close(self) -> None:
        """Give the connection back to the pool (the request is done)."""
        session, self._session = self._session, None
        if session is not None:
            await session.close()
