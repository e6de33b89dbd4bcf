"""The creative workflow's tables: a campaign's briefs, the storyboards written from
them (versioned: every edit is a new version, earlier ones kept as snapshots) and the
scenes of a storyboard's current version."""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from db.base import Base, BigIntPK, Timestamps, UUIDPrimaryKey, str_enum, utcnow
from db.models.enums import ShotType, StoryboardStatus


class Brief(UUIDPrimaryKey, Timestamps, Base):
    """What an agency wants from an ad: typed parts (`services.creative.parts.BriefParts`
    as JSON), each with the confidence of whoever read them from free text."""

    __tablename__ = "briefs"
    __table_args__ = (Index("ix_briefs_campaign_created", "campaign_id", "created_at", "id"),)

    campaign_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("campaigns.id", ondelete="CASCADE"))
    client_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("clients.id", ondelete="CASCADE"))
    parts: Mapped[dict[str, Any]] = mapped_column(default=dict)
    confidence: Mapped[dict[str, Any]] = mapped_column(default=dict)
    source_text: Mapped[str | None] = mapped_column(Text)
    reader: Mapped[str] = mapped_column(String(30))  # person | offline | xai
    refinements: Mapped[list[Any]] = mapped_column(JSON, default=list)  # feedback, in order
    auto_approve: Mapped[bool] = mapped_column(default=False)


class Storyboard(UUIDPrimaryKey, Timestamps, Base):
    __tablename__ = "storyboards"
    __table_args__ = (Index("ix_storyboards_brief_created", "brief_id", "created_at", "id"),)

    brief_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("briefs.id", ondelete="CASCADE"))
    campaign_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("campaigns.id", ondelete="CASCADE"))
    client_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("clients.id", ondelete="CASCADE"))
    # the job that wrote it: a second run of that job finds it and writes nothing
    written_by_job_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("jobs.id", ondelete="SET NULL"), unique=True
    )
    # the job rendering it, once approved
    render_job_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("jobs.id", ondelete="SET NULL"), unique=True
    )
    status: Mapped[StoryboardStatus] = mapped_column(
        str_enum(StoryboardStatus, "storyboard_status"), default=StoryboardStatus.DRAFT
    )
    version: Mapped[int] = mapped_column(default=1)
    writer: Mapped[str] = mapped_column(String(30))
    video_model: Mapped[str] = mapped_column(String(100))
    aspect_ratio: Mapped[str] = mapped_column(String(8))
    total_seconds: Mapped[int]
    cost_estimate_usd: Mapped[Decimal] = mapped_column(default=Decimal(0))
    notes: Mapped[list[Any]] = mapped_column(JSON, default=list)


class Scene(UUIDPrimaryKey, Timestamps, Base):
    """A scene of a storyboard's current version; `position` orders them from 0."""

    __tablename__ = "scenes"
    __table_args__ = (Index("ix_scenes_storyboard_position", "storyboard_id", "position"),)

    storyboard_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("storyboards.id", ondelete="CASCADE")
    )
    position: Mapped[int]
    description: Mapped[str] = mapped_column(Text)
    script: Mapped[str] = mapped_column(Text)
    shot_type: Mapped[ShotType] = mapped_column(str_enum(ShotType, "shot_type"))
    duration_seconds: Mapped[int]
    transition: Mapped[str] = mapped_column(String(20))
    image_prompt: Mapped[str] = mapped_column(Text)
    reference_asset_ids: Mapped[list[Any]] = mapped_column(JSON, default=list)


class StoryboardVersion(Base):
    """A storyboard as it stood at one version: its scenes as JSON, and what changed."""

    __tablename__ = "storyboard_versions"
    __table_args__ = (UniqueConstraint("storyboard_id", "version"),)

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    storyboard_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("storyboards.id", ondelete="CASCADE")
    )
    version: Mapped[int]
    change: Mapped[str] = mapped_column(String(300))
    scenes: Mapped[list[Any]] = mapped_column(JSON)
    total_seconds: Mapped[int]
    cost_estimate_usd: Mapped[Decimal]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
