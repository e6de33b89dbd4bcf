"""video_metrics: how videos did, per reported period

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-06
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "video_metrics",
        sa.Column("asset_id", sa.Uuid(), nullable=False),
        sa.Column("client_id", sa.Uuid(), nullable=False),
        sa.Column("campaign_id", sa.Uuid(), nullable=True),
        sa.Column("period_start", sa.Date(), nullable=False),
        sa.Column("period_end", sa.Date(), nullable=False),
        sa.Column("views", sa.BigInteger(), nullable=False),
        sa.Column("clicks", sa.BigInteger(), nullable=False),
        sa.Column("conversions", sa.BigInteger(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "views >= 0 AND clicks >= 0 AND conversions >= 0",
            name=op.f("ck_video_metrics_counts_not_negative"),
        ),
        sa.CheckConstraint(
            "period_end >= period_start", name=op.f("ck_video_metrics_period_in_order")
        ),
        sa.ForeignKeyConstraint(
            ["asset_id"], ["assets.id"], name=op.f("fk_video_metrics_asset_id_assets"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["campaign_id"], ["campaigns.id"],
            name=op.f("fk_video_metrics_campaign_id_campaigns"), ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["client_id"], ["clients.id"], name=op.f("fk_video_metrics_client_id_clients"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_video_metrics")),
        sa.UniqueConstraint(
            "asset_id", "period_start", name=op.f("uq_video_metrics_asset_id_period_start")
        ),
    )  # fmt: skip
    op.create_index(
        "ix_video_metrics_campaign_start", "video_metrics", ["campaign_id", "period_start"]
    )
    op.create_index("ix_video_metrics_client_start", "video_metrics", ["client_id", "period_start"])


def downgrade() -> None:
    op.drop_index("ix_video_metrics_client_start", table_name="video_metrics")
    op.drop_index("ix_video_metrics_campaign_start", table_name="video_metrics")
    op.drop_table("video_metrics")
