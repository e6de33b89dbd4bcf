"""Storyboards: a job writes one from a brief; they are read with their scenes and the
snapshots of earlier versions."""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import replace
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from db.models import (
    Asset,
    AssetKind,
    Brief,
    Campaign,
    Client,
    Job,
    JobKind,
    JobStatus,
    Scene,
    Storyboard,
    StoryboardStatus,
    StoryboardVersion,
)
from services import catalog
from services.broker import Broker, enqueue_after_commit
from services.creative.briefs import get_brief
from services.creative.durations import scene_counts
from services.creative.parts import BriefParts, SceneDraft, StoryContext, check_parts
from services.creative.property_tour import SCENES, Tour, check_tour, tour_json
from services.creative.scenes import fit_scenes, new_scene, settle
from services.errors import InvalidInput, NotFound
from services.generation import tasks
from services.generation.state import job_created
from services.pagination import (
    NO_FILTER,
    Columns,
    Page,
    PageArgs,
    count_by_parent,
    fetch_pages_by_parent,
)
from services.pairing.base import ImageCandidate
from services.storage import LocalStorage
from services.viewer import Viewer

STORYBOARD_COLUMNS: Columns[Storyboard] = Columns(Storyboard)


async def get_storyboard(
    session: AsyncSession, viewer: Viewer, storyboard_id: uuid.UUID, field: str = "storyboardId"
) -> Storyboard:
    board = await session.get(Storyboard, storyboard_id)
    if board is None or not viewer.can_access(board.client_id):
        raise NotFound("no such storyboard", field=field)
    return board


async def generate_storyboard(
    session: AsyncSession,
    broker: Broker,
    viewer: Viewer,
    brief_id: uuid.UUID,
    tour: Tour | None = None,
) -> Job:
    """A queued job that writes a storyboard for the brief (`tasks.WRITE_STORYBOARD`):
    freely, or from the property tour template when `tour` is given."""
    brief = await get_brief(session, viewer, brief_id)
    parts = check_parts(BriefParts.from_json(brief.parts))  # the catalog may have changed
    params: dict[str, Any] = {"briefId": str(brief.id)}
    if tour is not None:
        params["tour"] = tour_json(await _checked_tour(session, brief, parts, tour))
    job = Job(
        campaign_id=brief.campaign_id,
        kind=JobKind.STORYBOARD_WRITING,
        status=JobStatus.QUEUED,
        model=parts.video_model,
        params=params,
        cost_estimate_usd=Decimal(0),
        cost_actual_usd=Decimal(0),
        last_seq=0,
    )
    session.add(job)
    await session.flush()
    await job_created(
        session, broker, job, message="storyboard job queued", data={"briefId": str(brief.id)}
    )
    enqueue_after_commit(
        session, broker, tasks.WRITE_STORYBOARD, str(job.id), job_id=tasks.writing_id(job.id)
    )
    return job


async def _checked_tour(session: AsyncSession, brief: Brief, parts: BriefParts, tour: Tour) -> Tour:
    """The tour, its photos the client's images (named as stored), and a brief its
    chained first/last-frame scenes can be made for."""
    check_tour(tour)
    spec = catalog.get_model(parts.video_model, "video")
    if not spec.supports_last_frame:
        raise InvalidInput(
            f"the brief's {spec.name} cannot end a clip on a given frame, as a tour's scenes "
            "do; choose a first/last-frame model",
            field="briefId",
        )
    if SCENES not in scene_counts(spec, parts.duration_seconds):
        raise InvalidInput(
            f"the brief's {parts.duration_seconds} s cannot be {SCENES} scenes of clip lengths "
            f"{spec.name} renders",
            field="briefId",
        )
    photos = []
    for n, photo in enumerate(tour.photos):
        asset = await session.get(Asset, photo.asset_id)
        if asset is None or asset.client_id != brief.client_id:
            raise NotFound("no such asset", field=f"photos.{n}.assetId")
        if asset.kind is not AssetKind.IMAGE:
            raise InvalidInput("a tour's photos are images", field=f"photos.{n}.assetId")
        photos.append(replace(photo, filename=asset.filename))
    return replace(tour, photos=tuple(photos))


async def tour_images(
    session: AsyncSession, tour: Tour, storage: LocalStorage
) -> dict[uuid.UUID, ImageCandidate]:
    """The tour's photos as the writer reads them, by asset id (a deleted one left out)."""
    rows = await session.scalars(
        select(Asset).where(Asset.id.in_([p.asset_id for p in tour.photos]))
    )
    return {
        a.id: ImageCandidate(a.id, storage.path(a.storage_key), a.mime_type, a.width, a.height)
        for a in rows
    }


