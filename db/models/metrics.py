from __future__ import annotations

import uuid
from datetime import date

from sqlalchemy import BigInteger, CheckConstraint, ForeignKey, Index, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from db.base import Base, Timestamps, UUIDPrimaryKey


class VideoMetric(UUIDPrimaryKey, Timestamps, Base):
    """How a video did over one period (whole days, inclusive), as the agency reports it.
    A video's periods never overlap, so that sums over them count each view once."""

    __tablename__ = "video_metrics"
    __table_args__ = (
        UniqueConstraint("asset_id", "period_start"),
        Index("ix_video_metrics_campaign_start", "campaign_id", "period_start"),
        Index("ix_video_metrics_client_start", "client_id", "period_start"),
        CheckConstraint("period_end >= period_start", name="period_in_order"),
        CheckConstraint(
            "views >= 0 AND clicks >= 0 AND conversions >= 0", name="counts_not_negative"
        ),
    )

    asset_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("assets.id", ondelete="CASCADE"))
    # the asset's owner and campaign, copied: rollups read this table alone
    client_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("clients.id", ondelete="CASCADE"))
    campaign_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("campaigns.id", ondelete="CASCADE")
    )
    period_start: Mapped[date]
    period_end: Mapped[date]
    views: Mapped[int] = mapped_column(BigInteger)
    clicks: Mapped[int] = mapped_column(BigInteger)
    conversions: Mapped[int] = mapped_column(BigInteger)
