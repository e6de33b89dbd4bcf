"""What a caller asks for, before validation (the GraphQL inputs map onto these)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class ImageRequest:
    campaign_id: uuid.UUID
    prompt: str | None = None
    reference_asset_id: uuid.UUID | None = None
    model: str | None = None
    aspect_ratio: str | None = None


@dataclass(frozen=True, slots=True)
class VideoRequest:
    campaign_id: uuid.UUID
    prompt: str | None = None
    image_asset_id: uuid.UUID | None = None
    model: str | None = None
    duration: float | None = None
    aspect_ratio: str | None = None
    resolution: str | None = None
    mode: str | None = None
    fps: int | None = None


@dataclass(frozen=True, slots=True)
class AudioRequest:
    campaign_id: uuid.UUID
    prompt: str
    model: str | None = None
    duration: float | None = None


@dataclass(frozen=True, slots=True)
class Pair:
    first_asset_id: uuid.UUID
    last_asset_id: uuid.UUID


@dataclass(frozen=True, slots=True)
class PairVideoRequest:
    campaign_id: uuid.UUID
    num_pairs: int | None = None
    clip_duration: float = 6
    model: str | None = None
    transition: str = "fade"
    resolution: str | None = None
    fps: int | None = None
    audio_asset_id: uuid.UUID | None = None
    require_approval: bool = False
    prompt: str | None = None


GenerationRequest = ImageRequest | VideoRequest | AudioRequest | PairVideoRequest
