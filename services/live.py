"""What live subscriptions read from the progress log besides `events_after`: where a
job's log ends, and where each running job of a campaign stood when a watcher arrived."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from db.models import Job, JobEvent, JobStatus

FINAL_STATUSES = frozenset(
    s.value for s in (JobStatus.SUCCEEDED, JobStatus.FAILED, JobStatus.CANCELED)
)


def is_final_event(type: str, status: str) -> bool:
    """A job.status event into succeeded, failed or canceled ends a job's stream."""
    return type == "job.status" and status in FINAL_STATUSES


@dataclass(frozen=True, slots=True)
class JobHead:
    status: JobStatus
    last_seq: int

    @property
    def final(self) -> bool:
        return self.status.value in FINAL_STATUSES


async def job_head(session: AsyncSession, job_id: uuid.UUID) -> JobHead | None:
    row = (await session.execute(select(Job.status, Job.last_seq).where(Job.id == job_id))).first()
    return JobHead(status=row[0], last_seq=row[1]) if row else None


async def campaign_job_seqs(
    session: AsyncSession, campaign_id: uuid.UUID, touched_since: datetime
) -> dict[uuid.UUID, int]:
    """The last `seq` of the campaign's jobs that are running or were touched since."""
    stmt = select(Job.id, Job.last_seq).where(
        Job.campaign_id == campaign_id,
        or_(
            Job.status.not_in([JobStatus(s) for s in FINAL_STATUSES]),
            Job.updated_at >= touched_since,
        ),
    )
    return {job_id: seq for job_id, seq in (await session.execute(stmt)).all()}


async def last_final_seq(session: AsyncSession, job_id: uuid.UUID, before: int) -> int:
    """The `seq` of the job's latest final job.status event before `before` (0 if none):
    a job that had ended when a campaign watcher arrived restarts right after it."""
    stmt = select(func.max(JobEvent.seq)).where(
        JobEvent.job_id == job_id,
        JobEvent.seq < before,
        JobEvent.type == "job.status",
        JobEvent.status.in_(sorted(FINAL_STATUSES)),
    )
    return int(await session.scalar(stmt) or 0)
