"""The `reelgraph` command: serve, migrate, keys, export-schema, gc."""

from __future__ import annotations

import asyncio
import logging
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Annotated, TypeVar

import typer

from db.migrate import upgrade
from gql import cli_live, demo
from services import api_keys
from services.assets import referenced_storage_keys
from services.errors import ServiceError
from services.runtime import Runtime
from services.settings import Settings
from services.uow import unit_of_work

T = TypeVar("T")
app = typer.Typer(help="reelgraph: GraphQL API for an AI ad-video studio.", no_args_is_help=True)
keys = typer.Typer(help="Create, list and revoke API keys.", no_args_is_help=True)
app.add_typer(keys, name="keys")

DataDir = Annotated[
    Path | None,
    typer.Option(
        "--data-dir", help="Data directory (default: $REELGRAPH_DATA_DIR or ./.reelgraph)."
    ),
]


def _settings(data_dir: Path | None) -> Settings:
    return Settings(data_dir=data_dir) if data_dir is not None else Settings()


def _run(settings: Settings, work: Callable[[Runtime], Awaitable[T]]) -> T:
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
        typer.echo(
            f"error: {exc.code}: {exc.field + ': ' if exc.field else ''}{exc.message}", err=True
        )
        raise typer.Exit(2) from None


async def _first_admin_key(runtime: Runtime) -> str | None:
    async with unit_of_work(runtime.session_factory) as session:
        if await api_keys.has_admin_key(session):
            return None
        issued = await api_keys.create_key(session, admin=True, name="first key")
        return issued.secret


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Interface to bind.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    data_dir: DataDir = None,
) -> None:
    """Run the API (and, on the embedded default, everything it needs)."""
    import uvicorn

    from gql.app import create_app

    settings = _settings(data_dir)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    if settings.embedded:
        secret = _run(settings, _first_admin_key)
        typer.echo(f"reelgraph: embedded mode, data in {settings.data_dir.resolve()}")
        if secret:
            typer.echo("An admin API key was created for you (it is shown only this once):")
            typer.echo(f"  {secret}")
            typer.echo(
                'In GraphiQL, open Headers and paste: {"Authorization": "Bearer ' + secret + '"}'
            )
    typer.echo(f"GraphiQL: http://{host}:{port}/graphql")
    uvicorn.run(
        create_app(settings),
        host=host,
        port=port,
        log_level="info",
        # Live progress sends one frame to many sockets; with permessage-deflate each
        # socket would compress its own copy of it (small JSON gains little from it).
        ws_per_message_deflate=False,
    )


@app.command()
def worker() -> None:
    """Run an arq worker for generation jobs (production: needs REDIS_URL)."""
    import uvloop

    from jobs.worker import run_worker

    settings = Settings()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    uvloop.run(run_worker(settings))  # the loop `serve` gets from uvicorn, here too


@app.command()
def migrate(data_dir: DataDir = None) -> None:
    """Apply database migrations up to the latest."""
    settings = _settings(data_dir)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    upgrade(settings.sqlalchemy_url)
    typer.echo("database is at the latest migration")


@app.command("export-schema")
def export_schema() -> None:
    """Print the GraphQL schema (SDL) this server serves."""
    from gql.schema import export_sdl

    sys.stdout.write(export_sdl())


@app.command()
def gc(
    data_dir: DataDir = None,
    grace_seconds: Annotated[
        float, typer.Option(help="Keep unreferenced blobs younger than this.")
    ] = 3600,
) -> None:
    """Delete stored media that no asset references any more."""

    async def work(runtime: Runtime) -> int:
        async with runtime.session_factory() as session:
            referenced = await referenced_storage_keys(session)
        return runtime.storage.sweep(referenced, older_than_seconds=grace_seconds)

    removed = _run(_settings(data_dir), work)
    typer.echo(f"removed {removed} unreferenced blob(s)")


@keys.command("create")
def keys_create(
    admin: Annotated[bool, typer.Option("--admin", help="A key that sees every client.")] = False,
    client: Annotated[
        str | None, typer.Option("--client", help="Scope the key to this client (ID).")
    ] = None,
    name: Annotated[str | None, typer.Option(help="A label to recognise the key by.")] = None,
    data_dir: DataDir = None,
) -> None:
    """Create a key; the key itself is printed alone on the last line."""
    from gql import ids

    if admin == (client is not None):
        typer.echo("error: give exactly one of --admin or --client CLIENT_ID", err=True)
        raise typer.Exit(2)
    client_id = None
    if client is not None:
        import uuid

        try:
            client_id = uuid.UUID(client)
        except ValueError:
            try:
                client_id = ids.decode(client, "Client", "client")
            except ServiceError:
                typer.echo(f"error: {client!r} is not a client ID", err=True)
                raise typer.Exit(2) from None

    async def work(runtime: Runtime) -> str:
        async with unit_of_work(runtime.session_factory) as session:
            issued = await api_keys.create_key(session, admin=admin, client_id=client_id, name=name)
            return issued.secret

    secret = _run(_settings(data_dir), work)
    scope = "admin" if admin else f"client {client}"
    typer.echo(f"created {scope} key (store it now: it cannot be shown again)")
    typer.echo(secret)


@keys.command("revoke")
def keys_revoke(
    key: Annotated[str, typer.Argument(help="The key, its prefix or its id.")],
    data_dir: DataDir = None,
) -> None:
    """Revoke a key: it stops working on the next request."""

    async def work(runtime: Runtime) -> str:
        async with unit_of_work(runtime.session_factory) as session:
            return (await api_keys.revoke_key(session, key)).prefix

    typer.echo(f"revoked key {_run(_settings(data_dir), work)}")


@keys.command("list")
def keys_list(data_dir: DataDir = None) -> None:
    """List keys (prefixes only: secrets are never stored)."""
    from gql import ids

    async def work(runtime: Runtime) -> list[str]:
        async with runtime.session_factory() as session:
            rows = await api_keys.list_keys(session)
        return [
            "\t".join(
                [
                    row.prefix,
                    row.role.value,
                    ids.encode("Client", row.client_id) if row.client_id else "-",
                    "revoked" if row.revoked_at else "active",
                    row.created_at.isoformat(timespec="seconds"),
                    row.name or "",
                ]
            )
            for row in rows
        ]

    typer.echo("prefix\trole\tclient\tstate\tcreated\tname")
    for line in _run(_settings(data_dir), work):
        typer.echo(line)


app.command()(cli_live.watch)
app.command()(demo.demo)


def main() -> None:
    app()
