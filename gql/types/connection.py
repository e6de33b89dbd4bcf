"""Relay cursor connections built from a service `Page`."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Generic, TypeVar, cast

import strawberry
from strawberry import relay

from gql.context import Info
from gql.types.rows import RowEdges, RowMaker
from services.pagination import Cursor, Keyed, Page, PageArgs

NodeT = TypeVar("NodeT")
RowT = TypeVar("RowT", bound=Keyed)


@strawberry.type
class Edge(Generic[NodeT]):
    node: NodeT
    row: strawberry.Private[Keyed]

    @strawberry.field(description="Where this edge is: pass it as `after` for the next page.")
    def cursor(self) -> str:
        return Cursor.of(self.row).encode()  # made only when asked for


@strawberry.type
class Connection(Generic[NodeT]):
    edges: list[Edge[NodeT]]
    page_info: relay.PageInfo
    count: strawberry.Private[Callable[[], Awaitable[int]]]

    @strawberry.field(description="How many items match, across all pages.")
    async def total_count(self) -> int:
        return await self.count()

    @strawberry.field(description="The nodes of `edges`, for clients that need no cursors.")
    def nodes(self) -> list[NodeT]:
        return [edge.node for edge in self.edges]

    @classmethod
    def of(
        cls,
        page: Page[RowT],
        convert: Callable[[RowT], NodeT],
        count: Callable[[], Awaitable[int]],
        *,
        has_previous: bool,
    ) -> Connection[NodeT]:
        rows = page.rows
        edges: Sequence[Edge[NodeT]] = (
            RowEdges(rows, convert, Edge)  # made when read, if ever (gql.types.rows)
            if isinstance(convert, RowMaker)
            else [Edge(node=convert(row), row=row) for row in rows]
        )
        return cls(
            edges=cast("list[Edge[NodeT]]", edges),
            page_info=PageInfo(rows, has_next=page.has_next, has_previous=has_previous),
            count=count,
        )


class PageInfo(relay.PageInfo):
    """Relay's `PageInfo`, its cursors encoded when read: most pages are asked for
    `endCursor` alone, or for nothing but `hasNextPage`, and a cursor costs 3 us."""

    def __init__(self, rows: Sequence[Keyed], *, has_next: bool, has_previous: bool) -> None:
        self.has_next_page = has_next
        self.has_previous_page = has_previous
        self._rows = rows

    @property  # a field of relay's, read-only here
    def start_cursor(self) -> str | None:  # type: ignore[override]
        return Cursor.of(self._rows[0]).encode() if self._rows else None

    @property
    def end_cursor(self) -> str | None:  # type: ignore[override]
        return Cursor.of(self._rows[-1]).encode() if self._rows else None


def page_args(info: Info, first: int | None, after: str | None) -> PageArgs:
    """A connection's `first` and `after`, checked against the server's page sizes."""
    settings = info.context.runtime.settings
    return PageArgs.parse(
        first, after, default=settings.default_page_size, maximum=settings.max_page_size
    )
