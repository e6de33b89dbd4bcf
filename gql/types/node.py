"""What the `relay.Node` types share: their `id` field, and `resolve_nodes` for types whose
rows belong to a client (tenancy applied)."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable
from typing import Any, TypeVar

import strawberry
from strawberry.dataloader import DataLoader

from gql import ids
from gql.context import Info

RowT = TypeVar("RowT")
NodeT = TypeVar("NodeT")


ID_DESCRIPTION = "The Globally Unique ID of this object"
"""`relay.Node`'s own, so that `id: ID!` reads the same in the schema."""


def global_id(type_name: str, row_id: uuid.UUID | str) -> strawberry.ID:
    """The value of a node's `id`, made with the node.

    Each Node type declares `_id: strawberry.ID = strawberry.field(name="id", ...)`, a
    plain attribute that replaces `relay.Node`'s `_id` resolver: the same `ID!`, but
    without a resolver call (and its Info, arguments and GlobalID) for every node.
    """
    return strawberry.ID(ids.encode(type_name, row_id))


def parse_uuid(value: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(value)
    except ValueError:
        return None


async def resolve_owned(
    info: Info,
    node_ids: Iterable[str],
    loader: DataLoader[uuid.UUID, Any],
    owner: Callable[[Any], uuid.UUID],
    convert: Callable[[Any], NodeT],
) -> list[NodeT | None]:
    viewer = info.context.require_viewer()
    ids = [parse_uuid(i) for i in node_ids]
    rows = await loader.load_many([i for i in ids if i is not None])
    found = iter(rows)
    out: list[NodeT | None] = []
    for i in ids:
        row = next(found) if i is not None else None
        out.append(convert(row) if row is not None and viewer.can_access(owner(row)) else None)
    return out
