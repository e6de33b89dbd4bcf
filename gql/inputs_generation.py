"""Inputs of the generation mutations, and their mapping to service requests."""

from __future__ import annotations

import strawberry

from gql import ids
from services.errors import InvalidInput
from services.generation.requests import (
    AudioRequest,
    GenerationRequest,
    ImageRequest,
    Pair,
    PairVideoRequest,
    VideoRequest,
)


@strawberry.input(description="Give a prompt, a reference image, or both.")
class GenerateImageInput:
    campaign_id: strawberry.ID
    prompt: str | None = None
    reference_asset_id: strawberry.ID | None = None
    model: str | None = strawberry.field(default=None, description="Default google/nano-banana.")
    aspect_ratio: str | None = None

    def request(self) -> ImageRequest:
        return ImageRequest(
            campaign_id=ids.decode(self.campaign_id, "Campaign", "campaignId"),
            prompt=self.prompt,
            reference_asset_id=ids.decode_optional(
                self.reference_asset_id, "Asset", "referenceAssetId"
            ),
            model=self.model,
            aspect_ratio=self.aspect_ratio,
        )


@strawberry.input(
    description="Give a start image, a prompt, or both. With only a prompt the job first "
    "makes the start image, then the video."
)
class GenerateVideoInput:
    campaign_id: strawberry.ID
    prompt: str | None = None
    image_asset_id: strawberry.ID | None = None
    model: str | None = strawberry.field(
        default=None, description="Default bytedance/seedance-1-lite; see `models`."
    )
    duration: float | None = strawberry.field(default=None, description="Seconds.")
    aspect_ratio: str | None = None
    resolution: str | None = None
    mode: str | None = strawberry.field(default=None, description="kling: standard or pro.")
    fps: int | None = None

    def request(self) -> VideoRequest:
        return VideoRequest(
            campaign_id=ids.decode(self.campaign_id, "Campaign", "campaignId"),
            prompt=self.prompt,
            image_asset_id=ids.decode_optional(self.image_asset_id, "Asset", "imageAssetId"),
            model=self.model,
            duration=self.duration,
            aspect_ratio=self.aspect_ratio,
            resolution=self.resolution,
            mode=self.mode,
            fps=self.fps,
        )


@strawberry.input
class GenerateAudioInput:
    campaign_id: strawberry.ID
    prompt: str
    model: str | None = strawberry.field(default=None, description="Default meta/musicgen.")
    duration: float | None = strawberry.field(default=None, description="Seconds.")

    def request(self) -> AudioRequest:
        return AudioRequest(
            campaign_id=ids.decode(self.campaign_id, "Campaign", "campaignId"),
            prompt=self.prompt,
            model=self.model,
            duration=self.duration,
        )


@strawberry.input
class CreateVideoFromImagePairsInput:
    campaign_id: strawberry.ID
    num_pairs: int | None = strawberry.field(
        default=None, description="How many clips; by default the selector decides."
    )
    clip_duration: float = 6
    model: str | None = strawberry.field(
        default=None, description="A first/last-frame model; default bytedance/seedance-1-lite."
    )
    transition: str = strawberry.field(
        default="fade", description="An ffmpeg xfade transition, or `none` for hard cuts."
    )
    resolution: str | None = None
    fps: int | None = None
    audio_asset_id: strawberry.ID | None = None
    require_approval: bool = strawberry.field(
        default=False, description="Stop after pair selection until approveJob."
    )
    prompt: str | None = strawberry.field(default=None, description="Direction for every clip.")

    def request(self) -> PairVideoRequest:
        return PairVideoRequest(
            campaign_id=ids.decode(self.campaign_id, "Campaign", "campaignId"),
            num_pairs=self.num_pairs,
            clip_duration=self.clip_duration,
            model=self.model,
            transition=self.transition,
            resolution=self.resolution,
            fps=self.fps,
            audio_asset_id=ids.decode_optional(self.audio_asset_id, "Asset", "audioAssetId"),
            require_approval=self.require_approval,
            prompt=self.prompt,
        )


@strawberry.input(one_of=True, description="Exactly one generation input to price.")
class EstimateCostInput:
    image: GenerateImageInput | None = strawberry.UNSET
    video: GenerateVideoInput | None = strawberry.UNSET
    audio: GenerateAudioInput | None = strawberry.UNSET
    image_pairs: CreateVideoFromImagePairsInput | None = strawberry.UNSET

    def request(self) -> GenerationRequest:
        for value in (self.image, self.video, self.audio, self.image_pairs):
            if value:
                return value.request()
        raise InvalidInput("give one generation input", field="input")


@strawberry.input
class PairInput:
    first_asset_id: strawberry.ID
    last_asset_id: strawberry.ID


@strawberry.input
class ApproveJobInput:
    job_id: strawberry.ID
    pairs: list[PairInput] | None = strawberry.field(
        default=None, description="Replace or reorder the storyboard; left out keeps it."
    )

    def pair_list(self) -> list[Pair] | None:
        if self.pairs is None:
            return None
        return [
            Pair(
                ids.decode(p.first_asset_id, "Asset", f"pairs.{i}.firstAssetId"),
                ids.decode(p.last_asset_id, "Asset", f"pairs.{i}.lastAssetId"),
            )
            for i, p in enumerate(self.pairs)
        ]


@strawberry.input
class JobInput:
    job_id: strawberry.ID


@strawberry.input
class SubJobInput:
    sub_job_id: strawberry.ID
    prompt: str | None = strawberry.field(
        default=None, description="regenerateSubJob only: a new prompt for this clip."
    )
