"""The server's own worker outlives Redis going away: when its connections are cut and
new ones refused, the in-process worker stops, and once Redis answers again a new one
runs the jobs (before, every job after such a moment stayed queued for good)."""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest

from gql.app import create_app
from services.settings import Settings
from tests.client import GraphQLClient
from tests.conftest import issue_key
from tests.jobs import GENERATE_IMAGE, launch, wait_for_job

REDIS = os.environ.get("REELGRAPH_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


class Severable:
    """A TCP relay to Redis that can drop every connection and refuse new ones."""

    def __init__(self, host: str, port: int) -> None:
        self.target = (host, port)
        self.refusing = False
        self.links: set[asyncio.StreamWriter] = set()
        self.server: asyncio.Server | None = None

    async def __aenter__(self) -> Severable:
        self.server = await asyncio.start_server(self._relay, "127.0.0.1", 0)
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self.server is not None
        self.server.close()
        self.sever()
        await self.server.wait_closed()

    @property
    def port(self) -> int:
        assert self.server is not None
        return int(self.server.sockets[0].getsockname()[1])

    def sever(self) -> None:
        self.refusing = True
        for writer in list(self.links):
            writer.transport.abort()

    async def _relay(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self.refusing:
            writer.transport.abort()
            return
        up_reader, up_writer = await asyncio.open_connection(*self.target)
        self.links |= {writer, up_writer}

        async def pipe(source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
            try:
                while data := await source.read(65536):
                    sink.write(data)
                    await sink.drain()
            except OSError:
                pass
            finally:
                sink.transport.abort()

        try:
            await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))
        finally:
            self.links -= {writer, up_writer}


@pytest.fixture
async def relay() -> AsyncIterator[Severable]:
    url = urlsplit(REDIS)
    async with Severable(url.hostname or "127.0.0.1", url.port or 6379) as relay:
        yield relay


async def test_the_in_process_worker_comes_back_after_redis_does(
    relay: Severable, settings: Settings, tmp_path: Path
) -> None:
    settings = settings.model_copy(update={
        "data_dir": tmp_path,
        "redis_url": f"redis://127.0.0.1:{relay.port}/0",
        "redis_prefix": f"reelgraph-restart-{uuid.uuid4().hex[:8]}",
    })  # fmt: skip
    app = create_app(settings)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as http,
    ):
        admin = GraphQLClient(http, await issue_key(app.state.runtime))
        campaign = await admin.create_campaign(await admin.create_client("Restart"))
        worker = app.state.worker

        relay.sever()  # every connection dropped, new ones refused: the worker stops
        await asyncio.wait_for(worker.restarted.wait(), timeout=60)
        relay.refusing = False  # Redis answers again

        queued = await launch(admin, GENERATE_IMAGE, campaignId=campaign, prompt="A sneaker")
        done = await wait_for_job(admin, app, queued["id"], timeout=60)
        assert done["status"] == "SUCCEEDED", done["error"]
