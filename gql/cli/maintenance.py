"""`reelgraph export-schema`, `gc` and `thumbnails`: the schema this code serves, media no
asset references any more, and thumbnails that older assets lack."""

from __future__ import annotations

import sys
from typing import Annotated

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

from gql.cli.local import DataDir, run_local, settings_for
from services.assets import backfill_thumbnails, referenced_storage_keys
from services.runtime import Runtime


def export_schema() -> None:
    """Print the GraphQL schema (SDL) this server serves."""
    from gql.schema import export_sdl

    sys.stdout.write(export_sdl())


def gc(
    data_dir: DataDir = None,
    grace_seconds: Annotated[
        float,
        typer.Option(metavar="SECONDS", help="Keep unreferenced blobs younger than this."),
    ] = 3600,
) -> None:
    """Delete stored media that no asset references any more."""

    async def work(runtime: Runtime) -> int:
        async with runtime.session_factory() as session:
            referenced = await referenced_storage_keys(session)
        return runtime.storage.sweep(referenced, older_than_seconds=grace_seconds)

    removed = run_local(settings_for(data_dir), work)
    typer.echo(f"removed {removed} unreferenced blob(s)")


def thumbnails(data_dir: DataDir = None) -> None:
    """Make the thumbnails older assets lack."""

    async def work(runtime: Runtime) -> int:
        with Progress(
            TextColumn("thumbnails"), BarColumn(), MofNCompleteColumn(), transient=True
        ) as bar:
            task = bar.add_task("thumbnails", total=None)

            def advance(done: int, total: int) -> None:
                bar.update(task, completed=done, total=total)

            return await backfill_thumbnails(runtime, advance)

    made = run_local(settings_for(data_dir), work)
    typer.echo(f"made {made} thumbnail(s)")
