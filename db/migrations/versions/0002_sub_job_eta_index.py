"""an index for a model's latest finished sub-jobs (ETAs)

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index(
        "ix_sub_jobs_model_status_finished_at",
        "sub_jobs",
        ["model", "status", "finished_at"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index("ix_sub_jobs_model_status_finished_at", table_name="sub_jobs")
