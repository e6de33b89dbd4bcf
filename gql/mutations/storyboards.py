"""Editing a draft storyboard: each edit names the version it was made on and makes the
next (services/creative/editing.py)."""

from __future__ import annotations

import uuid
from typing import Annotated

import strawberry
from sqlalchemy.ext.asyncio import AsyncSession

from db.models import ShotType
from gql import ids
from gql.context import Info
from gql.mutations.base import mutate, mutate_with_writer
from gql.types.errors import UserError
from gql.types.jobs import Job
from gql.types.storyboards import Storyboard
from services.creative import editing, rendering
from services.creative.editing import SceneChanges, SceneRewrite
from services.creative.parts import MAX_REFERENCES, MAX_SCENES, SceneDraft
from services.creative.writer import CreativeWriter
from services.rate_limits import Limit
from services.viewer import Viewer

VERSION = "The storyboard's `version` this edit was made on; another is refused (CONFLICT)."


def _references(values: list[strawberry.ID] | None) -> tuple[uuid.UUID, ...] | None:
    if values is None:
        return None
    return tuple(ids.decode_list(values, "Asset", "referenceAssetIds", limit=MAX_REFERENCES))


@strawberry.input(description="Leave a field out (or null) to keep it.")
class UpdateSceneInput:
    scene_id: strawberry.ID
    expected_version: int = strawberry.field(description=VERSION)
    description: str | None = None
    script: str | None = None
    shot_type: ShotType | None = None
    duration_seconds: int | None = None
    transition: str | None = None
    image_prompt: str | None = None
    reference_asset_ids: list[strawberry.ID] | None = None

    def changes(self) -> SceneChanges:
        return SceneChanges(
            description=self.description,
            script=self.script,
            shot_type=self.shot_type,
            duration_seconds=self.duration_seconds,
            transition=self.transition,
            image_prompt=self.image_prompt,
            reference_asset_ids=_references(self.reference_asset_ids),
        )


@strawberry.input
class AddSceneInput:
    storyboard_id: strawberry.ID
    expected_version: int = strawberry.field(description=VERSION)
    position: int | None = strawberry.field(
        default=None, description="Where it goes, from 0; the end when left out."
    )
    description: str
    image_prompt: str
    duration_seconds: int
    script: str = ""
    shot_type: ShotType = ShotType.MEDIUM
    transition: str = "fade"
    reference_asset_ids: list[strawberry.ID] = strawberry.field(default_factory=list)

    def draft(self) -> SceneDraft:
        return SceneDraft(
            description=self.description,
            script=self.script,
            shot_type=self.shot_type,
            duration_seconds=self.duration_seconds,
            transition=self.transition,
            image_prompt=self.image_prompt,
            reference_asset_ids=_references(self.reference_asset_ids) or (),
        )


@strawberry.input
class DeleteSceneInput:
    scene_id: strawberry.ID
    expected_version: int = strawberry.field(description=VERSION)


@strawberry.input
class ReorderScenesInput:
    storyboard_id: strawberry.ID
    expected_version: int = strawberry.field(description=VERSION)
    scene_ids: list[strawberry.ID] = strawberry.field(
        description="Every scene of the storyboard, each once, in the new order."
    )


@strawberry.input
class RegenerateSceneInput:
    scene_id: strawberry.ID
    expected_version: int = strawberry.field(description=VERSION)
    feedback: str = strawberry.field(description="What to change, in plain words.")


@strawberry.input
class ApproveStoryboardInput:
    storyboard_id: strawberry.ID
    expected_version: int = strawberry.field(
        description="The version you approve; another is refused (CONFLICT)."
    )


@strawberry.type
class StoryboardRenderPayload:
    storyboard: Storyboard = strawberry.field(description="Now read-only: rendering.")
    job: Job = strawberry.field(
        description="Renders it: a sub-job per scene image, clip and "
        "the music bed, then the combined video."
    )


@strawberry.type
class StoryboardPayload:
    storyboard: Storyboard = strawberry.field(description="At its new version.")


StoryboardResult = Annotated[StoryboardPayload | UserError, strawberry.union("StoryboardResult")]
StoryboardRenderResult = Annotated[
    StoryboardRenderPayload | UserError, strawberry.union("StoryboardRenderResult")
]


def _scene_id(value: strawberry.ID) -> uuid.UUID:
    return ids.decode(value, "Scene", "sceneId")


