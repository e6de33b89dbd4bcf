from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from db.base import Base, UUIDPrimaryKey, str_enum, utcnow
from db.models.enums import AssetKind, AssetOrigin


class Asset(UUIDPrimaryKey, Base):
    """One row per medium, uploaded or generated. The bytes live in storage by sha256."""

    __tablename__ = "assets"
    __table_args__ = (
        Index("ix_assets_campaign_created", "campaign_id", "created_at", "id"),
        Index("ix_assets_client_created", "client_id", "created_at", "id"),
        Index("ix_assets_sha256", "sha256"),
        Index("ix_assets_source_created", "source_asset_id", "created_at", "id"),
    )

    client_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("clients.id", ondelete="CASCADE"))
    campaign_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("campaigns.id", ondelete="CASCADE")
    )
    kind: Mapped[AssetKind] = mapped_column(str_enum(AssetKind, "asset_kind"))
    origin: Mapped[AssetOrigin] = mapped_column(str_enum(AssetOrigin, "asset_origin"))
    filename: Mapped[str] = mapped_column(String(255))
    mime_type: Mapped[str] = mapped_column(String(100))
    size_bytes: Mapped[int] = mapped_column(BigInteger)
    sha256: Mapped[str] = mapped_column(String(64))
    storage_key: Mapped[str] = mapped_column(String(255))
    width: Mapped[int | None]
    height: Mapped[int | None]
    duration_seconds: Mapped[float | None]
    job_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("jobs.id", ondelete="SET NULL"))
    sub_job_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("sub_jobs.id", ondelete="SET NULL")
    )
    # a rendition (exportVideo): the video it was made from, and which one it is
    source_asset_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("assets.id", ondelete="SET NULL")
    )
    rendition: Mapped[str | None] = mapped_column(String(20))
    # what the media library shows: a poster frame (image, video) or waveform (audio)
    thumbnail_key: Mapped[str | None] = mapped_column(String(255))
    thumbnail_mime: Mapped[str | None] = mapped_column(String(100))
    thumbnail_width: Mapped[int | None]
    thumbnail_height: Mapped[int | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
