from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Annotated

import strawberry
from strawberry import relay
from strawberry.scalars import JSON

from db import models
from db.base import utcnow
from gql.context import Info
from gql.types.enums import JobKind, JobStatus, SubJobStatus
from gql.types.events import JobEvent
from gql.types.node import ID_DESCRIPTION, global_id, parse_uuid
from services.eta import RUNNING, remaining
from services.pagination import parse_first

if TYPE_CHECKING:
    from gql.types.assets import Asset
    from gql.types.campaigns import Campaign

EVENTS_PAGE = 500
EVENTS_MAX = 1000


async def _asset(info: Info, asset_id: uuid.UUID | None) -> Asset | None:
    from gql.types.assets import Asset

    if asset_id is None:
        return None
    row = await info.context.loaders.asset.load(asset_id)
    return Asset.of(info, row) if row is not None else None


@strawberry.type(description="An ordered image pair of a pair video: one clip to render.")
class StoryboardPair:
    index: int
    score: float | None
    reason: str | None
    cost_usd: Decimal | None
    first_asset_id: strawberry.Private[uuid.UUID]
    last_asset_id: strawberry.Private[uuid.UUID]

    @strawberry.field
    async def first_asset(
        self, info: Info
    ) -> Annotated[Asset, strawberry.lazy("gql.types.assets")] | None:
        return await _asset(info, self.first_asset_id)

    @strawberry.field
    async def last_asset(
        self, info: Info
    ) -> Annotated[Asset, strawberry.lazy("gql.types.assets")] | None:
        return await _asset(info, self.last_asset_id)


@strawberry.type(description="One prediction of a job: a clip, an image or a track.")
class SubJob:
    index: int
    model: str
    provider: str
    status: SubJobStatus
    progress: float | None = strawberry.field(description="0..1, or null when unknown.")
    attempts: int
    cost_usd: Decimal
    error_code: str | None
    error: str | None
    input: JSON
    started_at: datetime | None
    finished_at: datetime | None
    row: strawberry.Private[models.SubJob]

    @strawberry.field
    def id(self) -> strawberry.ID:
        return strawberry.ID(str(relay.GlobalID("SubJob", str(self.row.id))))

    @classmethod
    def from_row(cls, row: models.SubJob) -> SubJob:
        return cls(
            index=row.index,
            model=row.model,
            provider=row.provider,
            status=row.status,
            progress=row.progress,
            attempts=row.attempts,
            cost_usd=row.cost_usd,
            error_code=row.error_code,
            error=row.error,
            input=JSON(row.input),
            started_at=row.started_at,
            finished_at=row.finished_at,
            row=row,
        )

    @strawberry.field
    async def output_asset(
        self, info: Info
    ) -> Annotated[Asset, strawberry.lazy("gql.types.assets")] | None:
        return await _asset(info, self.row.output_asset_id)

    @strawberry.field(
        description="The median run time of this model's past sub-jobs, in seconds; null "
        "without history."
    )
    async def expected_seconds(self, info: Info) -> float | None:
        return await info.context.loaders.expected_seconds.load(self.model)

    @strawberry.field(
        description="While it runs: seconds left (expectedSeconds minus the time run so far, "
        "never below 0); null otherwise."
    )
    async def eta_seconds(self, info: Info) -> float | None:
        if self.status.value not in RUNNING:
            return None
        return remaining(await self.expected_seconds(info), self.started_at, utcnow())

    @strawberry.field(description="For pair-video clips: the pair, its score and reason.")
    def pair(self) -> StoryboardPair | None:
        first, last = (
            self.row.input.get("image_asset_id"),
            self.row.input.get("last_image_asset_id"),
        )
        pair = self.row.input.get("pair")
        if not (first and last and pair):
            return None
        return StoryboardPair(
            index=self.row.index,
            score=pair.get("score"),
            reason=pair.get("reason"),
            cost_usd=None,
            first_asset_id=uuid.UUID(first),
            last_asset_id=uuid.UUID(last),
        )


