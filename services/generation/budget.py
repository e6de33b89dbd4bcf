"""Budgets: a launch that would take a campaign past its budget is refused.

Money is atomic on both databases because a check runs under the campaign's row lock,
taken as a write (`lock_campaign`): on PostgreSQL concurrent spenders of one campaign
queue on the row; on SQLite the write starts the database's single write transaction
at once (as `BEGIN IMMEDIATE` would), so the spend is summed with no other writer, in
this process or another, between the check and the commit. (SQLite ignores `SELECT ...
FOR UPDATE`, and its driver runs reads that come before a transaction's first write
outside the transaction, so a locking read would lock nothing there.)
Lock order: a job's sub-jobs, then the job, then its campaign."""

from __future__ import annotations

import uuid
from decimal import Decimal

from sqlalchemy import case, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from db.models import Campaign, Job, JobStatus
from services.errors import BudgetExceeded, NotFound

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
    """The campaign row, locked until this transaction ends (concurrent spenders queue
    up). The lock is a no-op write, which leaves `updated_at` alone."""
    stmt = (
        update(Campaign)
        .where(Campaign.id == campaign_id)
        .values(updated_at=Campaign.updated_at)
        .returning(Campaign)
    )
    return await session.scalar(stmt, execution_options={"populate_existing": True})


async def check_budget(session: AsyncSession, campaign_id: uuid.UUID, extra: Decimal) -> Campaign:
    """Lock the campaign and refuse `extra` dollars more if they do not fit; the rows that
    spend them are written in this transaction, before the lock is let go at its end."""
    campaign = await lock_campaign(session, campaign_id)
    if campaign is None:
        raise NotFound("no such campaign", field="campaignId")
    if campaign.budget_usd is None:
        return campaign
    spent = await committed_spend(session, campaign.id)
    if spent + extra > campaign.budget_usd:
        remaining = max(Decimal(0), campaign.budget_usd - spent)
        raise BudgetExceeded(
            f"this costs ${extra} but the campaign has ${remaining} of its "
            f"${campaign.budget_usd} budget left",
            field="campaignId",
        )
    return campaign
