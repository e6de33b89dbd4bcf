"""API keys: created once (the secret is shown only then), stored as SHA-256, revocable."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import string
import uuid
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from db.base import utcnow
from db.models import ApiKey, ApiKeyRole, Client
from services import validation
from services.errors import InvalidInput, NotFound
from services.viewer import Viewer

KEY_PREFIX = "rg"
_ALPHABET = string.ascii_lowercase + string.digits


@dataclass(frozen=True, slots=True)
class IssuedKey:
    row: ApiKey
    secret: str


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def _split(secret: str) -> tuple[str, str] | None:
    parts = secret.split("_", 2)
    if len(parts) != 3 or parts[0] != KEY_PREFIX or not parts[1] or not parts[2]:
        return None
    return parts[1], parts[2]


async def create_key(
    session: AsyncSession,
    *,
    admin: bool,
    client_id: uuid.UUID | None = None,
    name: str | None = None,
) -> IssuedKey:
    if admin == (client_id is not None):
        raise InvalidInput("a key is either admin or scoped to one client", field="clientId")
    label = validation.optional_text(name, "name", 200)
    if client_id is not None and await session.get(Client, client_id) is None:
        raise NotFound("no such client", field="clientId")
    prefix = "".join(secrets.choice(_ALPHABET) for _ in range(10))
    secret = f"{KEY_PREFIX}_{prefix}_{secrets.token_urlsafe(32)}"
    row = ApiKey(
        prefix=prefix,
        key_hash=_hash(secret),
        role=ApiKeyRole.ADMIN if admin else ApiKeyRole.CLIENT,
        client_id=client_id,
        name=label,
    )
    session.add(row)
    await session.flush()
    return IssuedKey(row=row, secret=secret)


async def authenticate(session: AsyncSession, secret: str) -> Viewer | None:
    """The viewer for a presented key, or None when it is unknown, malformed or revoked."""
    split = _split(secret)
    if split is None:
        return None
    row = await session.scalar(select(ApiKey).where(ApiKey.prefix == split[0]))
    if row is None or row.revoked_at is not None:
        return None
    if not hmac.compare_digest(row.key_hash, _hash(secret)):
        return None
    return Viewer(key_id=row.id, role=row.role, client_id=row.client_id)


async def revoke_key(session: AsyncSession, prefix_or_id: str) -> ApiKey:
    lookup = _split(prefix_or_id)
    prefix = lookup[0] if lookup else prefix_or_id
    row = await session.scalar(select(ApiKey).where(ApiKey.prefix == prefix))
    if row is None:
        try:
            row = await session.get(ApiKey, uuid.UUID(prefix_or_id))
        except ValueError:
            row = None
    if row is None:
        raise NotFound("no such API key", field="key")
    if row.revoked_at is None:
        row.revoked_at = utcnow()
    return row


async def list_keys(session: AsyncSession) -> list[ApiKey]:
    return list(await session.scalars(select(ApiKey).order_by(ApiKey.created_at)))


async def has_admin_key(session: AsyncSession) -> bool:
    found = await session.scalar(
        select(ApiKey.id).where(ApiKey.role == ApiKeyRole.ADMIN, ApiKey.revoked_at.is_(None))
    )
    return found is not None
