"""Budgets: a launch that would take a campaign past its budget is refused."""

from __future__ import annotations

import uuid
from decimal import Decimal

from sqlalchemy import case, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from db.models import Campaign, Job, JobStatus
from services.errors import BudgetExceeded

FINAL = (JobStatus.SUCCEEDED, JobStatus.FAILED, JobStatus.CANCELED)


async def committed_spend(session: AsyncSession, campaign_id: uuid.UUID) -> Decimal:
    """Actual cost of finished jobs plus the larger of estimate and actual for open ones."""
    open_cost = case(
        (Job.cost_actual_usd > Job.cost_estimate_usd, Job.cost_actual_usd),
        else_=Job.cost_estimate_usd,
    )
    amount = case((Job.status.in_(FINAL), Job.cost_actual_usd), else_=open_cost)
    total = await session.scalar(
        select(func.coalesce(func.sum(amount), 0)).where(Job.campaign_id == campaign_id)
    )
    return Decimal(str(total)).quantize(Decimal("0.0001"))


async def lock_campaign(session: AsyncSession, campaign_id: uuid.UUID) -> Campaign | None:
    """The campaign row, locked for this transaction (concurrent launches queue up)."""
    stmt = (
        select(Campaign)
        .where(Campaign.id == campaign_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    return await session.scalar(stmt)


async def check_budget(session: AsyncSession, campaign: Campaign, extra: Decimal) -> None:
    if campaign.budget_usd is None:
        return
    spent = await committed_spend(session, campaign.id)
    if spent + extra > campaign.budget_usd:
        remaining = max(Decimal(0), campaign.budget_usd - spent)
        raise BudgetExceeded(
            f"this costs ${extra} but the campaign has ${remaining} of its "
            f"${campaign.budget_usd} budget left",
            field="campaignId",
        )
