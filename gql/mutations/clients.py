from __future__ import annotations

from typing import Annotated

import strawberry
from sqlalchemy.ext.asyncio import AsyncSession

from gql import ids
from gql.context import Info
from gql.inputs import CreateClientInput, DeleteInput, UpdateClientInput
from gql.mutations.base import DeletePayload, DeleteResult, mutate
from gql.types.clients import Client
from gql.types.errors import UserError
from services import clients
from services.viewer import Viewer


@strawberry.type
class ClientPayload:
    client: Client


ClientResult = Annotated[ClientPayload | UserError, strawberry.union("ClientResult")]


@strawberry.type
class ClientMutations:
    @strawberry.mutation(description="Create a client (admin keys only).")
    async def create_client(self, info: Info, input: CreateClientInput) -> ClientResult:
        async def work(session: AsyncSession, viewer: Viewer) -> ClientPayload:
            row = await clients.create_client(session, viewer, input.values())
            return ClientPayload(client=Client.from_row(row))

        return await mutate(info, work)

    @strawberry.mutation(description="Change a client; fields left out stay as they are.")
    async def update_client(self, info: Info, input: UpdateClientInput) -> ClientResult:
        async def work(session: AsyncSession, viewer: Viewer) -> ClientPayload:
            client_id = ids.decode(input.id, "Client", "id")
            row = await clients.update_client(session, viewer, client_id, input.values())
            return ClientPayload(client=Client.from_row(row))

        return await mutate(info, work)

    @strawberry.mutation(description="Delete a client with its campaigns, assets and jobs.")
    async def delete_client(self, info: Info, input: DeleteInput) -> DeleteResult:
        async def work(session: AsyncSession, viewer: Viewer) -> DeletePayload:
            client_id = ids.decode(input.id, "Client", "id")
            await clients.delete_client(session, viewer, client_id, broker=info.context.broker)
            return DeletePayload(deleted_id=input.id)

        return await mutate(info, work)
