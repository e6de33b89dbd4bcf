"""The long-lived pieces a process needs: settings, engine, session factory, storage."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from db.engine import create_engine, create_session_factory
from services.media_urls import MediaUrlSigner
from services.settings import Settings
from services.storage import LocalStorage


@dataclass(slots=True)
class Runtime:
    settings: Settings
    engine: AsyncEngine
    session_factory: async_sessionmaker[AsyncSession]
    storage: LocalStorage
    signer: MediaUrlSigner

    @classmethod
    def open(cls, settings: Settings) -> Runtime:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        engine = create_engine(settings.sqlalchemy_url, echo=settings.sql_echo)
        return cls(
            settings=settings,
            engine=engine,
            session_factory=create_session_factory(engine),
            storage=LocalStorage(settings.storage_dir),
            signer=MediaUrlSigner(settings.signing_key(), settings.media_url_ttl_seconds),
        )

    async def close(self) -> None:
        await self.engine.dispose()
