"""`reelgraph export-schema` and `gc`: the schema this code serves, and media no asset
references any more."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from gql.cli.local import DataDir, run_local, settings_for
from services.assets import referenced_storage_keys
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
