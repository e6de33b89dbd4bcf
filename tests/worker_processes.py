"""The production shape in tests: an API without a worker inside, and `reelgraph worker`
processes beside it on the same database and Redis."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from starlette.applications import Starlette

from gql.app import create_app
from services.settings import Settings


@asynccontextmanager
async def api_beside_workers(
    app_settings: Settings, test_settings: Settings, database_url: str | None
) -> AsyncIterator[tuple[Starlette, dict[str, str]]]:
    """The API (its lifespan entered) and the environment a worker process needs to
    share its database, Redis (the embedded one's socket in SQLite mode) and provider."""
    data = app_settings.data_dir
    app = create_app(app_settings)
    async with app.router.lifespan_context(app):
        redis_url = test_settings.redis_url or f"unix://{(data / 'redis.sock').resolve()}"
        db_url = database_url or f"sqlite:///{(data / 'reelgraph.db').resolve()}"
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("REELGRAPH_")},
            "REELGRAPH_DATA_DIR": str(data),
            "DATABASE_URL": db_url,
            "REDIS_URL": redis_url,
            "REELGRAPH_REDIS_PREFIX": app_settings.redis_prefix,
            "GENERATION_PROVIDER": app_settings.generation_provider,
            "REPLICATE_API_TOKEN": app_settings.replicate_api_token or "",
            "REPLICATE_API_BASE": app_settings.replicate_api_base,
            "REELGRAPH_POLL_INITIAL_SECONDS": "0.05",
            "REELGRAPH_POLL_MAX_SECONDS": "0.2",
        }
        yield app, env


def start_worker(env: dict[str, str], started: list[subprocess.Popen[bytes]]) -> None:
    started.append(
        subprocess.Popen(
            [sys.executable, "-c", "from gql.cli import main; main()", "worker"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
    )


def processes() -> dict[int, tuple[int, str, list[str]]]:
    """Linux: every process as pid -> (parent pid, state letter, argv); zombies have none."""
    found: dict[int, tuple[int, str, list[str]]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            argv = (entry / "cmdline").read_bytes().decode(errors="replace").split("\0")
        except OSError:  # it ended while we looked
            continue
        # `pid (comm) state ppid ...`: comm may hold spaces and parentheses
        state, ppid = stat[stat.rindex(")") + 2 :].split()[:2]
        found[int(entry.name)] = (int(ppid), state, [a for a in argv if a])
    return found


def running(pid: int) -> bool:
    """Whether `pid` still runs (a zombie has ended: it only waits to be reaped)."""
    found = processes().get(pid)
    return found is not None and found[1] not in ("Z", "X")
