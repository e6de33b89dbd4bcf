"""Validate a generation request and turn it into sub-jobs with prices, writing nothing.
`estimateCost` shows a plan; a launch stores it."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from db.models import Asset, AssetKind, Campaign, Client, Job, JobKind, SubJob, SubJobStatus
from services import catalog, validation
from services.campaigns import get_campaign
from services.errors import InvalidInput, NotFound
from services.generation.prompts import branded_prompt
from services.generation.requests import (
    AudioRequest,
    GenerationRequest,
    ImageRequest,
    Pair,
    PairVideoRequest,
    VideoRequest,
)
from services.media.combine import TRANSITIONS
from services.pairing.base import pair_count
from services.viewer import Viewer

MAX_PAIRS = 20
FPS_RANGE = (12, 60)


@dataclass(slots=True)
class PlannedSubJob:
    model: str
    logical: dict[str, Any]
    cost: Decimal
    rule: str
    description: str


@dataclass(slots=True)
class Plan:
    campaign: Campaign
    client: Client
    kind: JobKind
    model: str
    params: dict[str, Any]
    sub_jobs: list[PlannedSubJob] = field(default_factory=list)
    # pair jobs: clips whose pairs are chosen when the job runs
    pending_clips: list[PlannedSubJob] = field(default_factory=list)

    @property
    def total(self) -> Decimal:
        return sum((s.cost for s in self.sub_jobs + self.pending_clips), Decimal(0))


def clean_prompt(value: str, field_name: str = "prompt") -> str:
    """A prompt as given: trimmed, not empty, at most 2,000 characters."""
    cleaned = validation.optional_text(value, field_name, 2000)
    if cleaned is None:
        raise InvalidInput("must not be empty", field=field_name)
    return cleaned


def _prompt(value: str | None, field_name: str = "prompt") -> str | None:
    return None if value is None else clean_prompt(value, field_name)


async def _image(
    session: AsyncSession, campaign: Campaign, asset_id: uuid.UUID, field_name: str
) -> Asset:
    asset = await session.get(Asset, asset_id)
    if asset is None or asset.client_id != campaign.client_id:
        raise NotFound("no such asset", field=field_name)
    if asset.kind is not AssetKind.IMAGE:
        raise InvalidInput("must be an image asset", field=field_name)
    return asset


def _sub(spec: catalog.ModelSpec, logical: dict[str, Any], description: str) -> PlannedSubJob:
    return PlannedSubJob(
        model=spec.name,
        logical=logical,
        cost=catalog.estimate(spec, logical),
        rule=catalog.price_rule(spec, logical),
        description=description,
    )


async def _context(
    session: AsyncSession, viewer: Viewer, campaign_id: uuid.UUID
) -> tuple[Campaign, Client]:
    campaign = await get_campaign(session, viewer, campaign_id, field="campaignId")
    client = await session.get(Client, campaign.client_id)
    assert client is not None
    return campaign, client


async def plan_image(session: AsyncSession, viewer: Viewer, req: ImageRequest) -> Plan:
    campaign, client = await _context(session, viewer, req.campaign_id)
    spec = catalog.get_model(req.model, "image")
    prompt = _prompt(req.prompt)
    if prompt is None and req.reference_asset_id is None:
        raise InvalidInput("give a prompt, a reference image, or both", field="prompt")
    logical: dict[str, Any] = {
        "prompt": branded_prompt(prompt or "A variation of the reference image", client, campaign),
        "aspect_ratio": spec.check_choice(
            req.aspect_ratio, spec.aspect_ratios, spec.default_aspect_ratio, "aspectRatio"
        ),
    }
    if req.reference_asset_id:
        await _image(session, campaign, req.reference_asset_id, "referenceAssetId")
        logical["image_asset_id"] = str(req.reference_asset_id)
    params = {"prompt": prompt, "referenceAssetId": logical.get("image_asset_id")}
    plan = Plan(campaign, client, JobKind.IMAGE, spec.name, params)
    plan.sub_jobs.append(_sub(spec, logical, "image"))
    return plan


def _video_logical(
    spec: catalog.ModelSpec,
    *,
    duration: float | None,
    resolution: str | None,
    aspect_ratio: str | None,
    mode: str | None,
    fps: int | None,
    duration_field: str = "duration",
) -> dict[str, Any]:
    logical: dict[str, Any] = {
        "duration": spec.check_duration(duration, duration_field),
        "resolution": spec.check_choice(
            resolution, spec.resolutions, spec.default_resolution, "resolution"
        ),
        "aspect_ratio": spec.check_choice(
            aspect_ratio, spec.aspect_ratios, spec.default_aspect_ratio, "aspectRatio"
        ),
        "mode": spec.check_choice(mode, spec.modes, spec.default_mode, "mode"),
    }
    if fps is not None and spec.fps:
        logical["fps"] = spec.check_choice(str(fps), tuple(str(f) for f in spec.fps), None, "fps")
        logical["fps"] = int(logical["fps"])
    elif spec.fps:
        logical["fps"] = spec.fps[0]
    return {k: v for k, v in logical.items() if v is not None}


async def plan_video(session: AsyncSession, viewer: Viewer, req: VideoRequest) -> Plan:
    campaign, client = await _context(session, viewer, req.campaign_id)
    spec = catalog.get_model(req.model, "video")
    prompt = _prompt(req.prompt)
    if prompt is None and req.image_asset_id is None:
        raise InvalidInput("give a prompt, a start image, or both", field="prompt")
    logical = _video_logical(
        spec,
        duration=req.duration,
        resolution=req.resolution,
        aspect_ratio=req.aspect_ratio,
        mode=req.mode,
        fps=req.fps,
    )
    text = branded_prompt(prompt or "Bring this image to life", client, campaign)
    logical["prompt"] = text
    params = {"prompt": prompt, "imageAssetId": str(req.image_asset_id or "") or None, **logical}
    plan = Plan(campaign, client, JobKind.VIDEO, spec.name, params)
    if req.image_asset_id is not None:
        await _image(session, campaign, req.image_asset_id, "imageAssetId")
        logical["image_asset_id"] = str(req.image_asset_id)
    else:
        image_spec = catalog.get_model(None, "image")
        image_logical = {"prompt": text, "aspect_ratio": logical.get("aspect_ratio", "16:9")}
        plan.sub_jobs.append(_sub(image_spec, image_logical, "start image"))
        logical["image_from_sub_job"] = 0
    plan.sub_jobs.append(_sub(spec, logical, "video"))
    return plan


async def plan_audio(session: AsyncSession, viewer: Viewer, req: AudioRequest) -> Plan:
    campaign, client = await _context(session, viewer, req.campaign_id)
    spec = catalog.get_model(req.model, "audio")
    prompt = _prompt(req.prompt)
    if prompt is None:
        raise InvalidInput("must not be empty", field="prompt")
    logical: dict[str, Any] = {
        "prompt": branded_prompt(prompt, client, campaign),
        "duration": spec.check_duration(req.duration),
    }
    plan = Plan(campaign, client, JobKind.AUDIO, spec.name, {"prompt": prompt, **logical})
    plan.sub_jobs.append(_sub(spec, logical, "audio track"))
    return plan


async def campaign_images(session: AsyncSession, campaign_id: uuid.UUID) -> list[Asset]:
    stmt = (
        select(Asset)
        .where(Asset.campaign_id == campaign_id, Asset.kind == AssetKind.IMAGE)
        .order_by(Asset.created_at, Asset.id)
    )
    return list(await session.scalars(stmt))


def clip_model(req_model: str | None) -> catalog.ModelSpec:
    spec = catalog.get_model(req_model, "video")
    if not spec.supports_last_frame:
        raise InvalidInput(
            f"{spec.name} cannot end a clip on a given image; use a first/last-frame model",
            field="model",
        )
    return spec


def clip_logical(
    spec: catalog.ModelSpec, req: PairVideoRequest, prompt: str, pair: Pair | None
) -> dict[str, Any]:
    mode = spec.last_image_modes[0] if spec.last_image_modes else None  # documented: kling -> pro
    logical = _video_logical(
        spec,
        duration=req.clip_duration,
        resolution=req.resolution,
        aspect_ratio=None,
        mode=mode,
        fps=None,
        duration_field="clipDuration",
    )
    logical["prompt"] = prompt
    if pair is not None:
        logical["image_asset_id"] = str(pair.first_asset_id)
        logical["last_image_asset_id"] = str(pair.last_asset_id)
    return logical


async def plan_pair_video(session: AsyncSession, viewer: Viewer, req: PairVideoRequest) -> Plan:
    campaign, client = await _context(session, viewer, req.campaign_id)
    spec = clip_model(req.model)
    if req.transition not in TRANSITIONS:
        raise InvalidInput(
            f"unknown transition; choose one of: {', '.join(TRANSITIONS)}", field="transition"
        )
    if req.fps is not None and not FPS_RANGE[0] <= req.fps <= FPS_RANGE[1]:
        raise InvalidInput(f"must be between {FPS_RANGE[0]} and {FPS_RANGE[1]}", field="fps")
    if req.resolution is not None and req.resolution not in (spec.resolutions or ()):
        spec.check_choice(req.resolution, spec.resolutions, None, "resolution")
    if req.num_pairs is not None and not 1 <= req.num_pairs <= MAX_PAIRS:
        raise InvalidInput(f"must be between 1 and {MAX_PAIRS}", field="numPairs")
    if req.audio_asset_id is not None:
        audio = await session.get(Asset, req.audio_asset_id)
        if audio is None or audio.client_id != campaign.client_id:
            raise NotFound("no such asset", field="audioAssetId")
        if audio.kind is not AssetKind.AUDIO:
            raise InvalidInput("must be an audio asset", field="audioAssetId")
    image_count = await session.scalar(
        select(func.count()).where(Asset.campaign_id == campaign.id, Asset.kind == AssetKind.IMAGE)
    )
    if (image_count or 0) < 2:
        raise InvalidInput(
            "the campaign needs at least two image assets to pair", field="campaignId"
        )
    pairs = min(pair_count(image_count or 0, req.num_pairs), MAX_PAIRS)
    prompt = branded_prompt(
        _prompt(req.prompt) or "A smooth, cinematic move from the first frame to the last",
        client,
        campaign,
    )
    logical = clip_logical(spec, req, prompt, None)
    params: dict[str, Any] = {
        "numPairs": pairs,
        "clipDuration": logical["duration"],
        "transition": req.transition,
        "resolution": logical.get("resolution"),
        "fps": req.fps or logical.get("fps") or 24,
        "audioAssetId": str(req.audio_asset_id) if req.audio_asset_id else None,
        "requireApproval": req.require_approval,
        "prompt": prompt,
        "mode": logical.get("mode"),
    }
    plan = Plan(campaign, client, JobKind.PAIR_VIDEO, spec.name, params)
    plan.pending_clips = [_sub(spec, logical, f"clip {i + 1}") for i in range(pairs)]
    return plan


async def make_plan(session: AsyncSession, viewer: Viewer, req: GenerationRequest) -> Plan:
    if isinstance(req, ImageRequest):
        return await plan_image(session, viewer, req)
    if isinstance(req, VideoRequest):
        return await plan_video(session, viewer, req)
    if isinstance(req, AudioRequest):
        return await plan_audio(session, viewer, req)
    return await plan_pair_video(session, viewer, req)


def storyboard_entry(
    index: int, pair: Pair, score: float | None, reason: str, cost: Decimal
) -> dict[str, Any]:
    """One row of a pair job's storyboard (stored in `Job.params["storyboard"]`)."""
    return {
        "index": index,
        "firstAssetId": str(pair.first_asset_id),
        "lastAssetId": str(pair.last_asset_id),
        "score": None if score is None else round(score, 4),
        "reason": reason,
        "costUsd": str(cost),
    }


def pair_clips(
    job: Job, picks: list[tuple[Pair, float | None, str]], provider: str
) -> tuple[list[SubJob], list[dict[str, Any]]]:
    """A pair job's clip sub-jobs (queued, not yet added) and its storyboard, one of each
    per `(pair, score, reason)`, chosen by the selector or by a person."""
    spec = clip_model(job.model)
    request = PairVideoRequest(
        campaign_id=job.campaign_id,
        clip_duration=job.params["clipDuration"],
        model=job.model,
        resolution=job.params.get("resolution"),
    )
    subs: list[SubJob] = []
    storyboard: list[dict[str, Any]] = []
    for index, (pair, score, reason) in enumerate(picks):
        logical = clip_logical(spec, request, job.params["prompt"], pair)
        logical["pair"] = {"score": None if score is None else round(score, 4), "reason": reason}
        cost = catalog.estimate(spec, logical)
        storyboard.append(storyboard_entry(index, pair, score, reason, cost))
        subs.append(
            SubJob(
                job_id=job.id,
                index=index,
                model=spec.name,
                provider=provider,
                input=logical,
                status=SubJobStatus.QUEUED,
                cost_usd=Decimal(0),
            )
        )
    return subs, storyboard
