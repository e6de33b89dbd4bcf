"""Helpers for live-subscription tests: conditions to wait on, counting what a socket
leaves behind, and more API processes on the same database and Redis."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import sys
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import httpx
from starlette.applications import Starlette

from gql.live.feeds import LiveStats
from services.settings import Settings
from tests.rates import UNLIMITED_RATES, unlimited_env

ROOT = Path(__file__).resolve().parent.parent
# Coroutines a WebSocket runs server-side: protocol handlers, operations, deadlines.
SOCKET_TASKS = (
    "run_operation",
    "handle_async_results",
    "_init_deadline",
    "handle_keep_alive",
    "handle_connection_init_timeout",
    "run_asgi",
    "Lane.run",
    "_resume",
)


async def eventually(check: Callable[[], bool], timeout: float = 15, what: str = "") -> None:
    """Wait until `check()` holds (polling a condition, not sleeping for timing)."""
    async with asyncio.timeout(timeout):
        while not check():  # noqa: ASYNC110 - what we wait on (hub state, tasks) has no event
            await asyncio.sleep(0.01)
    assert check(), what


def socket_tasks() -> list[asyncio.Task[Any]]:
    """This loop's live server-side WebSocket tasks (the in-process servers share it)."""
    return [
        t
        for t in asyncio.all_tasks()
        if not t.done() and any(n in t.get_coro().__qualname__ for n in SOCKET_TASKS)  # type: ignore[union-attr]
    ]


def live_stats(app: Starlette) -> LiveStats:
    """What the app's process holds for live subscriptions (hub and lanes)."""
    stats: LiveStats = app.state.live.stats()
    return stats


def redis_url_of(app: Starlette, settings: Settings) -> str:
    """The Redis an app uses: REDIS_URL, or the embedded server's socket."""
    if settings.redis_url:
        return settings.redis_url
    kwargs = app.state.broker.pool.connection_pool.connection_kwargs
    return f"unix://{kwargs['path']}"


def peer_settings(app: Starlette, settings: Settings, **overrides: Any) -> Settings:
    """Another API process's settings: same database, same Redis, no worker."""
    fields: dict[str, Any] = {
        "data_dir": settings.data_dir,
        "database_url": settings.database_url,
        "redis_url": redis_url_of(app, settings),
        "redis_prefix": settings.redis_prefix,
        "run_worker": False,
        **UNLIMITED_RATES,
        **overrides,
    }
    return Settings(**fields)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextlib.asynccontextmanager
async def api_process(settings: Settings) -> AsyncIterator[tuple[asyncio.subprocess.Process, str]]:
    """A real `uvicorn` API process (killable with SIGKILL); yields it and its base URL."""
    port = free_port()
    env = {
        **os.environ,
        "REELGRAPH_DATA_DIR": str(settings.data_dir),
        "REDIS_URL": settings.redis_url or "",
        "REELGRAPH_REDIS_PREFIX": settings.redis_prefix,
        "REELGRAPH_RUN_WORKER": "false",
        **unlimited_env(),
    }
    if settings.database_url:
        env["DATABASE_URL"] = settings.database_url
    code = (
        "import uvicorn; from gql.app import create_app; from services.settings import Settings;"
        f"uvicorn.run(create_app(Settings()), host='127.0.0.1', port={port},"
        " ws='websockets-sansio', log_level='warning')"
    )
    proc = await asyncio.create_subprocess_exec(sys.executable, "-c", code, cwd=ROOT, env=env)
    base_url = f"http://127.0.0.1:{port}"
    try:
        async with httpx.AsyncClient(base_url=base_url) as http, asyncio.timeout(60):
            while True:
                if proc.returncode is not None:
                    raise RuntimeError(f"the API process exited with {proc.returncode}")
                with contextlib.suppress(httpx.TransportError):
                    if (await http.get("/healthz")).status_code == 200:
                        break
                await asyncio.sleep(0.05)  # polling a server that is coming up
        yield proc, base_url
    finally:
        if proc.returncode is None:
            proc.send_signal(signal.SIGKILL)
        await proc.wait()