async def story_context(session: AsyncSession, brief: Brief, parts: BriefParts) -> StoryContext:
    campaign = await session.get(Campaign, brief.campaign_id)
    client = await session.get(Client, brief.client_id)
    assert campaign is not None
    assert client is not None
    stmt = (
        select(Asset.id, Asset.filename)
        .where(Asset.campaign_id == campaign.id, Asset.kind == AssetKind.IMAGE)
        .order_by(Asset.created_at, Asset.id)
    )
    images = {asset_id: name for asset_id, name in await session.execute(stmt)}
    references = [i for i in parts.reference_asset_ids if i not in images]
    if references:  # a reference from another campaign of the client
        found = await session.execute(
            select(Asset.id, Asset.filename).where(Asset.id.in_(references))
        )
        images = {**dict(found.tuples().all()), **images}
    order = [*parts.reference_asset_ids, *(i for i in images if i not in parts.reference_asset_ids)]
    return StoryContext(
        client_name=client.name,
        campaign_name=campaign.name,
        campaign_goal=campaign.goal,
        brand_guidelines=client.brand_guidelines or {},
        images=tuple(i for i in order if i in images),
        image_names={i: images[i] for i in order if i in images},
    )


async def store_storyboard(
    session: AsyncSession,
    job: Job,
    brief: Brief,
    parts: BriefParts,
    drafts: list[SceneDraft],
    writer: str,
) -> Storyboard:
    """The storyboard a job's writer proposed, as version 1, fitted to the brief."""
    spec = catalog.get_model(parts.video_model, "video")
    fitted = fit_scenes(spec, parts.duration_seconds, drafts)
    board = Storyboard(
        id=uuid.uuid4(),
        brief_id=brief.id,
        campaign_id=brief.campaign_id,
        client_id=brief.client_id,
        written_by_job_id=job.id,
        status=StoryboardStatus.DRAFT,
        version=1,
        writer=writer,
        video_model=spec.name,
        aspect_ratio=parts.aspect_ratio,
        total_seconds=parts.duration_seconds,
        notes=fitted.notes,
    )
    scenes = [new_scene(board, i, draft) for i, draft in enumerate(fitted.scenes)]
    snapshot = settle(board, scenes, f"written by the {writer} writer")
    session.add(board)
    await session.flush()  # the board before its scenes (no ORM relationships order them)
    session.add_all([*scenes, snapshot])
    await session.flush()
    return board


async def pages_for_briefs(
    session: AsyncSession, brief_ids: Sequence[uuid.UUID], args: PageArgs
) -> dict[uuid.UUID, Page[Storyboard]]:
    return await fetch_pages_by_parent(
        session, STORYBOARD_COLUMNS, Storyboard.brief_id, brief_ids, NO_FILTER, args
    )


async def counts_for_briefs(
    session: AsyncSession, brief_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, int]:
    return await count_by_parent(session, Storyboard.brief_id, brief_ids, [])


async def load_storyboards(session: AsyncSession, ids: Sequence[uuid.UUID]) -> list[Storyboard]:
    return await STORYBOARD_COLUMNS.where(session, Storyboard.id.in_(ids))


async def load_scenes(session: AsyncSession, ids: Sequence[uuid.UUID]) -> list[Scene]:
    return list(await session.scalars(select(Scene).where(Scene.id.in_(ids))))


async def scenes_of(session: AsyncSession, storyboard_id: uuid.UUID) -> list[Scene]:
    """One storyboard's scenes, in order (as ORM rows, to change)."""
    stmt = select(Scene).where(Scene.storyboard_id == storyboard_id).order_by(Scene.position)
    return list(await session.scalars(stmt))


async def scenes_for_storyboards(
    session: AsyncSession, ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, list[Scene]]:
    out: dict[uuid.UUID, list[Scene]] = defaultdict(list)
    stmt = select(Scene).where(Scene.storyboard_id.in_(ids)).order_by(Scene.position)
    for scene in await session.scalars(stmt):
        out[scene.storyboard_id].append(scene)
    return {i: out[i] for i in ids}


async def versions_for_storyboards(
    session: AsyncSession, ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, list[StoryboardVersion]]:
    """Each storyboard's versions, newest first."""
    out: dict[uuid.UUID, list[StoryboardVersion]] = defaultdict(list)
    stmt = (
        select(StoryboardVersion)
        .where(StoryboardVersion.storyboard_id.in_(ids))
        .order_by(StoryboardVersion.version.desc())
    )
    for version in await session.scalars(stmt):
        out[version.storyboard_id].append(version)
    return {i: out[i] for i in ids}
