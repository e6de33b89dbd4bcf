"""The one dependency object each step of a generation takes.

`Core` (the runtime and the broker) is what the API's webhook path holds; `Deps` adds
what only a worker has (providers, the pair selector, per-process limits). A function
that runs in both places takes a `Core`, and a worker passes its `Deps`."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass, field

from sqlalchemy.ext.asyncio import AsyncSession

from services.broker import Broker
from services.pairing import OfflinePairSelector, PairSelector
from services.providers.base import Provider
from services.providers.local import LocalProvider
from services.runtime import Runtime
from services.settings import Settings


@dataclass(slots=True)
class Core:
    runtime: Runtime
    broker: Broker

    @property
    def settings(self) -> Settings:
        return self.runtime.settings

    def transaction(self) -> AbstractAsyncContextManager[AsyncSession]:
        """A unit of work that writes (SQLite's writers queue in the runtime)."""
        return self.runtime.transaction()


@dataclass(slots=True)
class Deps(Core):
    providers: dict[str, Provider]
    selector: PairSelector
    limits: dict[str, asyncio.Semaphore] = field(default_factory=dict)

    def provider(self, name: str) -> Provider:
        return self.providers[name]

    @asynccontextmanager
    async def slot(self, provider: str) -> AsyncIterator[None]:
        """At most `provider_concurrency` predictions per provider in this process."""
        limit = self.limits.setdefault(
            provider, asyncio.Semaphore(self.runtime.settings.provider_concurrency)
        )
        async with limit:
            yield

    async def aclose(self) -> None:
        for provider in self.providers.values():
            await provider.aclose()
        close = getattr(self.selector, "aclose", None)
        if close is not None:
            await close()


def build_deps(runtime: Runtime, broker: Broker) -> Deps:
    settings = runtime.settings
    providers: dict[str, Provider] = {
        # Its own folder: processes sharing a data directory must not remove each
        # other's renders when they stop.
        "local": LocalProvider(runtime.storage.tmp / f"local-provider-{uuid.uuid4().hex[:12]}"),
    }
    if settings.replicate_api_token:
        from services.providers.replicate import ReplicateProvider

        providers["replicate"] = ReplicateProvider(
            api_token=settings.replicate_api_token,
            base_url=settings.replicate_api_base,
            webhook_secret=settings.replicate_webhook_secret,
        )
    selector: PairSelector
    if settings.xai_api_key:
        from services.pairing.xai import XaiPairSelector

        selector = XaiPairSelector(
            api_key=settings.xai_api_key, base_url=settings.xai_api_base, model=settings.xai_model
        )
    else:
        selector = OfflinePairSelector()
    return Deps(runtime=runtime, broker=broker, providers=providers, selector=selector)
