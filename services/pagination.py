"""Keyset pagination, newest first, over (created_at, id); batched per parent for loaders."""

from __future__ import annotations

import base64
import json
import uuid
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Generic, Protocol, TypeVar

from sqlalchemy import ColumnElement, Select, and_, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute, aliased

from services.errors import InvalidInput


class Keyed(Protocol):
    id: Any
    created_at: Any


T = TypeVar("T", bound=Keyed)


@dataclass(frozen=True, slots=True)
class Cursor:
    created_at: datetime
    id: uuid.UUID

    def encode(self) -> str:
        raw = json.dumps([self.created_at.isoformat(), str(self.id)]).encode()
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")

    @classmethod
    def of(cls, row: Keyed) -> Cursor:
        return cls(created_at=row.created_at, id=row.id)

    @classmethod
    def decode(cls, value: str, field: str = "after") -> Cursor:
        try:
            raw = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
            created, ident = json.loads(raw)
            if not isinstance(created, str) or not isinstance(ident, str):
                raise TypeError("a cursor holds two strings")  # uuid.UUID(5): AttributeError
            at = datetime.fromisoformat(created)
            if at.tzinfo is None:  # ours are aware; a naive one fails at the bind, as a 500
                raise ValueError("naive datetime")
            return cls(created_at=at.astimezone(UTC), id=uuid.UUID(ident))
        except (ValueError, TypeError, OverflowError):  # JSON and base64 errors are ValueErrors
            raise InvalidInput("is not a cursor this API issued", field=field) from None


@dataclass(frozen=True, slots=True)
class PageArgs:
    first: int
    after: Cursor | None = None

    @classmethod
    def parse(cls, first: int | None, after: str | None, *, default: int, maximum: int) -> PageArgs:
        size = parse_first(first, default=default, maximum=maximum)
        return cls(first=size, after=Cursor.decode(after) if after else None)


def parse_first(first: int | None, *, default: int, maximum: int) -> int:
    """A page size: `default` when not given, else 0..`maximum` or INVALID_INPUT."""
    size = default if first is None else first
    if size < 0 or size > maximum:
        raise InvalidInput(f"must be between 0 and {maximum}", field="first")
    return size


@dataclass(slots=True)
class Page(Generic[T]):
    rows: list[T]
    has_next: bool


def _after(model: type[Keyed], cursor: Cursor | None) -> list[ColumnElement[bool]]:
    if cursor is None:
        return []
    return [
        or_(
            model.created_at < cursor.created_at,
            and_(model.created_at == cursor.created_at, model.id < cursor.id),
        )
    ]


async def fetch_page(
    session: AsyncSession, stmt: Select[T], model: type[T], args: PageArgs
) -> Page[T]:
    query = (
        stmt.where(*_after(model, args.after))
        .order_by(model.created_at.desc(), model.id.desc())
        .limit(args.first + 1)
    )
    rows = list(await session.scalars(query))
    return Page(rows=rows[: args.first], has_next=len(rows) > args.first)


async def fetch_pages_by_parent(
    session: AsyncSession,
    model: type[T],
    parent: InstrumentedAttribute[Any],
    parent_ids: Sequence[uuid.UUID],
    filters: Sequence[ColumnElement[bool]],
    args: PageArgs,
) -> dict[uuid.UUID, Page[T]]:
    """One statement for many parents: ROW_NUMBER() per parent, cut at first + 1."""
    order = (model.created_at.desc(), model.id.desc())
    rank = func.row_number().over(partition_by=parent, order_by=order).label("rank")
    inner = (
        select(model, rank)
        .where(parent.in_(parent_ids), *filters, *_after(model, args.after))
        .subquery()
    )
    row_alias = aliased(model, inner)
    stmt = (
        select(row_alias)
        .where(inner.c.rank <= args.first + 1)
        .order_by(inner.c[parent.key], inner.c.rank)
    )
    grouped: dict[uuid.UUID, list[T]] = defaultdict(list)
    for row in await session.scalars(stmt):
        grouped[getattr(row, parent.key)].append(row)
    return {
        pid: Page(rows=grouped[pid][: args.first], has_next=len(grouped[pid]) > args.first)
        for pid in parent_ids
    }


async def count_by_parent(
    session: AsyncSession,
    parent: InstrumentedAttribute[Any],
    parent_ids: Sequence[uuid.UUID],
    filters: Sequence[ColumnElement[bool]],
) -> dict[uuid.UUID, int]:
    stmt = select(parent, func.count()).where(parent.in_(parent_ids), *filters).group_by(parent)
    counts: dict[uuid.UUID, int] = {pid: 0 for pid in parent_ids}
    for pid, count in await session.execute(stmt):
        counts[pid] = count
    return counts
