"""Engine and session factory for SQLite (embedded) and PostgreSQL (production)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine, event, make_url
from sqlalchemy import create_engine as create_sync_engine
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)


def create_engine(url: str, *, echo: bool = False, pool_size: int = 10) -> AsyncEngine:
    if url.startswith("sqlite"):
        engine = create_async_engine(url, echo=echo, connect_args={"timeout": 30})
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        return engine
    # No pre-ping: it cost a round trip per checkout, as much as the statement it guarded.
    # A connection the server dropped (a restart) fails the one statement that finds it, and
    # SQLAlchemy then invalidates the whole pool, so the next checkouts connect afresh.
    return create_async_engine(url, echo=echo, pool_size=pool_size, max_overflow=pool_size)


def create_sqlite_read_engine(url: str, *, connections: int, echo: bool = False) -> Engine | None:
    """For an SQLite file, a synchronous engine (the stdlib driver) for reads run in
    threads (services/reads.py `ThreadedReads`); None for any other database, or an
    in-memory one that another engine could not see."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or parsed.database in (None, "", ":memory:"):
        return None
    engine = create_sync_engine(
        parsed.set(drivername="sqlite"),
        echo=echo,
        connect_args={"timeout": 30, "check_same_thread": False},
        pool_size=connections,
        max_overflow=0,
    )
    event.listen(engine, "connect", _sqlite_pragmas)
    return engine


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def create_session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False, autoflush=False)
