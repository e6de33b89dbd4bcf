from __future__ import annotations

import inspect
from typing import Annotated

import strawberry
from strawberry import relay
from strawberry.types.base import StrawberryObjectDefinition

from gql import ids
from gql.context import Info
from gql.inputs_generation import EstimateCostInput
from gql.loaders import page_with_stats
from gql.lookahead import columns_read, node_fields
from gql.types.clients import COLUMNS_OF as CLIENT_COLUMNS_OF
from gql.types.clients import Client
from gql.types.connection import Connection, page_args
from gql.types.enums import ApiKeyRole
from gql.types.errors import UserError
from gql.types.generation import CostEstimate, ModelInfo
from services import catalog, clients
from services.errors import ServiceError
from services.generation import launch
from services.pagination import Page

EstimateResult = Annotated[CostEstimate | UserError, strawberry.union("EstimateResult")]


@strawberry.type(description="The API key making this request.")
class Viewer:
    role: ApiKeyRole
    client_id: strawberry.ID | None = strawberry.field(
        description="The client a client-scoped key is limited to (global ID)."
    )


def _node_type(info: Info, type_name: str) -> type[relay.Node] | None:
    """The object type implementing `Node` that has this name, if there is one."""
    definition = info.schema.get_type_by_name(type_name)
    if not isinstance(definition, StrawberryObjectDefinition) or definition.is_interface:
        return None
    origin = definition.origin
    return origin if isinstance(origin, type) and issubclass(origin, relay.Node) else None


@strawberry.type
class Query:
    @strawberry.field(description="Fetch any object by its global ID.")
    async def node(
        self,
        info: Info,
        id: Annotated[strawberry.ID, strawberry.argument(description="The ID of the object.")],
    ) -> relay.Node | None:
        """Null for any ID that names nothing this key can see: a missing row, another
        client's, but also a malformed ID or one of a type that has no nodes (as the
        mutations answer NOT_FOUND for all of those alike)."""
        info.context.require_viewer()
        gid = ids.parse(id)
        node_type = _node_type(info, gid.type_name) if gid is not None else None
        if gid is None or node_type is None:
            return None
        found = node_type.resolve_node(gid.node_id, info=info, required=False)
        return await found if inspect.isawaitable(found) else found

    @strawberry.field
    def viewer(self, info: Info) -> Viewer:
        viewer = info.context.require_viewer()
        client = ids.encode("Client", viewer.client_id) if viewer.client_id else None
        return Viewer(role=viewer.role, client_id=strawberry.ID(client) if client else None)

    @strawberry.field(description="The model catalog: names, limits and prices.")
    def models(self, kind: str | None = None) -> list[ModelInfo]:
        return [ModelInfo.of(s) for s in catalog.MODELS.values() if kind in (None, s.kind)]

    @strawberry.field(description="Price a generation (any generation input) without launching it.")
    async def estimate_cost(self, info: Info, input: EstimateCostInput) -> EstimateResult:
        viewer = info.context.require_viewer()
        try:  # a read: a session that never commits, not a mutation's unit of work
            request = input.request()
            async with info.context.reads() as session:
                return CostEstimate.of(await launch.estimate_cost(session, viewer, request))
        except ServiceError as exc:
            return UserError.of(exc)

    @strawberry.field(description="Clients this key can see, newest first.")
    async def clients(
        self, info: Info, first: int | None = None, after: str | None = None
    ) -> Connection[Client]:
        viewer = info.context.require_viewer()
        args = page_args(info, first, after)
        only = columns_read(info, CLIENT_COLUMNS_OF)

        async def read(with_stats: bool) -> Page[clients.ClientRow]:
            async with info.context.reads() as session:
                return await clients.list_clients(session, viewer, args, only, with_stats)

        page = await page_with_stats(read, "stats" in node_fields(info))
        found = page.extra or {}

        async def count() -> int:
            async with info.context.reads() as session:
                return await clients.count_clients(session, viewer)

        return Connection.of(
            page,
            lambda row: Client.from_row(row, found.get(row.id)),
            count,
            has_previous=args.after is not None,
        )
