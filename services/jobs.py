"""Reading generation jobs and their sub-jobs (launching them is `services.generation`)."""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any, Protocol

from sqlalchemy import ColumnElement, select
from sqlalchemy.ext.asyncio import AsyncSession

from db.models import Campaign, Job, JobKind, JobStatus, SubJob
from services.errors import NotFound
from services.pagination import Columns, Page, PageArgs, count_by_parent, fetch_pages_by_parent
from services.viewer import Viewer


class JobRow(Protocol):
    """A job as reads return it: a row of every column (a `Job` also is one)."""

    @property
    def id(self) -> uuid.UUID: ...
    @property
    def campaign_id(self) -> uuid.UUID: ...
    @property
    def kind(self) -> JobKind: ...
    @property
    def status(self) -> JobStatus: ...
    @property
    def model(self) -> str | None: ...
    @property
    def params(self) -> dict[str, Any]: ...
    @property
    def cost_estimate_usd(self) -> Decimal: ...
    @property
    def cost_actual_usd(self) -> Decimal: ...
    @property
    def error_code(self) -> str | None: ...
    @property
    def error(self) -> str | None: ...
    @property
    def output_asset_id(self) -> uuid.UUID | None: ...
    @property
    def last_seq(self) -> int: ...
    @property
    def started_at(self) -> datetime | None: ...
    @property
    def finished_at(self) -> datetime | None: ...
    @property
    def created_at(self) -> datetime: ...
    @property
    def updated_at(self) -> datetime: ...


JOB_COLUMNS: Columns[JobRow] = Columns(Job)


@dataclass(frozen=True, slots=True)
class JobFilter:
    status: JobStatus | None = None
    kind: JobKind | None = None
    model: str | None = None

    def clauses(self) -> list[ColumnElement[bool]]:
        out: list[ColumnElement[bool]] = []
        if self.status is not None:
            out.append(Job.status == self.status)
        if self.kind is not None:
            out.append(Job.kind == self.kind)
        if self.model is not None:
            out.append(Job.model == self.model)
        return out


async def get_job(
    session: AsyncSession, viewer: Viewer, job_id: uuid.UUID, field: str = "id"
) -> Job:
    row = (
        await session.execute(
            select(Job, Campaign.client_id)
            .join(Campaign, Campaign.id == Job.campaign_id)
            .where(Job.id == job_id)
        )
    ).first()
    if row is None or not viewer.can_access(row[1]):
        raise NotFound("no such job", field=field)
    return row[0]


async def load_jobs(session: AsyncSession, ids: Sequence[uuid.UUID]) -> list[JobRow]:
    return await JOB_COLUMNS.where(session, Job.id.in_(ids))


async def pages_for_campaigns(
    session: AsyncSession, campaign_ids: Sequence[uuid.UUID], flt: JobFilter, args: PageArgs
) -> dict[uuid.UUID, Page[JobRow]]:
    return await fetch_pages_by_parent(
        session, JOB_COLUMNS, Job.campaign_id, campaign_ids, flt, args
    )


async def counts_for_campaigns(
    session: AsyncSession, campaign_ids: Sequence[uuid.UUID], flt: JobFilter
) -> dict[uuid.UUID, int]:
    return await count_by_parent(session, Job.campaign_id, campaign_ids, flt.clauses())


async def sub_jobs_for_jobs(
    session: AsyncSession, job_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, list[SubJob]]:
    out: dict[uuid.UUID, list[SubJob]] = defaultdict(list)
    stmt = select(SubJob).where(SubJob.job_id.in_(job_ids)).order_by(SubJob.index)
    for sub in await session.scalars(stmt):
        out[sub.job_id].append(sub)
    return {job_id: out[job_id] for job_id in job_ids}
