"""Relay cursor connections built from a service `Page`."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

import strawberry
from strawberry import relay

from services.pagination import Cursor, Keyed, Page

NodeT = TypeVar("NodeT")
RowT = TypeVar("RowT", bound=Keyed)


@strawberry.type
class Edge(Generic[NodeT]):
    node: NodeT
    key: strawberry.Private[Cursor]

    @strawberry.field(description="Where this edge is: pass it as `after` for the next page.")
    def cursor(self) -> str:
        return self.key.encode()  # encoded only when asked for


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
        edges = [Edge(node=convert(row), key=Cursor.of(row)) for row in page.rows]
        return cls(
            edges=edges,
            page_info=relay.PageInfo(
                has_next_page=page.has_next,
                has_previous_page=has_previous,
                start_cursor=edges[0].key.encode() if edges else None,
                end_cursor=edges[-1].key.encode() if edges else None,
            ),
            count=count,
        )
