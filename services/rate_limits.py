"""Rate limits per API key and per client address, counted in Redis with `limits`.

Counts live in Redis, so every API process of a deployment shares them. The strategy is
the moving window: a call is allowed when fewer than N calls happened in the last
window, exactly (no burst of 2N across a fixed window's edge: ten image launches at
0:59 and ten more at 1:01 is not "10 a minute"), a refused call consumes nothing, and
the wait it is told is exact (when the oldest counted call leaves the window). It costs
one Redis round trip per check (LINDEX, LPUSH, LTRIM in one script) and a list of at
most N timestamps per active key, which expires with the window.

A call counts once it passes the checks that cost nothing (authentication, IDs that
decode), whether the work it asks for then succeeds or not: a stream of launches the
database refuses is refused here like a stream of valid ones.
"""

from __future__ import annotations

import enum
import logging
import math
import time
import uuid
from dataclasses import dataclass
from typing import Any

import redis.asyncio as aioredis
from limits import RateLimitItem, parse
from limits.aio.storage import RedisStorage
from limits.aio.strategies import MovingWindowRateLimiter
from limits.errors import StorageError
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from db.models import SubJob
from services import catalog
from services.errors import RateLimited
from services.generation.requests import (
    AudioRequest,
    GenerationRequest,
    ImageRequest,
    PairVideoRequest,
    VideoRequest,
)
from services.settings import Settings

log = logging.getLogger("reelgraph.rate_limits")

REDIS_TIMEOUT_SECONDS = 1.0
"""A Redis that does not answer within this long lets the call through (see `hit`)."""


class Limit(enum.StrEnum):
    REQUESTS = "requests"
    ANONYMOUS = "anonymous"
    IMAGES = "images"
    VIDEOS = "videos"
    AUDIO = "audio"
    UPLOADS = "uploads"
    WRITING = "writing"

    @property
    def noun(self) -> str:
        return _NOUNS[self]


_NOUNS = {
    Limit.REQUESTS: "requests with this API key",
    Limit.ANONYMOUS: "requests without an API key from this address",
    Limit.IMAGES: "image launches",
    Limit.VIDEOS: "video launches",
    Limit.AUDIO: "audio launches",
    Limit.UPLOADS: "uploads",
    Limit.WRITING: "calls to the writer",
}
_MEDIUM = {"image": Limit.IMAGES, "video": Limit.VIDEOS, "audio": Limit.AUDIO}


def items(settings: Settings) -> dict[Limit, RateLimitItem]:
    """The configured rates, parsed once (a malformed one fails at start-up)."""
    return {
        Limit.REQUESTS: parse(settings.rate_limit_requests),
        Limit.ANONYMOUS: parse(settings.rate_limit_anonymous),
        Limit.IMAGES: parse(settings.rate_limit_images),
        Limit.VIDEOS: parse(settings.rate_limit_videos),
        Limit.AUDIO: parse(settings.rate_limit_audio),
        Limit.UPLOADS: parse(settings.rate_limit_uploads),
        Limit.WRITING: parse(settings.rate_limit_writing),
    }


def launch_limit(request: GenerationRequest) -> Limit:
    """A pair video is a video launch, and so is a prompt-only clip (its image included)."""
    match request:
        case ImageRequest():
            return Limit.IMAGES
        case AudioRequest():
            return Limit.AUDIO
        case VideoRequest() | PairVideoRequest():
            return Limit.VIDEOS


async def rerun_limit(session: AsyncSession, sub_job_id: uuid.UUID) -> Limit | None:
    """A retried or regenerated sub-job is a launch of its model's medium (a new paid
    prediction); None when there is no such sub-job (the rerun then answers NOT_FOUND)."""
    model = await session.scalar(select(SubJob.model).where(SubJob.id == sub_job_id))
    spec = catalog.MODELS.get(model) if model is not None else None
    return _MEDIUM[spec.kind] if spec is not None else None


@dataclass(frozen=True, slots=True)
class Refusal:
    limit: Limit
    retry_after: int
    """Whole seconds until one more call fits in the window (at least 1)."""

    def error(self) -> RateLimited:
        return RateLimited(
            f"Too many {self.limit.noun}: try again in {self.retry_after} s.",
            retry_after=self.retry_after,
        )


class RateLimiter:
    """The configured limits over one Redis; one per process, made in the app's lifespan."""

    def __init__(
        self, pool: aioredis.ConnectionPool, rates: dict[Limit, RateLimitItem], *, prefix: str
    ) -> None:
        self._pool = pool
        self._rates = rates
        # Documented by limits, typed there as `float | str | bool` like its other options.
        client: dict[str, Any] = {"connection_pool": pool}
        storage = RedisStorage(
            "async+redis://",  # unused: the pool says where Redis is (TCP, TLS or unix socket)
            implementation="redispy",
            key_prefix=f"{prefix}:limits",
            wrap_exceptions=True,
            **client,
        )
        self._strategy = MovingWindowRateLimiter(storage)

    @classmethod
    def connect(cls, settings: Settings, redis_url: str) -> RateLimiter:
        pool = aioredis.ConnectionPool.from_url(
            redis_url,
            socket_timeout=REDIS_TIMEOUT_SECONDS,
            socket_connect_timeout=REDIS_TIMEOUT_SECONDS,
        )
        return cls(pool, items(settings), prefix=settings.redis_prefix)

    async def aclose(self) -> None:
        await self._pool.aclose()

    async def hit(self, limit: Limit, identity: str) -> Refusal | None:
        """Count one call of `identity` against `limit`: None when it may go ahead.

        When Redis fails the call goes ahead (and is logged): the limits protect the
        service, and refusing everything while Redis is away would be an outage of its own.
        """
        rate = self._rates[limit]
        try:
            if await self._strategy.hit(rate, limit.value, identity):
                return None
            stats = await self._strategy.get_window_stats(rate, limit.value, identity)
        except StorageError as exc:
            log.warning("rate limit %s not checked: %r", limit.value, exc.storage_error)
            return None
        return Refusal(limit, max(1, math.ceil(stats.reset_time - time.time())))

    async def check(self, limit: Limit, identity: str) -> None:
        """`hit`, raising RateLimited when refused."""
        refusal = await self.hit(limit, identity)
        if refusal is not None:
            raise refusal.error()
