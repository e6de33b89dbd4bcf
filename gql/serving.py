"""Serve an ASGI app for real inside the caller's event loop, on 127.0.0.1 and a port the
OS picks unless told otherwise (`reelgraph demo`, the tests' and benchmarks' loopback
servers: shared, so this module is not part of gql.cli).

async with serve_app(app) as base_url:   # "http://127.0.0.1:54321"
    ...
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator, Iterator
from typing import Any

import uvicorn
from starlette.types import ASGIApp


class _Server(uvicorn.Server):
    """A uvicorn server that says when it listens and leaves signals to its caller (pytest,
    or asyncio.run, whose cancellation of the demo stops the server)."""

    def __init__(self, config: uvicorn.Config) -> None:
        super().__init__(config)
        self.ready = asyncio.Event()

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        try:
            await super().startup(sockets)
        except SystemExit:  # uvicorn exits the process when the app's lifespan startup fails
            self.should_exit = True
            return
        self.ready.set()

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


def base_url(host: str, port: int) -> str:
    """The URL a browser on this machine opens for a server bound to `host`:`port` (an
    any-address bind is reached on loopback; an IPv6 address goes in brackets)."""
    host = {"": "127.0.0.1", "0.0.0.0": "127.0.0.1", "::": "::1"}.get(host, host)  # noqa: S104
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


@contextlib.asynccontextmanager
async def serve_app(
    app: ASGIApp, *, host: str = "127.0.0.1", port: int = 0, **options: Any
) -> AsyncIterator[str]:
    """Run `app` (lifespan included) until the block ends; yields its base URL. `port` 0
    takes a free one; a port already taken raises OSError before the app starts.

    `options` go to `uvicorn.Config` (e.g. `ws="websockets-sansio"` for a WebSocket app).
    """
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
    try:
        if port:  # as uvicorn does: a port a previous run left in TIME_WAIT is free to take
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    port = sock.getsockname()[1]
    settings: dict[str, Any] = {
        "log_config": None,
        "log_level": "warning",
        "access_log": False,
        "ws": "none",
        "timeout_graceful_shutdown": 5,
        **options,
    }
    server = _Server(uvicorn.Config(app, **settings))
    serving = asyncio.create_task(server.serve(sockets=[sock]))
    ready = asyncio.create_task(server.ready.wait())
    try:
        await asyncio.wait({serving, ready}, return_when=asyncio.FIRST_COMPLETED)
        if not server.ready.is_set():
            await serving
            raise RuntimeError("the app failed to start (see its lifespan startup)")
        yield base_url(host, port)
    finally:
        ready.cancel()
        server.should_exit = True
        with contextlib.suppress(asyncio.CancelledError):
            await serving
        sock.close()
