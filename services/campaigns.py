"""Campaigns: a client's goal, audience, product and budget."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy import ColumnElement, select
from sqlalchemy.ext.asyncio import AsyncSession

from db.models import Campaign, CampaignStatus
from services import validation
from services.clients import get_client
from services.errors import NotFound
from services.pagination import Page, PageArgs, count_by_parent, fetch_pages_by_parent
from services.viewer import Viewer


async def get_campaign(
    session: AsyncSession, viewer: Viewer, campaign_id: uuid.UUID, field: str = "id"
) -> Campaign:
    campaign = await session.get(Campaign, campaign_id)
    if campaign is None or not viewer.can_access(campaign.client_id):
        raise NotFound("no such campaign", field=field)
    return campaign


def campaign_filters(status: CampaignStatus | None) -> list[ColumnElement[bool]]:
    return [] if status is None else [Campaign.status == status]


async def pages_for_clients(
    session: AsyncSession,
    client_ids: Sequence[uuid.UUID],
    status: CampaignStatus | None,
    args: PageArgs,
) -> dict[uuid.UUID, Page[Campaign]]:
    return await fetch_pages_by_parent(
        session, Campaign, Campaign.client_id, client_ids, campaign_filters(status), args
    )


async def counts_for_clients(
    session: AsyncSession, client_ids: Sequence[uuid.UUID], status: CampaignStatus | None
) -> dict[uuid.UUID, int]:
    return await count_by_parent(session, Campaign.client_id, client_ids, campaign_filters(status))


async def load_campaigns(session: AsyncSession, ids: Sequence[uuid.UUID]) -> list[Campaign]:
    return list(await session.scalars(select(Campaign).where(Campaign.id.in_(ids))))


def _apply(campaign: Campaign, fields: dict[str, Any]) -> None:
    if "name" in fields:
        campaign.name = validation.name(fields["name"] or "")
    if "goal" in fields:
        campaign.goal = validation.optional_text(fields["goal"], "goal")
    if "audience" in fields:
        campaign.audience = validation.optional_text(fields["audience"], "audience")
    if "product_url" in fields:
        campaign.product_url = validation.url(fields["product_url"], "productUrl")
    if "budget_usd" in fields:
        campaign.budget_usd = validation.money(fields["budget_usd"], "budgetUsd")
    if "metadata" in fields:
        campaign.metadata_ = validation.metadata(fields["metadata"])
    if fields.get("status") is not None:
        campaign.status = CampaignStatus(fields["status"])


async def create_campaign(
    session: AsyncSession, viewer: Viewer, client_id: uuid.UUID, fields: dict[str, Any]
) -> Campaign:
    client = await get_client(session, viewer, client_id, field="clientId")
    campaign = Campaign(client_id=client.id, metadata_={})
    _apply(campaign, {"name": "", **fields})
    session.add(campaign)
    await session.flush()
    return campaign


async def update_campaign(
    session: AsyncSession, viewer: Viewer, campaign_id: uuid.UUID, changes: dict[str, Any]
) -> Campaign:
    campaign = await get_campaign(session, viewer, campaign_id)
    _apply(campaign, changes)
    await session.flush()
    return campaign


async def delete_campaign(
    session: AsyncSession, viewer: Viewer, campaign_id: uuid.UUID
) -> Campaign:
    campaign = await get_campaign(session, viewer, campaign_id)
    await session.delete(campaign)
    await session.flush()
    return campaign
