"""Who is asking: an admin key sees everything, a client key one client's data."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from db.models import ApiKeyRole


@dataclass(frozen=True, slots=True)
class Viewer:
    key_id: uuid.UUID
    role: ApiKeyRole
    client_id: uuid.UUID | None

    @property
    def is_admin(self) -> bool:
        return self.role is ApiKeyRole.ADMIN

    def can_access(self, client_id: uuid.UUID) -> bool:
        return self.is_admin or self.client_id == client_id
