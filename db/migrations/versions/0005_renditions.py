"""renditions: exported videos linked to their original; export jobs

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-06
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OLD_JOB_KINDS = ("image", "video", "audio", "pair_video", "storyboard", "storyboard_writing")
NEW_JOB_KINDS = (*OLD_JOB_KINDS, "export")


def _job_kinds(kinds: tuple[str, ...]) -> None:
    """jobs.kind's CHECK: SQLite rebuilds the table (batch mode) to change it."""
    allowed = ", ".join(f"'{k}'" for k in kinds)
    with op.batch_alter_table("jobs") as batch_op:
        batch_op.drop_constraint(op.f("ck_jobs_job_kind"), type_="check")
        batch_op.create_check_constraint(op.f("ck_jobs_job_kind"), f"kind IN ({allowed})")


def upgrade() -> None:
    _job_kinds(NEW_JOB_KINDS)
    with op.batch_alter_table("assets") as batch_op:
        batch_op.add_column(sa.Column("source_asset_id", sa.Uuid(), nullable=True))
        batch_op.add_column(sa.Column("rendition", sa.String(length=20), nullable=True))
        batch_op.create_foreign_key(
            op.f("fk_assets_source_asset_id_assets"), "assets", ["source_asset_id"], ["id"],
            ondelete="SET NULL",
        )  # fmt: skip
        batch_op.create_index("ix_assets_source_created", ["source_asset_id", "created_at", "id"])


def downgrade() -> None:
    with op.batch_alter_table("assets") as batch_op:
        batch_op.drop_index("ix_assets_source_created")
        batch_op.drop_constraint(op.f("fk_assets_source_asset_id_assets"), type_="foreignkey")
        batch_op.drop_column("rendition")
        batch_op.drop_column("source_asset_id")
    op.execute("DELETE FROM jobs WHERE kind = 'export'")
    _job_kinds(OLD_JOB_KINDS)
