"""`reelgraph keys create|list|revoke`: API keys, straight in the database.

A revocation is also published on the API's Redis (REDIS_URL, or the embedded server's
socket while `serve` runs), so running API processes forget the key at once.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import replace
from typing import Annotated

import typer
from arq.connections import RedisSettings, create_pool
from redis.exceptions import RedisError

from gql import ids
from gql.cli.local import DataDir, fail, run_local, settings_for
from services import api_keys
from services.broker import Broker
from services.errors import ServiceError
from services.queue.arq_broker import ArqBroker
from services.queue.embedded_redis import EmbeddedRedis
from services.runtime import Runtime
from services.settings import Settings
from services.uow import unit_of_work

REDIS_TIMEOUT_SECONDS = 2


def _client_id(value: str) -> uuid.UUID:
    """A client's row id from its global ID (as the API shows it) or its UUID."""
    try:
        return uuid.UUID(value)
    except ValueError:
        return ids.decode(value, "Client", "clientId")


def create(
    admin: Annotated[bool, typer.Option("--admin", help="A key that sees every client.")] = False,
    client: Annotated[
        str | None,
        typer.Option("--client", metavar="CLIENT_ID", help="Scope the key to this client."),
    ] = None,
    name: Annotated[
        str | None, typer.Option(metavar="NAME", help="A label to recognise the key by.")
    ] = None,
    data_dir: DataDir = None,
) -> None:
    """Create a key; the key itself is printed alone on the last line."""
    if admin == (client is not None):
        typer.echo("error: give exactly one of --admin or --client CLIENT_ID", err=True)
        raise typer.Exit(2)
    try:
        client_id = _client_id(client) if client is not None else None
    except ServiceError as exc:
        fail(exc)

    async def work(runtime: Runtime) -> str:
        async with unit_of_work(runtime.session_factory) as session:
            issued = await api_keys.create_key(session, admin=admin, client_id=client_id, name=name)
            return issued.secret

    secret = run_local(settings_for(data_dir), work)
    scope = "admin" if admin else f"client {client}"
    typer.echo(f"created {scope} key (store it now: it cannot be shown again)")
    typer.echo(secret)


def revoke(
    key: Annotated[str, typer.Argument(metavar="KEY", help="The key, its prefix or its id.")],
    data_dir: DataDir = None,
) -> None:
    """Revoke a key: it stops working on the next request."""
    settings = settings_for(data_dir)

    async def work(runtime: Runtime) -> str:
        async with (
            _servers(settings) as broker,
            unit_of_work(runtime.session_factory) as session,
        ):
            return (await api_keys.revoke_key(session, key, broker=broker)).prefix

    typer.echo(f"revoked key {run_local(settings, work)}")


@asynccontextmanager
async def _servers(settings: Settings) -> AsyncIterator[Broker | None]:
    """A broker on the API's Redis, or None when no server can hear: no embedded server
    runs, or Redis does not answer (then say how long a server may still take the key)."""
    url = settings.redis_url
    if url is None:
        socket = EmbeddedRedis(settings.data_dir).socket
        if not socket.exists():  # `serve` is not running: nothing has the key cached
            yield None
            return
        url = f"unix://{socket}"
    redis = replace(RedisSettings.from_dsn(url), conn_timeout=REDIS_TIMEOUT_SECONDS, conn_retries=0)
    try:
        pool = await create_pool(redis)
    except (RedisError, OSError, TimeoutError) as exc:
        typer.echo(
            f"warning: Redis did not answer ({exc}); running servers may accept the key "
            f"for up to {settings.key_cache_seconds:g} s more",
            err=True,
        )
        pool = None
    if pool is None:
        yield None
        return
    try:
        yield ArqBroker(pool, prefix=settings.redis_prefix)
    finally:
        await pool.aclose()


def list_(data_dir: DataDir = None) -> None:
    """List keys (prefixes only: secrets are never stored)."""

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
    for line in run_local(settings_for(data_dir), work):
        typer.echo(line)
