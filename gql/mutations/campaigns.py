from __future__ import annotations

from typing import Annotated

import strawberry
from sqlalchemy.ext.asyncio import AsyncSession

from gql import ids
from gql.context import Info
from gql.inputs import CreateCampaignInput, DeleteInput, UpdateCampaignInput
from gql.mutations.base import DeletePayload, DeleteResult, mutate
from gql.types.campaigns import Campaign
from gql.types.errors import UserError
from services import campaigns
from services.viewer import Viewer


@strawberry.type
class CampaignPayload:
    campaign: Campaign


CampaignResult = Annotated[CampaignPayload | UserError, strawberry.union("CampaignResult")]


@strawberry.type
class CampaignMutations:
    @strawberry.mutation
    async def create_campaign(self, info: Info, input: CreateCampaignInput) -> CampaignResult:
        async def work(session: AsyncSession, viewer: Viewer) -> CampaignPayload:
            client_id = ids.decode(input.client_id, "Client", "clientId")
            row = await campaigns.create_campaign(session, viewer, client_id, input.values())
            return CampaignPayload(campaign=Campaign.from_row(row))

        return await mutate(info, work)

    @strawberry.mutation(description="Change a campaign; fields left out stay as they are.")
    async def update_campaign(self, info: Info, input: UpdateCampaignInput) -> CampaignResult:
        async def work(session: AsyncSession, viewer: Viewer) -> CampaignPayload:
            campaign_id = ids.decode(input.id, "Campaign", "id")
            row = await campaigns.update_campaign(session, viewer, campaign_id, input.values())
            return CampaignPayload(campaign=Campaign.from_row(row))

        return await mutate(info, work)

    @strawberry.mutation(description="Delete a campaign with its assets and jobs.")
    async def delete_campaign(self, info: Info, input: DeleteInput) -> DeleteResult:
        async def work(session: AsyncSession, viewer: Viewer) -> DeletePayload:
            campaign_id = ids.decode(input.id, "Campaign", "id")
            await campaigns.delete_campaign(session, viewer, campaign_id)
            return DeletePayload(deleted_id=input.id)

        return await mutate(info, work)