def _storyboard_id(value: strawberry.ID) -> uuid.UUID:
    return ids.decode(value, "Storyboard", "storyboardId")


@strawberry.type
class StoryboardMutations:
    @strawberry.mutation(description="Change one scene of a draft storyboard.")
    async def update_scene(self, info: Info, input: UpdateSceneInput) -> StoryboardResult:
        async def work(session: AsyncSession, viewer: Viewer) -> StoryboardPayload:
            board = await editing.update_scene(
                session, viewer, _scene_id(input.scene_id), input.expected_version,
                input.changes(),
            )  # fmt: skip
            return StoryboardPayload(storyboard=Storyboard.from_row(board))

        return await mutate(info, work)

    @strawberry.mutation(description="Add a scene to a draft storyboard.")
    async def add_scene(self, info: Info, input: AddSceneInput) -> StoryboardResult:
        async def work(session: AsyncSession, viewer: Viewer) -> StoryboardPayload:
            board = await editing.add_scene(
                session, viewer, _storyboard_id(input.storyboard_id), input.expected_version,
                input.draft(), input.position,
            )  # fmt: skip
            return StoryboardPayload(storyboard=Storyboard.from_row(board))

        return await mutate(info, work)

    @strawberry.mutation(description="Remove a scene from a draft storyboard.")
    async def delete_scene(self, info: Info, input: DeleteSceneInput) -> StoryboardResult:
        async def work(session: AsyncSession, viewer: Viewer) -> StoryboardPayload:
            board = await editing.delete_scene(
                session, viewer, _scene_id(input.scene_id), input.expected_version
            )
            return StoryboardPayload(storyboard=Storyboard.from_row(board))

        return await mutate(info, work)

    @strawberry.mutation(description="Put a draft storyboard's scenes in a new order.")
    async def reorder_scenes(self, info: Info, input: ReorderScenesInput) -> StoryboardResult:
        async def work(session: AsyncSession, viewer: Viewer) -> StoryboardPayload:
            order = ids.decode_list(input.scene_ids, "Scene", "sceneIds", limit=MAX_SCENES)
            board = await editing.reorder_scenes(
                session, viewer, _storyboard_id(input.storyboard_id), input.expected_version,
                order,
            )  # fmt: skip
            return StoryboardPayload(storyboard=Storyboard.from_row(board))

        return await mutate(info, work)

    @strawberry.mutation(
        description="Have the writer rewrite one scene from feedback; the others, and its "
        "length, stay as they are."
    )
    async def regenerate_scene(self, info: Info, input: RegenerateSceneInput) -> StoryboardResult:
        async def prepare(session: AsyncSession, viewer: Viewer) -> SceneRewrite:
            return await editing.scene_to_rewrite(
                session, viewer, _scene_id(input.scene_id), input.expected_version, input.feedback
            )

        async def write(writer: CreativeWriter, rewrite: SceneRewrite) -> SceneDraft:
            return await writer.rewrite_scene(
                rewrite.parts, rewrite.context, rewrite.scenes, rewrite.index, rewrite.feedback
            )

        async def store(
            session: AsyncSession, viewer: Viewer, rewrite: SceneRewrite, scene: SceneDraft
        ) -> StoryboardPayload:
            board = await editing.store_rewritten(
                session, viewer, _scene_id(input.scene_id), input.expected_version, rewrite, scene
            )
            return StoryboardPayload(storyboard=Storyboard.from_row(board))

        return await mutate_with_writer(info, prepare, write, store)

    @strawberry.mutation(
        description="Approve a draft storyboard and render it: what it costs is charged to "
        "the campaign's budget, and the storyboard cannot change from here on."
    )
    async def approve_storyboard(
        self, info: Info, input: ApproveStoryboardInput
    ) -> StoryboardRenderResult:
        async def work(session: AsyncSession, viewer: Viewer) -> StoryboardRenderPayload:
            await info.context.check_rate(Limit.VIDEOS)
            board, job = await rendering.approve_storyboard(
                session, info.context.broker, viewer, _storyboard_id(input.storyboard_id),
                input.expected_version, info.context.runtime.settings.generation_provider,
            )  # fmt: skip
            return StoryboardRenderPayload(
                storyboard=Storyboard.from_row(board), job=Job.from_row(job)
            )

        return await mutate(info, work)
