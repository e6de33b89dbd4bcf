from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from db.base import Base, BigIntPK, Timestamps, UUIDPrimaryKey, str_enum, utcnow
from db.models.enums import JobKind, JobStatus, SubJobStatus


class Job(UUIDPrimaryKey, Timestamps, Base):
    """One generation request against a campaign; its work is split into sub-jobs."""

    __tablename__ = "jobs"
    __table_args__ = (
        Index("ix_jobs_campaign_created", "campaign_id", "created_at", "id"),
        Index("ix_jobs_status", "status"),
    )

    campaign_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("campaigns.id", ondelete="CASCADE"))
    kind: Mapped[JobKind] = mapped_column(str_enum(JobKind, "job_kind"))
    status: Mapped[JobStatus] = mapped_column(
        str_enum(JobStatus, "job_status"), default=JobStatus.QUEUED
    )
    model: Mapped[str | None] = mapped_column(String(100))
    params: Mapped[dict[str, Any]] = mapped_column(default=dict)
    cost_estimate_usd: Mapped[Decimal] = mapped_column(default=Decimal(0))
    cost_actual_usd: Mapped[Decimal] = mapped_column(default=Decimal(0))
    error_code: Mapped[str | None] = mapped_column(String(50))
    error: Mapped[str | None] = mapped_column(Text)
    output_asset_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("assets.id", ondelete="SET NULL", use_alter=True)
    )
    last_seq: Mapped[int] = mapped_column(Integer, default=0)
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]


class SubJob(UUIDPrimaryKey, Timestamps, Base):
    """One provider prediction (one clip, image or track) of a job."""

    __tablename__ = "sub_jobs"
    __table_args__ = (
        UniqueConstraint("job_id", "index"),
        Index("ix_sub_jobs_status", "status"),
        Index("ix_sub_jobs_prediction_id", "prediction_id"),
        # A model's latest finished runs, for its ETA (services.eta): a short index scan.
        Index("ix_sub_jobs_model_status_finished_at", "model", "status", "finished_at"),
    )

    job_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("jobs.id", ondelete="CASCADE"))
    index: Mapped[int]
    model: Mapped[str] = mapped_column(String(100))
    provider: Mapped[str] = mapped_column(String(30))
    prediction_id: Mapped[str | None] = mapped_column(String(100))
    input: Mapped[dict[str, Any]] = mapped_column(default=dict)
    status: Mapped[SubJobStatus] = mapped_column(
        str_enum(SubJobStatus, "sub_job_status"), default=SubJobStatus.QUEUED
    )
    progress: Mapped[float | None]
    attempts: Mapped[int] = mapped_column(default=0)
    cost_usd: Mapped[Decimal] = mapped_column(default=Decimal(0))
    output_asset_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("assets.id", ondelete="SET NULL", use_alter=True)
    )
    error_code: Mapped[str | None] = mapped_column(String(50))
    error: Mapped[str | None] = mapped_column(Text)
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]


class JobEvent(Base):
    """The durable progress log: one row per transition, `seq` increasing per job."""

    __tablename__ = "job_events"
    __table_args__ = (UniqueConstraint("job_id", "seq"),)

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    job_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("jobs.id", ondelete="CASCADE"))
    sub_job_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("sub_jobs.id", ondelete="CASCADE")
    )
    seq: Mapped[int]
    type: Mapped[str] = mapped_column(String(40))
    status: Mapped[str] = mapped_column(String(32))
    progress: Mapped[float | None]
    message: Mapped[str | None] = mapped_column(Text)
    data: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
