"""A TCP relay for tests that cut connections, as a network blip would."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable

import httpx


@contextlib.asynccontextmanager
async def cuttable(base_url: str) -> AsyncIterator[tuple[str, Callable[[], int]]]:
    """A TCP relay in front of `base_url`; `cut()` aborts every connection through it
    (like a network blip) and says how many it cut. New connections still go through."""
    target = httpx.URL(base_url)
    open_writers: set[asyncio.StreamWriter] = set()

    async def pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(ConnectionError, OSError):
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        writer.close()

    async def relay(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection(target.host, target.port)
        open_writers.update((writer, up_writer))
        try:
            await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))
        finally:
            open_writers.difference_update((writer, up_writer))

    def cut() -> int:
        cut = len(open_writers)
        for writer in list(open_writers):
            writer.transport.abort()
        return cut

    server = await asyncio.start_server(relay, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}", cut
    finally:
        server.close()
        cut()
        await server.wait_closed()
