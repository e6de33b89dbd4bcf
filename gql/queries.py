from __future__ import annotations

import strawberry
from strawberry import relay

from gql.context import Info
from gql.types.clients import Client
from gql.types.connection import Connection
from gql.types.enums import ApiKeyRole
from services import clients
from services.pagination import PageArgs


@strawberry.type(description="The API key making this request.")
class Viewer:
    role: ApiKeyRole
    client_id: strawberry.ID | None = strawberry.field(
        description="The client a client-scoped key is limited to (global ID)."
    )


@strawberry.type
class Query:
    node: relay.Node | None = relay.node(description="Fetch any object by its global ID.")

    @strawberry.field
    def viewer(self, info: Info) -> Viewer:
        from gql import ids

        viewer = info.context.require_viewer()
        client = ids.encode("Client", viewer.client_id) if viewer.client_id else None
        return Viewer(role=viewer.role, client_id=strawberry.ID(client) if client else None)

    @strawberry.field(description="Clients this key can see, newest first.")
    async def clients(
        self, info: Info, first: int | None = None, after: str | None = None
    ) -> Connection[Client]:
        viewer = info.context.require_viewer()
        settings = info.context.runtime.settings
        args = PageArgs.parse(
            first, after, default=settings.default_page_size, maximum=settings.max_page_size
        )
        factory = info.context.runtime.session_factory
        async with factory() as session:
            page = await clients.list_clients(session, viewer, args)

        async def count() -> int:
            async with factory() as session:
                return await clients.count_clients(session, viewer)

        return Connection.of(page, Client.from_row, count, has_previous=args.after is not None)
