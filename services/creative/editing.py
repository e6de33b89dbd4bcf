"""Editing a storyboard before money is spent. Every edit names the version it was made
on (`expected_version`) and makes the next one; an edit made on an older version, or
on a storyboard no longer a draft, is refused (CONFLICT), never merged. The bump is one
conditional UPDATE, so of two concurrent edits on one version exactly one wins, on
PostgreSQL and on SQLite alike; each version's scenes are kept as a snapshot."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, replace

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from db.base import utcnow
from db.models import Asset, AssetKind, Brief, Scene, ShotType, Storyboard, StoryboardStatus
from services import catalog
from services.creative.durations import allowed
from services.creative.parts import (
    MAX_SCENES,
    MAX_TEXT,
    MAX_TOTAL_SECONDS,
    SCENE_TRANSITIONS,
    BriefParts,
    SceneDraft,
    StoryContext,
    camel,
    clean_text,
)
from services.creative.scenes import new_scene, settle
from services.creative.storyboards import get_storyboard, scenes_of, story_context
from services.errors import Conflict, InvalidInput, NotFound
from services.viewer import Viewer


@dataclass(frozen=True, slots=True)
class SceneChanges:
    """What an edit sets; None leaves a part as it is."""

    description: str | None = None
    script: str | None = None
    shot_type: ShotType | None = None
    duration_seconds: int | None = None
    transition: str | None = None
    image_prompt: str | None = None
    reference_asset_ids: tuple[uuid.UUID, ...] | None = None


@dataclass(slots=True)
class Draft:
    """A storyboard claimed for one edit: its new version and its scenes in order."""

    board: Storyboard
    scenes: list[Scene]


async def _claim(
    session: AsyncSession, viewer: Viewer, storyboard_id: uuid.UUID, expected: int, field: str
) -> Draft:
    board = await get_storyboard(session, viewer, storyboard_id, field=field)
    bumped = await session.execute(
        update(Storyboard)
        .where(
            Storyboard.id == board.id,
            Storyboard.version == expected,
            Storyboard.status == StoryboardStatus.DRAFT,
        )
        .values(version=Storyboard.version + 1, updated_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    await session.refresh(board)
    if bumped.rowcount != 1:  # type: ignore[attr-defined]
        _check_editable(board, expected)
        raise Conflict("the storyboard changed meanwhile; reload it", field="expectedVersion")
    scenes = await scenes_of(session, board.id)
    return Draft(board, scenes)


def _check_editable(board: Storyboard, expected: int) -> None:
    if board.status is not StoryboardStatus.DRAFT:
        raise Conflict(
            f"the storyboard is {board.status.value}: it cannot change once approved",
            field="storyboardId",
        )
    if board.version != expected:
        raise Conflict(
            f"the storyboard is at version {board.version}, not {expected}: "
            "someone else edited it; reload it and edit again",
            field="expectedVersion",
        )


async def _scene(session: AsyncSession, viewer: Viewer, scene_id: uuid.UUID) -> Scene:
    scene = await session.get(Scene, scene_id)
    if scene is not None:
        board = await session.get(Storyboard, scene.storyboard_id)
        if board is not None and viewer.can_access(board.client_id):
            return scene
    raise NotFound("no such scene", field="sceneId")


async def _finish(session: AsyncSession, draft: Draft, change: str) -> Storyboard:
    board = draft.board
    total = sum(s.duration_seconds for s in draft.scenes)
    if total > MAX_TOTAL_SECONDS:
        raise InvalidInput(
            f"the storyboard would run {total} s; at most {MAX_TOTAL_SECONDS}",
            field="durationSeconds",
        )
    session.add(settle(board, draft.scenes, change))
    await session.flush()
    return board


async def _checked(session: AsyncSession, board: Storyboard, changes: SceneChanges) -> SceneChanges:
    spec = catalog.get_model(board.video_model, "video")
    if changes.duration_seconds is not None and changes.duration_seconds not in allowed(spec):
        lengths = ", ".join(str(d) for d in allowed(spec))
        raise InvalidInput(f"{spec.name} renders {lengths} seconds", field="durationSeconds")
    if changes.transition is not None and changes.transition not in SCENE_TRANSITIONS:
        raise InvalidInput(
            f"unknown transition; choose one of: {', '.join(SCENE_TRANSITIONS)}",
            field="transition",
        )
    for asset_id in changes.reference_asset_ids or ():
        asset = await session.get(Asset, asset_id)
        if asset is None or asset.client_id != board.client_id:
            raise NotFound("no such asset", field="referenceAssetIds")
        if asset.kind is not AssetKind.IMAGE:
            raise InvalidInput("reference assets are images", field="referenceAssetIds")
    description, image_prompt = (
        _text(getattr(changes, name), name, blank=False) for name in ("description", "image_prompt")
    )
    script = _text(changes.script, "script", blank=True)
    return replace(changes, description=description, script=script, image_prompt=image_prompt)


def _text(value: str | None, name: str, *, blank: bool) -> str | None:
    """None stays None (the part is kept); text is cleaned, and blank refused unless allowed."""
    if value is None:
        return None
    cleaned = clean_text(value, camel(name), MAX_TEXT)
    if cleaned is None and not blank:
        raise InvalidInput("cannot be blank", field=camel(name))
    return cleaned or ""


def _apply(scene: Scene, changes: SceneChanges) -> None:
    for name in (
        "description", "script", "shot_type", "duration_seconds", "transition", "image_prompt"
    ):  # fmt: skip
        value = getattr(changes, name)
        if value is not None:
            setattr(scene, name, value)
    if changes.reference_asset_ids is not None:
        scene.reference_asset_ids = [str(i) for i in dict.fromkeys(changes.reference_asset_ids)]


async def update_scene(
    session: AsyncSession,
    viewer: Viewer,
    scene_id: uuid.UUID,
    expected_version: int,
    changes: SceneChanges,
) -> Storyboard:
    scene = await _scene(session, viewer, scene_id)
    draft = await _claim(session, viewer, scene.storyboard_id, expected_version, "sceneId")
    changes = await _checked(session, draft.board, changes)
    _apply(scene, changes)
    return await _finish(session, draft, f"scene {scene.position + 1} edited")


async def add_scene(
    session: AsyncSession,
    viewer: Viewer,
    storyboard_id: uuid.UUID,
    expected_version: int,
    scene: SceneDraft,
    position: int | None,
) -> Storyboard:
    draft = await _claim(session, viewer, storyboard_id, expected_version, "storyboardId")
    if len(draft.scenes) >= MAX_SCENES:
        raise InvalidInput(f"a storyboard holds at most {MAX_SCENES} scenes", field="storyboardId")
    at = len(draft.scenes) if position is None else position
    if not 0 <= at <= len(draft.scenes):
        raise InvalidInput(f"a position from 0 to {len(draft.scenes)}", field="position")
    changes = await _checked(
        session,
        draft.board,
        SceneChanges(
            description=scene.description,
            script=scene.script,
            shot_type=scene.shot_type,
            duration_seconds=int(scene.duration_seconds),
            transition=scene.transition,
            image_prompt=scene.image_prompt,
            reference_asset_ids=scene.reference_asset_ids,
        ),
    )
    cleaned = replace(
        scene,
        description=changes.description or scene.description,
        script=changes.script or "",
        image_prompt=changes.image_prompt or scene.image_prompt,
    )
    added = new_scene(draft.board, at, cleaned)
    session.add(added)
    draft.scenes.insert(at, added)
    return await _finish(session, draft, f"scene added at {at + 1}")


async def delete_scene(
    session: AsyncSession, viewer: Viewer, scene_id: uuid.UUID, expected_version: int
) -> Storyboard:
    scene = await _scene(session, viewer, scene_id)
    draft = await _claim(session, viewer, scene.storyboard_id, expected_version, "sceneId")
    if len(draft.scenes) == 1:
        raise InvalidInput("a storyboard keeps at least one scene", field="sceneId")
    draft.scenes = [s for s in draft.scenes if s.id != scene.id]
    await session.delete(scene)
    return await _finish(session, draft, f"scene {scene.position + 1} deleted")


async def reorder_scenes(
    session: AsyncSession,
    viewer: Viewer,
    storyboard_id: uuid.UUID,
    expected_version: int,
    scene_ids: list[uuid.UUID],
) -> Storyboard:
    draft = await _claim(session, viewer, storyboard_id, expected_version, "storyboardId")
    by_id = {s.id: s for s in draft.scenes}
    if len(scene_ids) != len(set(scene_ids)):
        raise InvalidInput("a scene is listed twice", field="sceneIds")
    foreign = [i for i in scene_ids if i not in by_id]
    if foreign:
        raise InvalidInput(
            f"{len(foreign)} of these ids are not scenes of this storyboard", field="sceneIds"
        )
    if len(scene_ids) != len(by_id):
        raise InvalidInput(
            f"list all {len(by_id)} scenes of the storyboard, in their new order; "
            f"{len(by_id) - len(scene_ids)} missing",
            field="sceneIds",
        )
    draft.scenes = [by_id[i] for i in scene_ids]
    return await _finish(session, draft, "scenes reordered")


@dataclass(frozen=True, slots=True)
class SceneRewrite:
    """What the writer needs to rewrite one scene: the brief, the storyboard around it."""

    parts: BriefParts
    context: StoryContext
    scenes: list[SceneDraft]
    index: int
    feedback: str


async def scene_to_rewrite(
    session: AsyncSession, viewer: Viewer, scene_id: uuid.UUID, expected_version: int, feedback: str
) -> SceneRewrite:
    """Before the writer rewrites a scene: refused now, before it is paid for, when the
    storyboard is no longer a draft or no longer at `expected_version`."""
    note = clean_text(feedback, "feedback", MAX_TEXT)
    if note is None:
        raise InvalidInput("say what to change", field="feedback")
    scene = await _scene(session, viewer, scene_id)
    board = await get_storyboard(session, viewer, scene.storyboard_id, field="sceneId")
    _check_editable(board, expected_version)
    brief = await session.get(Brief, board.brief_id)
    assert brief is not None
    parts = BriefParts.from_json(brief.parts)
    current = await scenes_of(session, board.id)
    index = next(i for i, s in enumerate(current) if s.id == scene.id)
    context = await story_context(session, brief, parts)
    return SceneRewrite(parts, context, [_draft_of(s) for s in current], index, note)


async def store_rewritten(
    session: AsyncSession,
    viewer: Viewer,
    scene_id: uuid.UUID,
    expected_version: int,
    rewrite: SceneRewrite,
    rewritten: SceneDraft,
) -> Storyboard:
    """The writer's scene in place of the old one; its length and the other scenes stay.
    A version edited while the writer worked is refused, not overwritten."""
    scene = await _scene(session, viewer, scene_id)
    draft = await _claim(session, viewer, scene.storyboard_id, expected_version, "sceneId")
    refs = tuple(i for i in rewritten.reference_asset_ids if i in rewrite.context.image_names)
    changes = await _checked(
        session,
        draft.board,
        SceneChanges(
            description=rewritten.description,
            script=rewritten.script,
            shot_type=rewritten.shot_type,
            transition=rewritten.transition,
            image_prompt=rewritten.image_prompt,
            reference_asset_ids=refs,
        ),
    )
    _apply(scene, changes)
    return await _finish(session, draft, f"scene {scene.position + 1} regenerated")


def _draft_of(scene: Scene) -> SceneDraft:
    return SceneDraft(
        description=scene.description,
        script=scene.script,
        shot_type=scene.shot_type,
        duration_seconds=scene.duration_seconds,
        transition=scene.transition,
        image_prompt=scene.image_prompt,
        reference_asset_ids=tuple(uuid.UUID(i) for i in scene.reference_asset_ids),
    )
