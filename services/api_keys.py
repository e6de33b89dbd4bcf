"""API keys: created once (the secret is shown only then), stored as SHA-256, revocable.

A revocation is published (the key's prefix, on `revocation_channel`) after it commits,
so every API process drops the key from its cache (services/key_cache.py) at once.
"""

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
from services.broker import Broker, publish_after_commit
from services.errors import InvalidInput, NotFound
from services.viewer import Viewer

KEY_PREFIX = "rg"
_ALPHABET = string.ascii_lowercase + string.digits


@dataclass(frozen=True, slots=True)
class IssuedKey:
    row: ApiKey
    secret: str


def secret_hash(secret: str) -> str:
    """What is stored of a key, and what a cache may keep: never the secret itself."""
    return hashlib.sha256(secret.encode()).hexdigest()


def revocation_channel(broker: Broker) -> str:
    """Where revoked keys' prefixes are published, under the app's Redis prefix."""
    return broker.channel("api-keys", "revoked")


def split_secret(secret: str) -> tuple[str, str] | None:
    """`rg_<prefix>_<secret>` as (prefix, secret), or None when it is not shaped so."""
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
        key_hash=secret_hash(secret),
        role=ApiKeyRole.ADMIN if admin else ApiKeyRole.CLIENT,
        client_id=client_id,
        name=label,
    )
    session.add(row)
    await session.flush()
    return IssuedKey(row=row, secret=secret)


async def authenticate(session: AsyncSession, secret: str) -> Viewer | None:
    """The viewer for a presented key, or None when it is unknown, malformed or revoked."""
    split = split_secret(secret)
    if split is None:
        return None
    row = await session.scalar(select(ApiKey).where(ApiKey.prefix == split[0]))
    if row is None or row.revoked_at is not None:
        return None
    if not hmac.compare_digest(row.key_hash, secret_hash(secret)):
        return None
    return Viewer(key_id=row.id, role=row.role, client_id=row.client_id)


async def revoke_key(session: AsyncSession, prefix_or_id: str, *, broker: Broker | None) -> ApiKey:
    """Revoke a key (again, if it already is: the news is published either way, in case
    a process missed it). Without a broker no running API process hears of it, and a
    key it has cached keeps working until its entry expires (`key_cache_seconds`)."""
    lookup = split_secret(prefix_or_id)
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
    if broker is not None:
        publish_after_commit(session, broker, revocation_channel(broker), row.prefix)
    return row


async def list_keys(session: AsyncSession) -> list[ApiKey]:
    return list(await session.scalars(select(ApiKey).order_by(ApiKey.created_at)))


async def has_admin_key(session: AsyncSession) -> bool:
    found = await session.scalar(
        select(ApiKey.id).where(ApiKey.role == ApiKeyRole.ADMIN, ApiKey.revoked_at.is_(None))
    )
    return found is not None
