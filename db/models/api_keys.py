from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from db.base import Base, UUIDPrimaryKey, str_enum, utcnow
from db.models.enums import ApiKeyRole


class ApiKey(UUIDPrimaryKey, Base):
    """An API key, stored only as a SHA-256 hash and looked up by its public prefix."""

    __tablename__ = "api_keys"
    __table_args__ = (
        CheckConstraint("role = 'admin' OR client_id IS NOT NULL", name="client_scope"),
    )

    prefix: Mapped[str] = mapped_column(String(16), unique=True)
    key_hash: Mapped[str] = mapped_column(String(64))
    role: Mapped[ApiKeyRole] = mapped_column(str_enum(ApiKeyRole, "api_key_role"))
    client_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("clients.id", ondelete="CASCADE")
    )
    name: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    revoked_at: Mapped[datetime | None]
