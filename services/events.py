"""The durable progress log: every transition appends a JobEvent in the same
transaction, with the job's next `seq`, and is published after commit."""

from __future__ import annotations

import json
import uuid
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased
from sqlalchemy.orm.attributes import set_committed_value

from db.base import utcnow
from db.models import Job, JobEvent, SubJob
from services.broker import Broker, publish_after_commit


def event_payload(event: JobEvent, campaign_id: uuid.UUID) -> dict[str, Any]:
    return {
        "jobId": str(event.job_id),
        "campaignId": str(campaign_id),
        "subJobId": str(event.sub_job_id) if event.sub_job_id else None,
        "seq": event.seq,
        "type": event.type,
        "status": event.status,
        "progress": event.progress,
        "message": event.message,
        "data": event.data,
        "createdAt": event.created_at.isoformat(),
    }


async def append_event(
    session: AsyncSession,
    broker: Broker,
    job: Job,
    *,
    type: str,
    status: str,
    sub_job: SubJob | None = None,
    progress: float | None = None,
    message: str | None = None,
    data: dict[str, Any] | None = None,
) -> JobEvent:
    # An atomic increment also locks the job row until commit, so concurrent
    # writers of one job's log queue up instead of colliding on `seq`.
    seq = await session.scalar(
        update(Job)
        .where(Job.id == job.id)
        .values(last_seq=Job.last_seq + 1, updated_at=utcnow())
        .returning(Job.last_seq)
    )
    assert seq is not None
    set_committed_value(job, "last_seq", seq)
    event = JobEvent(
        job_id=job.id,
        sub_job_id=sub_job.id if sub_job else None,
        seq=seq,
        type=type,
        status=status,
        progress=progress,
        message=message,
        data=data or {},
        created_at=utcnow(),
    )
    session.add(event)
    await session.flush()
    message_json = json.dumps(event_payload(event, job.campaign_id))
    publish_after_commit(session, broker, broker.channel("job", job.id), message_json)
    publish_after_commit(session, broker, broker.channel("campaign", job.campaign_id), message_json)
    return event


async def events_after(
    session: AsyncSession, job_id: uuid.UUID, after_seq: int, limit: int = 1000
) -> list[JobEvent]:
    stmt = (
        select(JobEvent)
        .where(JobEvent.job_id == job_id, JobEvent.seq > after_seq)
        .order_by(JobEvent.seq)
        .limit(limit)
    )
    return list(await session.scalars(stmt))


async def events_for_jobs(
    session: AsyncSession, job_ids: Sequence[uuid.UUID], after_seq: int, limit: int
) -> dict[uuid.UUID, list[JobEvent]]:
    """`events_after` for many jobs in one statement: ROW_NUMBER() per job, cut at `limit`."""
    rank = func.row_number().over(partition_by=JobEvent.job_id, order_by=JobEvent.seq).label("rank")
    inner = (
        select(JobEvent, rank)
        .where(JobEvent.job_id.in_(job_ids), JobEvent.seq > after_seq)
        .subquery()
    )
    event = aliased(JobEvent, inner)
    stmt = select(event).where(inner.c.rank <= limit).order_by(inner.c.job_id, inner.c.seq)
    grouped: dict[uuid.UUID, list[JobEvent]] = defaultdict(list)
    for row in await session.scalars(stmt):
        grouped[row.job_id].append(row)
    return {job_id: grouped[job_id] for job_id in job_ids}
