"""What a pair selector takes and returns, and the rules every selector keeps.

A pair is ordered: `first` is the clip's opening frame, `last` its closing frame.
Selectors return pairs in the order the clips should play.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from services.llm import LlmError

# num_pairs=None lets the selector decide: one clip per two images, at most this many.
DEFAULT_MAX_PAIRS = 12


class PairingError(LlmError):
    """Selection failed. `retryable` says whether trying again may help; `retry_after`
    (seconds) is the provider's hint when it gave one. An `LlmError`, so one handler can
    treat a model's failure the same wherever it happens."""


@dataclass(frozen=True, slots=True)
class ImageCandidate:
    asset_id: uuid.UUID
    path: Path
    mime_type: str
    width: int | None
    height: int | None


@dataclass(frozen=True, slots=True)
class CampaignBrief:
    client_name: str
    campaign_name: str
    goal: str | None = None
    audience: str | None = None
    product_url: str | None = None
    tone: str | None = None
    colors: list[str] = field(default_factory=list)  # "#E10600", "brand red #E10600", "navy"
    dos: list[str] = field(default_factory=list)
    donts: list[str] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class PairChoice:
    first: uuid.UUID
    last: uuid.UUID
    score: float  # 0..1
    reason: str


class PairSelector(Protocol):
    name: str

    async def select(
        self, images: list[ImageCandidate], brief: CampaignBrief, num_pairs: int | None
    ) -> list[PairChoice]:
        """Ordered pairs in play order; raises PairingError."""
        ...


def distinct_images(images: Iterable[ImageCandidate]) -> list[ImageCandidate]:
    """The images with repeated asset ids dropped (first kept); at least two, else PairingError."""
    seen: set[uuid.UUID] = set()
    out: list[ImageCandidate] = []
    for image in images:
        if image.asset_id not in seen:
            seen.add(image.asset_id)
            out.append(image)
    if len(out) < 2:
        raise PairingError(f"pair selection needs at least 2 distinct images, got {len(out)}")
    return out


def pair_count(image_count: int, num_pairs: int | None) -> int:
    """How many pairs to choose: the request capped at the distinct ordered pairs possible."""
    possible = image_count * (image_count - 1)
    if num_pairs is None:
        return max(1, min(image_count // 2, DEFAULT_MAX_PAIRS))
    if num_pairs < 1:
        raise PairingError(f"num_pairs must be at least 1, got {num_pairs}")
    return min(num_pairs, possible)
