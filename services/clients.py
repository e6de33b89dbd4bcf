"""Clients and their brand guidelines."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy import ColumnElement, bindparam, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from db.models import ApiKey, Asset, Client
from services import stats, validation
from services.api_keys import revocation_channel
from services.broker import Broker, publish_after_commit
from services.errors import Forbidden, InvalidInput, NotFound
from services.pagination import Columns, Page, PageArgs, fetch_page
from services.viewer import Viewer


class ClientRow(Protocol):
    """A client as reads return it: a row of every column (a `Client` also is one)."""

    @property
    def id(self) -> uuid.UUID: ...
    @property
    def name(self) -> str: ...
    @property
    def homepage(self) -> str | None: ...
    @property
    def brand_guidelines(self) -> dict[str, Any]: ...
    @property
    def notes(self) -> str | None: ...
    @property
    def metadata_(self) -> dict[str, Any]: ...
    @property
    def created_at(self) -> datetime: ...
    @property
    def updated_at(self) -> datetime: ...


CLIENT_COLUMNS: Columns[ClientRow] = Columns(Client)


async def get_client(
    session: AsyncSession, viewer: Viewer, client_id: uuid.UUID, field: str = "id"
) -> Client:
    """The client, or NotFound also when it belongs to another tenant (no existence leak)."""
    client = await session.get(Client, client_id)
    if client is None or not viewer.can_access(client.id):
        raise NotFound("no such client", field=field)
    return client


def visible_filter(viewer: Viewer) -> Sequence[ColumnElement[bool]]:
    return [] if viewer.is_admin else [Client.id == viewer.client_id]


@dataclass(frozen=True, slots=True)
class _Visible:
    """`visible_filter` as a page filter: the viewer's client is a bound parameter, so
    one statement serves every key of a kind (services.pagination.Filter)."""

    scoped: bool

    def clauses(self) -> list[ColumnElement[bool]]:
        return [Client.id == bindparam("viewer_client_id")] if self.scoped else []


_EVERY, _OWN = _Visible(scoped=False), _Visible(scoped=True)


async def list_clients(
    session: AsyncSession,
    viewer: Viewer,
    args: PageArgs,
    only: frozenset[str] | None = None,
    with_stats: bool = False,
) -> Page[ClientRow]:
    """A page of the clients the viewer sees; `only` names the columns the caller reads
    (None: all). The rows always hold their id and creation time; other columns not
    named read as None. `with_stats`: each client's `stats.ClientStats` too
    (`Page.extra`)."""
    columns = CLIENT_COLUMNS if only is None else CLIENT_COLUMNS.only(only)
    extra = stats.CLIENT_PAGE_STATS if with_stats else None
    if viewer.is_admin:
        return await fetch_page(session, columns, _EVERY, args, extra=extra)
    params = {"viewer_client_id": viewer.client_id}
    return await fetch_page(session, columns, _OWN, args, params, extra)


async def load_clients(session: AsyncSession, ids: Sequence[uuid.UUID]) -> list[ClientRow]:
    return await CLIENT_COLUMNS.where(session, Client.id.in_(ids))


async def _brand_guidelines(
    session: AsyncSession, client_id: uuid.UUID | None, value: dict[str, Any]
) -> dict[str, Any]:
    colours = []
    for i, entry in enumerate(value.get("colors") or []):
        label = validation.optional_text(entry.get("name"), f"brandGuidelines.colors.{i}.name", 60)
        colours.append(
            {
                "name": label,
                "hex": validation.colour(entry["hex"], f"brandGuidelines.colors.{i}.hex"),
            }
        )
    if len(colours) > 20:
        raise InvalidInput("must have at most 20 colours", field="brandGuidelines.colors")
    logo = value.get("logo_asset_id")
    if logo is not None:
        asset = await session.get(Asset, logo)
        if asset is None or client_id is None or asset.client_id != client_id:
            raise NotFound("no such asset", field="brandGuidelines.logoAssetId")
        if asset.kind != "image":
            raise InvalidInput("the logo must be an image", field="brandGuidelines.logoAssetId")
    return {
        "colors": colours,
        "tone": validation.optional_text(value.get("tone"), "brandGuidelines.tone", 2000),
        "dos": validation.string_list(value.get("dos"), "brandGuidelines.dos"),
        "donts": validation.string_list(value.get("donts"), "brandGuidelines.donts"),
        "logo_asset_id": str(logo) if logo else None,
    }


async def create_client(session: AsyncSession, viewer: Viewer, fields: dict[str, Any]) -> Client:
    if not viewer.is_admin:
        raise Forbidden("only an admin key can create clients")
    client = Client(
        name=validation.name(fields.get("name") or ""),
        homepage=validation.url(fields.get("homepage"), "homepage"),
        notes=validation.optional_text(fields.get("notes"), "notes"),
        metadata_=validation.metadata(fields.get("metadata")),
    )
    if (fields.get("brand_guidelines") or {}).get("logo_asset_id") is not None:
        raise InvalidInput(
            "upload the logo to the new client, then set it",
            field="brandGuidelines.logoAssetId",
        )
    client.brand_guidelines = await _brand_guidelines(
        session, None, fields.get("brand_guidelines") or {}
    )
    session.add(client)
    await session.flush()
    return client


async def update_client(
    session: AsyncSession, viewer: Viewer, client_id: uuid.UUID, changes: dict[str, Any]
) -> Client:
    client = await get_client(session, viewer, client_id)
    if "name" in changes:
        client.name = validation.name(changes["name"] or "")
    if "homepage" in changes:
        client.homepage = validation.url(changes["homepage"], "homepage")
    if "notes" in changes:
        client.notes = validation.optional_text(changes["notes"], "notes")
    if "metadata" in changes:
        client.metadata_ = validation.metadata(changes["metadata"])
    if "brand_guidelines" in changes:
        merged = {**client.brand_guidelines, **(changes["brand_guidelines"] or {})}
        if merged.get("logo_asset_id"):
            merged["logo_asset_id"] = uuid.UUID(str(merged["logo_asset_id"]))
        client.brand_guidelines = await _brand_guidelines(session, client.id, merged)
    await session.flush()
    return client


async def delete_client(
    session: AsyncSession, viewer: Viewer, client_id: uuid.UUID, *, broker: Broker | None
) -> Client:
    """Delete the client and, with it (the database cascades), its API keys: each key's
    revocation is published after the commit, as `revoke_key` does, so that no process
    keeps accepting one it has cached."""
    if not viewer.is_admin:
        raise Forbidden("only an admin key can delete clients")
    client = await get_client(session, viewer, client_id)
    prefixes = list(
        await session.scalars(select(ApiKey.prefix).where(ApiKey.client_id == client_id))
    )
    await session.delete(client)
    await session.flush()
    if broker is not None:
        for prefix in prefixes:
            publish_after_commit(session, broker, revocation_channel(broker), prefix)
    return client


async def count_clients(session: AsyncSession, viewer: Viewer) -> int:
    stmt = select(func.count()).select_from(Client).where(*visible_filter(viewer))
    return int(await session.scalar(stmt) or 0)
