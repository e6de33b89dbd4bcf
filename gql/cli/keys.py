"""`reelgraph keys create|list|revoke`: API keys, straight in the database."""

from __future__ import annotations

import uuid
from typing import Annotated

import typer

from gql import ids
from gql.cli.local import DataDir, fail, run_local, settings_for
from services import api_keys
from services.errors import ServiceError
from services.runtime import Runtime
from services.uow import unit_of_work


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

    async def work(runtime: Runtime) -> str:
        async with unit_of_work(runtime.session_factory) as session:
            return (await api_keys.revoke_key(session, key)).prefix

    typer.echo(f"revoked key {run_local(settings_for(data_dir), work)}")


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
