"""The long-lived pieces a process needs: settings, engine, session factory, storage,
and the API keys it has checked (which remember only while an API process follows
revocations: see services/key_cache.py)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

from sqlalchemy import Engine
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from db.engine import create_engine, create_session_factory, create_sqlite_read_engine
from services.creative.writer import CreativeWriter, build_writer
from services.key_cache import KeyCache
from services.media.images import guard_pillow
from services.media_urls import MediaUrlSigner
from services.reads import ThreadedReads
from services.settings import Settings
from services.storage import LocalStorage
from services.uow import unit_of_work

READ_THREADS = 4
"""Threads (and connections) for SQLite reads: a statement of a request holds one for
well under a millisecond to a few (a page of 1,000 assets)."""


@dataclass(slots=True)
class Runtime:
    settings: Settings
    engine: AsyncEngine
    session_factory: async_sessionmaker[AsyncSession]
    storage: LocalStorage
    signer: MediaUrlSigner
    keys: KeyCache
    writer: CreativeWriter
    reads: ThreadedReads | None = None
    """On an SQLite file, where requests' Core reads run (services/reads.py)."""
    _write_lock: asyncio.Lock | None = field(default=None, repr=False)

    @classmethod
    def open(cls, settings: Settings) -> Runtime:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        guard_pillow(settings.max_image_pixels)  # any Image.open in this process, API or worker
        engine = create_engine(settings.sqlalchemy_url, echo=settings.sql_echo)
        factory = create_session_factory(engine)
        reading = create_sqlite_read_engine(
            settings.sqlalchemy_url, connections=READ_THREADS, echo=settings.sql_echo
        )
        return cls(
            settings=settings,
            engine=engine,
            session_factory=factory,
            storage=LocalStorage(settings.storage_dir),
            signer=MediaUrlSigner(settings.signing_key(), settings.media_url_ttl_seconds),
            keys=KeyCache(factory, ttl=settings.key_cache_seconds),
            writer=build_writer(settings),
            reads=None if reading is None else ThreadedReads(reading, READ_THREADS),
        )

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncSession]:
        """A short unit of work that writes. SQLite has one writer: this process's task
        and webhook writers queue for it here, in order, instead of in SQLite's sleeping
        busy handler. (The lock is held from the first statement, so long work such as
        staging an upload belongs outside it.)"""
        lock = None
        if self.engine.dialect.name == "sqlite":
            if self._write_lock is None:
                self._write_lock = asyncio.Lock()
            lock = self._write_lock
        async with unit_of_work(self.session_factory, lock=lock) as session:
            yield session

    async def close(self) -> None:
        try:
            close = getattr(self.writer, "aclose", None)
            if close is not None:
                await close()
            await self.engine.dispose()
        finally:
            if self.reads is not None:
                await asyncio.to_thread(self.reads.close)

    @property
    def sync_engines(self) -> list[Engine]:
        """Every engine statements go through, for event listeners (statement counts)."""
        engines = [self.engine.sync_engine]
        if self.reads is not None:
            engines.append(self.reads.engine)
        return engines
