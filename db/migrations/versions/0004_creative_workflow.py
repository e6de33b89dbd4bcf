"""creative workflow: briefs, versioned storyboards and their scenes

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-06
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


OLD_JOB_KINDS = ("image", "video", "audio", "pair_video", "storyboard")
NEW_JOB_KINDS = (*OLD_JOB_KINDS, "storyboard_writing")


def _job_kinds(kinds: tuple[str, ...]) -> None:
    """jobs.kind's CHECK: SQLite rebuilds the table (batch mode) to change it."""
    allowed = ", ".join(f"'{k}'" for k in kinds)
    with op.batch_alter_table("jobs") as batch_op:
        batch_op.drop_constraint(op.f("ck_jobs_job_kind"), type_="check")
        batch_op.create_check_constraint(op.f("ck_jobs_job_kind"), f"kind IN ({allowed})")


def upgrade() -> None:
    _job_kinds(NEW_JOB_KINDS)
    op.create_table(
        "briefs",
        sa.Column("campaign_id", sa.Uuid(), nullable=False),
        sa.Column("client_id", sa.Uuid(), nullable=False),
        sa.Column("parts", sa.JSON(), nullable=False),
        sa.Column("confidence", sa.JSON(), nullable=False),
        sa.Column("source_text", sa.Text(), nullable=True),
        sa.Column("reader", sa.String(length=30), nullable=False),
        sa.Column("refinements", sa.JSON(), nullable=False),
        sa.Column("auto_approve", sa.Boolean(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["campaign_id"],
            ["campaigns.id"],
            name=op.f("fk_briefs_campaign_id_campaigns"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["client_id"],
            ["clients.id"],
            name=op.f("fk_briefs_client_id_clients"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_briefs")),
    )
    with op.batch_alter_table("briefs", schema=None) as batch_op:
        batch_op.create_index(
            "ix_briefs_campaign_created", ["campaign_id", "created_at", "id"], unique=False
        )

    op.create_table(
        "storyboards",
        sa.Column("brief_id", sa.Uuid(), nullable=False),
        sa.Column("campaign_id", sa.Uuid(), nullable=False),
        sa.Column("client_id", sa.Uuid(), nullable=False),
        sa.Column("written_by_job_id", sa.Uuid(), nullable=True),
        sa.Column("render_job_id", sa.Uuid(), nullable=True),
        sa.Column(
            "status",
            sa.Enum(
                "draft",
                "approved",
                "rendering",
                "rendered",
                name="storyboard_status",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("writer", sa.String(length=30), nullable=False),
        sa.Column("video_model", sa.String(length=100), nullable=False),
        sa.Column("aspect_ratio", sa.String(length=8), nullable=False),
        sa.Column("total_seconds", sa.Integer(), nullable=False),
        sa.Column("cost_estimate_usd", sa.Numeric(precision=14, scale=4), nullable=False),
        sa.Column("notes", sa.JSON(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["brief_id"],
            ["briefs.id"],
            name=op.f("fk_storyboards_brief_id_briefs"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["campaign_id"],
            ["campaigns.id"],
            name=op.f("fk_storyboards_campaign_id_campaigns"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["client_id"],
            ["clients.id"],
            name=op.f("fk_storyboards_client_id_clients"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["written_by_job_id"],
            ["jobs.id"],
            name=op.f("fk_storyboards_written_by_job_id_jobs"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["render_job_id"],
            ["jobs.id"],
            name=op.f("fk_storyboards_render_job_id_jobs"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_storyboards")),
        sa.UniqueConstraint("written_by_job_id", name=op.f("uq_storyboards_written_by_job_id")),
        sa.UniqueConstraint("render_job_id", name=op.f("uq_storyboards_render_job_id")),
    )
    with op.batch_alter_table("storyboards", schema=None) as batch_op:
        batch_op.create_index(
            "ix_storyboards_brief_created", ["brief_id", "created_at", "id"], unique=False
        )

    op.create_table(
        "scenes",
        sa.Column("storyboard_id", sa.Uuid(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("script", sa.Text(), nullable=False),
        sa.Column(
            "shot_type",
            sa.Enum(
                "wide",
                "medium",
                "close_up",
                "extreme_close_up",
                "overhead",
                "tracking",
                "pov",
                name="shot_type",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("duration_seconds", sa.Integer(), nullable=False),
        sa.Column("transition", sa.String(length=20), nullable=False),
        sa.Column("image_prompt", sa.Text(), nullable=False),
        sa.Column("reference_asset_ids", sa.JSON(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["storyboard_id"],
            ["storyboards.id"],
            name=op.f("fk_scenes_storyboard_id_storyboards"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_scenes")),
    )
    with op.batch_alter_table("scenes", schema=None) as batch_op:
        batch_op.create_index(
            "ix_scenes_storyboard_position", ["storyboard_id", "position"], unique=False
        )

    op.create_table(
        "storyboard_versions",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("storyboard_id", sa.Uuid(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("change", sa.String(length=300), nullable=False),
        sa.Column("scenes", sa.JSON(), nullable=False),
        sa.Column("total_seconds", sa.Integer(), nullable=False),
        sa.Column("cost_estimate_usd", sa.Numeric(precision=14, scale=4), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["storyboard_id"],
            ["storyboards.id"],
            name=op.f("fk_storyboard_versions_storyboard_id_storyboards"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_storyboard_versions")),
        sa.UniqueConstraint(
            "storyboard_id", "version", name=op.f("uq_storyboard_versions_storyboard_id_version")
        ),
    )


def downgrade() -> None:
    op.execute("DELETE FROM jobs WHERE kind = 'storyboard_writing'")
    op.drop_table("storyboard_versions")
    with op.batch_alter_table("scenes", schema=None) as batch_op:
        batch_op.drop_index("ix_scenes_storyboard_position")

    op.drop_table("scenes")
    with op.batch_alter_table("storyboards", schema=None) as batch_op:
        batch_op.drop_index("ix_storyboards_brief_created")

    op.drop_table("storyboards")
    with op.batch_alter_table("briefs", schema=None) as batch_op:
        batch_op.drop_index("ix_briefs_campaign_created")

    op.drop_table("briefs")
    _job_kinds(OLD_JOB_KINDS)
