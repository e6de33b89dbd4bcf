"""The URL a provider calls back, naming the sub-job and the attempt it was created for.

Replicate signs a delivery's body, not its URL, so the name is signed by us: an HMAC of
sub-job and attempt under the webhook secret (which every API and worker process has).
With it, a prediction whose create answer never reached us is recognised from its first
delivery, by the attempt that made it and no other (`adoption.adopt_prediction`).
"""

from __future__ import annotations

import hmac
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlencode

from services.settings import Settings

PATH = "/webhooks/replicate"


@dataclass(frozen=True, slots=True)
class Named:
    sub_id: uuid.UUID
    attempt: int


def enabled(settings: Settings, provider: str) -> bool:
    return bool(
        provider == "replicate" and settings.public_url and settings.replicate_webhook_secret
    )


def webhook_url(settings: Settings, provider: str, sub_id: uuid.UUID, attempt: int) -> str | None:
    """Where the provider reports on this attempt's prediction; None without webhooks."""
    base, secret = settings.public_url, settings.replicate_webhook_secret
    if provider != "replicate" or not base or not secret:
        return None
    query = {"sub": str(sub_id), "try": str(attempt)}
    query["sig"] = _signature(secret, sub_id, attempt)
    return base.rstrip("/") + PATH + "?" + urlencode(query)


def named(settings: Settings, query: Mapping[str, str]) -> Named | None:
    """The sub-job and attempt a delivery's URL names, if its signature holds."""
    secret = settings.replicate_webhook_secret
    try:
        sub_id, attempt, signature = uuid.UUID(query["sub"]), int(query["try"]), query["sig"]
    except (KeyError, ValueError):
        return None
    if not secret or not hmac.compare_digest(_signature(secret, sub_id, attempt), signature):
        return None
    return Named(sub_id, attempt)


def _signature(secret: str, sub_id: uuid.UUID, attempt: int) -> str:
    message = f"webhook:{sub_id}:{attempt}".encode()
    return hmac.digest(secret.encode(), message, "sha256").hex()[:32]