@strawberry.type(description="A generation request against a campaign.")
class Job(relay.Node):
    id: relay.NodeID[str]
    _id: strawberry.ID = strawberry.field(name="id", description=ID_DESCRIPTION)
    kind: JobKind
    status: JobStatus
    model: str | None
    params: JSON
    cost_estimate_usd: Decimal
    cost_actual_usd: Decimal
    error_code: str | None
    error: str | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    row: strawberry.Private[models.Job]

    @classmethod
    def from_row(cls, row: models.Job) -> Job:
        return cls(
            id=str(row.id),
            _id=global_id("Job", row.id),
            kind=row.kind,
            status=row.status,
            model=row.model,
            params=JSON(row.params),
            cost_estimate_usd=row.cost_estimate_usd,
            cost_actual_usd=row.cost_actual_usd,
            error_code=row.error_code,
            error=row.error,
            created_at=row.created_at,
            started_at=row.started_at,
            finished_at=row.finished_at,
            row=row,
        )

    @classmethod
    async def resolve_nodes(  # type: ignore[override]
        cls, *, info: Info, node_ids: Iterable[str], required: bool = False
    ) -> list[Job | None]:
        viewer = info.context.require_viewer()
        loaders = info.context.loaders
        ids = [i for i in (parse_uuid(n) for n in node_ids) if i is not None]
        rows = {r.id: r for r in await loaders.job.load_many(ids) if r is not None}
        campaigns = await loaders.campaign.load_many([r.campaign_id for r in rows.values()])
        allowed = {c.id for c in campaigns if c is not None and viewer.can_access(c.client_id)}
        out: list[Job | None] = []
        for node_id in node_ids:
            row = rows.get(parse_uuid(node_id))  # type: ignore[arg-type]
            out.append(cls.from_row(row) if row and row.campaign_id in allowed else None)
        return out

    @strawberry.field
    async def campaign(
        self, info: Info
    ) -> Annotated[Campaign, strawberry.lazy("gql.types.campaigns")]:
        from gql.types.campaigns import Campaign

        row = await info.context.loaders.campaign.load(self.row.campaign_id)
        assert row is not None
        return Campaign.from_row(row)

    @strawberry.field
    async def sub_jobs(self, info: Info) -> list[SubJob]:
        rows = await info.context.loaders.sub_jobs.load((self.row.id,))
        return [SubJob.from_row(r) for r in rows]

    @strawberry.field
    async def output_asset(
        self, info: Info
    ) -> Annotated[Asset, strawberry.lazy("gql.types.assets")] | None:
        return await _asset(info, self.row.output_asset_id)

    @strawberry.field(
        description="Pair videos: the chosen pairs (the storyboard to approve), in play order."
    )
    def storyboard(self) -> list[StoryboardPair] | None:
        board = self.row.params.get("storyboard")
        if board is None:
            return None
        return [
            StoryboardPair(
                index=p["index"],
                score=p.get("score"),
                reason=p.get("reason"),
                cost_usd=Decimal(p["costUsd"]) if p.get("costUsd") else None,
                first_asset_id=uuid.UUID(p["firstAssetId"]),
                last_asset_id=uuid.UUID(p["lastAssetId"]),
            )
            for p in board
        ]

    @strawberry.field(description="The job's progress log after `afterSeq`, oldest first.")
    async def events(
        self, info: Info, after_seq: int = 0, first: int = EVENTS_PAGE
    ) -> list[JobEvent]:
        limit = parse_first(first, default=EVENTS_PAGE, maximum=EVENTS_MAX)
        loaders = info.context.loaders
        rows = await loaders.job_events.load((self.row.id, after_seq, limit))
        events = [JobEvent.from_row(r) for r in rows]
        if info.context.eta is None or all(e.sub_job_uuid is None for e in events):
            return events
        # Each sub-job's model and start come from the batched sub-job loader, its
        # expected run time once per model and request: nothing here costs a statement
        # per event or per job.
        subs = {s.id: s for s in await loaders.sub_jobs.load((self.row.id,))}
        for event in events:
            sub = subs.get(event.sub_job_uuid) if event.sub_job_uuid is not None else None
            if sub is None:
                continue
            event.expected_seconds = await loaders.expected_seconds.load(sub.model)
            if event.status in RUNNING:
                event.eta_seconds = remaining(
                    event.expected_seconds, sub.started_at, event.created_at
                )
        return events

    @strawberry.field(description="The last event's `seq`: resume a subscription after it.")
    def last_seq(self) -> int:
        return self.row.last_seq
