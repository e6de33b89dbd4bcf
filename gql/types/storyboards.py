"""Storyboards and their scenes (services/creative/storyboards.py, editing.py)."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Annotated, Any

import strawberry
from strawberry import relay

from db.models import Scene as SceneRow
from db.models import Storyboard as StoryboardRow
from db.models import StoryboardVersion as VersionRow
from gql.context import Info
from gql.types.enums import ShotType, StoryboardStatus
from gql.types.node import ID_DESCRIPTION, global_id, parse_uuid, resolve_owned

if TYPE_CHECKING:
    from gql.types.assets import Asset
    from gql.types.briefs import Brief
    from gql.types.jobs import Job


async def _assets(info: Info, ids: Iterable[str]) -> list[Asset]:
    from gql.types.assets import Asset

    rows = await info.context.loaders.asset.load_many([uuid.UUID(i) for i in ids])
    convert = Asset.signed(info)
    return [convert(r) for r in rows if r is not None]  # a deleted asset drops out


@strawberry.type(description="One shot of a storyboard, rendered as one clip.")
class Scene(relay.Node):
    id: relay.NodeID[str]
    _id: strawberry.ID = strawberry.field(name="id", description=ID_DESCRIPTION)
    position: int = strawberry.field(description="Its place in the storyboard, from 0.")
    description: str = strawberry.field(description="What the scene shows.")
    script: str = strawberry.field(description="The voice-over or on-screen line; may be empty.")
    shot_type: ShotType
    duration_seconds: int
    transition: str = strawberry.field(description="How the next scene comes in.")
    image_prompt: str = strawberry.field(description="The prompt for the scene's start image.")
    reference_asset_ids: strawberry.Private[list[str]]

    @classmethod
    def of(cls, row: SceneRow | dict[str, Any]) -> Scene:
        """A scene's row, or its entry in a version's snapshot."""
        if isinstance(row, dict):
            return cls(
                id=row["id"],
                _id=global_id("Scene", row["id"]),
                position=row["position"],
                description=row["description"],
                script=row["script"],
                shot_type=ShotType(row["shotType"]),
                duration_seconds=row["durationSeconds"],
                transition=row["transition"],
                image_prompt=row["imagePrompt"],
                reference_asset_ids=list(row["referenceAssetIds"]),
            )
        return cls(
            id=str(row.id),
            _id=global_id("Scene", row.id),
            position=row.position,
            description=row.description,
            script=row.script,
            shot_type=row.shot_type,
            duration_seconds=row.duration_seconds,
            transition=row.transition,
            image_prompt=row.image_prompt,
            reference_asset_ids=list(row.reference_asset_ids),
        )

    @classmethod
    async def resolve_nodes(  # type: ignore[override]
        cls, *, info: Info, node_ids: Iterable[str], required: bool = False
    ) -> list[Scene | None]:
        viewer = info.context.require_viewer()
        loaders = info.context.loaders
        wanted = [parse_uuid(i) for i in node_ids]
        found = iter(await loaders.scene.load_many([i for i in wanted if i is not None]))
        scenes = [next(found) if i is not None else None for i in wanted]
        boards = await loaders.storyboard.load_many([r.storyboard_id for r in scenes if r])
        owners = {b.id: b.client_id for b in boards if b is not None}
        return [
            cls.of(r)
            if r is not None
            and r.storyboard_id in owners
            and viewer.can_access(owners[r.storyboard_id])
            else None
            for r in scenes
        ]

    @strawberry.field(description="Images the scene starts from; deleted ones drop out.")
    async def reference_assets(
        self, info: Info
    ) -> list[Annotated[Asset, strawberry.lazy("gql.types.assets")]]:
        return await _assets(info, self.reference_asset_ids)


@strawberry.type(description="A storyboard as it stood at one version.")
class StoryboardVersion:
    version: int
    change: str = strawberry.field(description="What made this version.")
    total_seconds: int
    cost_estimate_usd: Decimal
    created_at: datetime
    scenes: list[Scene]

    @classmethod
    def of(cls, row: VersionRow) -> StoryboardVersion:
        return cls(
            version=row.version,
            change=row.change,
            total_seconds=row.total_seconds,
            cost_estimate_usd=row.cost_estimate_usd,
            created_at=row.created_at,
            scenes=[Scene.of(s) for s in row.scenes],
        )


@strawberry.type(
    description="Ordered scenes written from a brief, edited as a draft (each edit a new "
    "version), then approved to render."
)
class Storyboard(relay.Node):
    id: relay.NodeID[str]
    _id: strawberry.ID = strawberry.field(name="id", description=ID_DESCRIPTION)
    version: int = strawberry.field(description="Pass it as `expectedVersion` to edit.")
    status: StoryboardStatus
    writer: str = strawberry.field(description="Who wrote it: xai or offline.")
    video_model: str
    aspect_ratio: str
    total_seconds: int = strawberry.field(description="The scenes' durations added up.")
    cost_estimate_usd: Decimal = strawberry.field(
        description="What rendering it costs at list prices: scene images without a "
        "reference, clips and the music bed."
    )
    notes: list[str] = strawberry.field(
        description="What was changed from the writer's proposal (durations fitted, ...)."
    )
    created_at: datetime
    updated_at: datetime
    row: strawberry.Private[StoryboardRow]

    @classmethod
    def from_row(cls, row: StoryboardRow) -> Storyboard:
        return cls(
            id=str(row.id),
            _id=global_id("Storyboard", row.id),
            version=row.version,
            status=row.status,
            writer=row.writer,
            video_model=row.video_model,
            aspect_ratio=row.aspect_ratio,
            total_seconds=row.total_seconds,
            cost_estimate_usd=row.cost_estimate_usd,
            notes=[str(n) for n in row.notes],
            created_at=row.created_at,
            updated_at=row.updated_at,
            row=row,
        )

    @classmethod
    async def resolve_nodes(  # type: ignore[override]
        cls, *, info: Info, node_ids: Iterable[str], required: bool = False
    ) -> list[Storyboard | None]:
        return await resolve_owned(
            info, node_ids, info.context.loaders.storyboard, lambda r: r.client_id, cls.from_row
        )

    @strawberry.field
    async def brief(self, info: Info) -> Annotated[Brief, strawberry.lazy("gql.types.briefs")]:
        from gql.types.briefs import Brief

        row = await info.context.loaders.brief.load(self.row.brief_id)
        assert row is not None
        return Brief.from_row(row)

    @strawberry.field(description="The job rendering it; null until it is approved.")
    async def job(self, info: Info) -> Annotated[Job, strawberry.lazy("gql.types.jobs")] | None:
        from gql.types.jobs import Job

        if self.row.render_job_id is None:
            return None
        row = await info.context.loaders.job.load(self.row.render_job_id)
        return Job.from_row(row) if row is not None else None

    @strawberry.field(description="The current version's scenes, in order.")
    async def scenes(self, info: Info) -> list[Scene]:
        rows = await info.context.loaders.scenes.load((self.row.id,))
        return [Scene.of(r) for r in rows]

    @strawberry.field(description="Every version, newest first: earlier ones stay readable.")
    async def versions(self, info: Info) -> list[StoryboardVersion]:
        rows = await info.context.loaders.storyboard_versions.load((self.row.id,))
        return [StoryboardVersion.of(r) for r in rows]
