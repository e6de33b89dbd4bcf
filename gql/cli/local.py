"""For commands that work on this machine's data: `--data-dir`, the settings, and async
work against a `Runtime` (the database migrated first on the embedded default)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Annotated, NoReturn, TypeVar

import typer

from db.migrate import upgrade
from services.errors import ServiceError
from services.runtime import Runtime
from services.settings import Settings

T = TypeVar("T")

DataDir = Annotated[
    Path | None,
    typer.Option(
        "--data-dir",
        metavar="DIR",
        help="Data directory (default: $REELGRAPH_DATA_DIR or ./.reelgraph).",
    ),
]


def settings_for(data_dir: Path | None) -> Settings:
    return Settings(data_dir=data_dir) if data_dir is not None else Settings()


def fail(exc: ServiceError) -> NoReturn:
    """A refused request as one line on stderr (`error: CODE: field: message`), exit 2."""
    field = f"{exc.field}: " if exc.field else ""
    typer.echo(f"error: {exc.code}: {field}{exc.message}", err=True)
    raise typer.Exit(2)


def run_local(settings: Settings, work: Callable[[Runtime], Awaitable[T]]) -> T:
    """`work(runtime)` on a fresh event loop; a ServiceError ends the command with `fail`."""
    if settings.embedded:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        upgrade(settings.sqlalchemy_url)

    async def main() -> T:
        runtime = Runtime.open(settings)
        try:
            return await work(runtime)
        finally:
            await runtime.close()

    try:
        return asyncio.run(main())
    except ServiceError as exc:
        fail(exc)
