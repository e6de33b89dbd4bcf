"""`reelgraph serve`, `worker` and `migrate`: the processes that run the service."""

from __future__ import annotations

import logging
from typing import Annotated

import typer

from db.migrate import upgrade
from gql.cli.local import DataDir, run_local, settings_for
from services import api_keys
from services.runtime import Runtime
from services.settings import Settings
from services.uow import unit_of_work

LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s %(message)s"


async def _first_admin_key(runtime: Runtime) -> str | None:
    async with unit_of_work(runtime.session_factory) as session:
        if await api_keys.has_admin_key(session):
            return None
        issued = await api_keys.create_key(session, admin=True, name="first key")
        return issued.secret


def serve(
    host: Annotated[str, typer.Option(metavar="HOST", help="Interface to bind.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(metavar="PORT", help="Port to listen on.")] = 8000,
    data_dir: DataDir = None,
) -> None:
    """Run the API (embedded default: its Redis and worker too)."""
    import uvicorn

    from gql.app import create_app
    from gql.serving import base_url

    settings = settings_for(data_dir)
    logging.basicConfig(level=logging.INFO, format=LOG_FORMAT)
    if settings.embedded:
        secret = run_local(settings, _first_admin_key)
        typer.echo(f"reelgraph: embedded mode, data in {settings.data_dir.resolve()}")
        if secret:
            typer.echo("An admin API key was created for you (it is shown only this once):")
            typer.echo(f"  {secret}")
            typer.echo("Paste it into the key bar at the top of GraphiQL or the dashboard.")
    url = base_url(host, port)
    if settings.graphiql:
        typer.echo(f"GraphiQL: {url}/graphql")
    typer.echo(f"Dashboard: {url}/dashboard")
    uvicorn.run(
        create_app(settings),
        host=host,
        port=port,
        log_level="info",
        # Live progress sends one frame to many sockets; with permessage-deflate each
        # socket would compress its own copy of it (small JSON gains little from it).
        ws_per_message_deflate=False,
    )


def worker() -> None:
    """Run a generation worker (production: needs REDIS_URL)."""
    import uvloop

    from jobs.worker import run_worker

    settings = Settings()
    logging.basicConfig(level=logging.INFO, format=LOG_FORMAT)
    uvloop.run(run_worker(settings))  # the loop `serve` gets from uvicorn, here too


def migrate(data_dir: DataDir = None) -> None:
    """Apply database migrations up to the latest."""
    settings = settings_for(data_dir)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    upgrade(settings.sqlalchemy_url)
    typer.echo("database is at the latest migration")
