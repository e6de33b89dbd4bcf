"""Rendering an approved storyboard, as one job: each scene's clip at its duration (its
start image made first when the scene has no reference image), a music bed from the
brief's music style, then the clips combined with each scene's transition and the bed
mixed under them (`services.generation.combining`).

Approval is refused (CONFLICT) unless the storyboard is a draft at `expected_version`;
from then on it is read-only. The job is charged to the campaign's budget like any
other; progress, cancel, retry and regenerate of one scene's sub-jobs work as for pair
jobs."""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Any

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from db.base import utcnow
from db.models import (
    Brief,
    Campaign,
    Client,
    Job,
    JobKind,
    JobStatus,
    Scene,
    Storyboard,
    StoryboardStatus,
    SubJob,
    SubJobStatus,
)
from services import catalog
from services.broker import Broker, enqueue_after_commit
from services.creative.parts import BriefParts
from services.creative.storyboards import get_storyboard, scenes_of
from services.errors import Conflict
from services.generation import tasks
from services.generation.budget import check_budget
from services.generation.prompts import branded_prompt
from services.generation.state import job_created
from services.viewer import Viewer

MUSIC_FALLBACK = "light, modern instrumental background music for an advertisement"


def _clip_input(
    spec: catalog.ModelSpec, board: Storyboard, scene: Scene, prompt: str
) -> dict[str, Any]:
    refs = list(scene.reference_asset_ids)
    ends_on_image = spec.supports_last_frame and len(refs) > 1
    logical: dict[str, Any] = {
        "prompt": prompt,
        "duration": scene.duration_seconds,
        "resolution": spec.default_resolution,
        "aspect_ratio": board.aspect_ratio if board.aspect_ratio in spec.aspect_ratios else None,
        "mode": spec.last_image_modes[0]
        if ends_on_image and spec.last_image_modes
        else spec.default_mode,
        "fps": spec.fps[0] if spec.fps else None,
        "role": "clip",
        "scene": scene.position,
    }
    if refs:
        logical["image_asset_id"] = refs[0]
    if ends_on_image:
        logical["last_image_asset_id"] = refs[1]
    return {k: v for k, v in logical.items() if v is not None}


def plan_render(
    board: Storyboard, scenes: list[Scene], parts: BriefParts, client: Client, campaign: Campaign
) -> list[tuple[str, dict[str, Any]]]:
    """(model, logical input) per sub-job: for each scene its image (when it has no
    reference) and its clip; the music bed last."""
    spec = catalog.get_model(board.video_model, "video")
    image_spec = catalog.get_model(None, "image")
    planned: list[tuple[str, dict[str, Any]]] = []
    for scene in scenes:
        described = f"{scene.description}. {scene.image_prompt}".strip()
        prompt = branded_prompt(described, client, campaign)
        clip = _clip_input(spec, board, scene, prompt)
        if "image_asset_id" not in clip:
            image = {
                "prompt": branded_prompt(scene.image_prompt, client, campaign),
                "aspect_ratio": board.aspect_ratio,
                "role": "image",
                "scene": scene.position,
            }
            clip["image_from_sub_job"] = len(planned)
            planned.append((image_spec.name, image))
        planned.append((spec.name, clip))
    music = catalog.get_model(None, "audio")
    low, high = music.duration_range or (1, board.total_seconds)
    bed = {
        "prompt": parts.music_style or (f"{parts.tone} " if parts.tone else "") + MUSIC_FALLBACK,
        "duration": max(low, min(high, board.total_seconds)),
        "role": "music",
    }
    planned.append((music.name, bed))
    return planned


async def approve_storyboard(
    session: AsyncSession,
    broker: Broker,
    viewer: Viewer,
    storyboard_id: uuid.UUID,
    expected_version: int,
    provider: str,
) -> tuple[Storyboard, Job]:
    board = await get_storyboard(session, viewer, storyboard_id)
    return await start_render(session, broker, board, expected_version, provider)


async def start_render(
    session: AsyncSession, broker: Broker, board: Storyboard, expected_version: int, provider: str
) -> tuple[Storyboard, Job]:
    """The render job of a draft storyboard at `expected_version` (CONFLICT otherwise, or
    BUDGET_EXCEEDED when the campaign cannot pay for it); the storyboard is `rendering`."""
    brief = await session.get(Brief, board.brief_id)
    campaign = await session.get(Campaign, board.campaign_id)
    client = await session.get(Client, board.client_id)
    assert brief is not None
    assert campaign is not None
    assert client is not None
    scenes = await scenes_of(session, board.id)
    planned = plan_render(board, scenes, BriefParts.from_json(brief.parts), client, campaign)
    total = sum(
        (catalog.estimate(catalog.MODELS[model], logical) for model, logical in planned),
        Decimal(0),
    )
    await check_budget(session, campaign.id, total)  # locks the campaign first
    job = Job(
        id=uuid.uuid4(),
        campaign_id=campaign.id,
        kind=JobKind.STORYBOARD,
        status=JobStatus.QUEUED,
        model=board.video_model,
        params={
            "storyboardId": str(board.id),
            "briefId": str(brief.id),
            "version": expected_version,
            "transitions": [s.transition for s in scenes[:-1]],
            "aspectRatio": board.aspect_ratio,
        },
        cost_estimate_usd=total,
        cost_actual_usd=Decimal(0),
        last_seq=0,
    )
    session.add(job)
    await session.flush()
    claimed = await session.execute(
        update(Storyboard)
        .where(
            Storyboard.id == board.id,
            Storyboard.version == expected_version,
            Storyboard.status == StoryboardStatus.DRAFT,
        )
        .values(status=StoryboardStatus.RENDERING, render_job_id=job.id, updated_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    await session.refresh(board)
    if claimed.rowcount != 1:  # type: ignore[attr-defined]
        if board.status is not StoryboardStatus.DRAFT:
            raise Conflict(f"the storyboard is already {board.status.value}", field="storyboardId")
        raise Conflict(
            f"the storyboard is at version {board.version}, not {expected_version}: "
            "reload it and approve what you see",
            field="expectedVersion",
        )
    subs = [_sub(job, i, model, logical, provider) for i, (model, logical) in enumerate(planned)]
    session.add_all(subs)
    await session.flush()
    await job_created(
        session, broker, job,
        message=f"storyboard approved: {len(scenes)} scenes to render",
        data={"costEstimateUsd": str(total), "storyboardId": str(board.id)},
    )  # fmt: skip
    for sub in subs:
        if "image_from_sub_job" not in sub.input:
            enqueue_after_commit(
                session, broker, tasks.RUN_SUB_JOB, str(sub.id), job_id=tasks.run_id(sub)
            )
    return board, job


def _sub(job: Job, index: int, model: str, logical: dict[str, Any], provider: str) -> SubJob:
    return SubJob(
        job_id=job.id,
        index=index,
        model=model,
        provider=provider,
        input=logical,
        status=SubJobStatus.QUEUED,
        progress=None,
        cost_usd=Decimal(0),
    )


async def mark_rendered(session: AsyncSession, job: Job) -> None:
    """The render job has made its video: its storyboard is `rendered`."""
    await session.execute(
        update(Storyboard)
        .where(Storyboard.render_job_id == job.id)
        .values(status=StoryboardStatus.RENDERED, updated_at=utcnow())
        .execution_options(synchronize_session=False)
    )
