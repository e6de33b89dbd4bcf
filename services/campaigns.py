"""Campaigns: a client's goal, audience, product and budget."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any, Protocol

from sqlalchemy import ColumnElement
from sqlalchemy.ext.asyncio import AsyncSession

from db.models import Campaign, CampaignStatus
from services import stats, validation
from services.clients import get_client
from services.errors import NotFound
from services.pagination import Columns, Page, PageArgs, count_by_parent, fetch_pages_by_parent
from services.viewer import Viewer


class CampaignRow(Protocol):
    """A campaign as reads return it: a row of every column (a `Campaign` also is one)."""

    @property
    def id(self) -> uuid.UUID: ...
    @property
    def client_id(self) -> uuid.UUID: ...
    @property
    def name(self) -> str: ...
    @property
    def goal(self) -> str | None: ...
    @property
    def audience(self) -> str | None: ...
    @property
    def status(self) -> CampaignStatus: ...
    @property
    def product_url(self) -> str | None: ...
    @property
    def budget_usd(self) -> Decimal | None: ...
    @property
    def metadata_(self) -> dict[str, Any]: ...
    @property
    def created_at(self) -> datetime: ...
    @property
    def updated_at(self) -> datetime: ...


CAMPAIGN_COLUMNS: Columns[CampaignRow] = Columns(Campaign)


async def get_campaign(
    session: AsyncSession, viewer: Viewer, campaign_id: uuid.UUID, field: str = "id"
) -> Campaign:
    campaign = await session.get(Campaign, campaign_id)
    if campaign is None or not viewer.can_access(campaign.client_id):
        raise NotFound("no such campaign", field=field)
    return campaign


@dataclass(frozen=True, slots=True)
class CampaignFilter:
    status: CampaignStatus | None = None

    def clauses(self) -> list[ColumnElement[bool]]:
        return [] if self.status is None else [Campaign.status == self.status]


async def pages_for_clients(
    session: AsyncSession,
    client_ids: Sequence[uuid.UUID],
    status: CampaignStatus | None,
    args: PageArgs,
    only: frozenset[str] | None = None,
    with_stats: bool = False,
) -> dict[uuid.UUID, Page[CampaignRow]]:
    """Each client's page; `only` names the columns the caller reads (None: all). The
    rows always hold their id, client and creation time; other columns not named read
    as None. `with_stats`: each campaign's `stats.CampaignStats` too (`Page.extra`)."""
    columns = CAMPAIGN_COLUMNS if only is None else CAMPAIGN_COLUMNS.only(only | _ALWAYS)
    extra = stats.CAMPAIGN_PAGE_STATS if with_stats else None
    return await fetch_pages_by_parent(
        session, columns, Campaign.client_id, client_ids, CampaignFilter(status), args, extra
    )


_ALWAYS = frozenset({"client_id"})  # `only` adds id and created_at


async def counts_for_clients(
    session: AsyncSession, client_ids: Sequence[uuid.UUID], status: CampaignStatus | None
) -> dict[uuid.UUID, int]:
    return await count_by_parent(
        session, Campaign.client_id, client_ids, CampaignFilter(status).clauses()
    )


async def load_campaigns(session: AsyncSession, ids: Sequence[uuid.UUID]) -> list[CampaignRow]:
    return await CAMPAIGN_COLUMNS.where(session, Campaign.id.in_(ids))


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
