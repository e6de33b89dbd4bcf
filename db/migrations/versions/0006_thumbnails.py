"""thumbnails: a poster frame or waveform for each image, video and track

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-06
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("assets") as batch_op:
        batch_op.add_column(sa.Column("thumbnail_key", sa.String(length=255), nullable=True))
        batch_op.add_column(sa.Column("thumbnail_mime", sa.String(length=100), nullable=True))
        batch_op.add_column(sa.Column("thumbnail_width", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("thumbnail_height", sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("assets") as batch_op:
        batch_op.drop_column("thumbnail_height")
        batch_op.drop_column("thumbnail_width")
        batch_op.drop_column("thumbnail_mime")
        batch_op.drop_column("thumbnail_key")
