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
from services.generation.error_codes import JobErrorCode
from services.jobs import JobRow
from services.pagination import parse_first

if TYPE_CHECKING:
    from gql.types.assets import Asset
    from gql.types.campaigns import Campaign

EVENTS_PAGE = 500
EVENTS_MAX = 1000
strawberry.enum(  # in place, as gql.types.enums does for the database's enums
    JobErrorCode, description="Why a job or sub-job failed (its `error` says it for people)."
)


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
    error_code: JobErrorCode | None
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
            error_code=JobErrorCode.of(row.error_code),
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
        description="The median run time of this model's past sub-jobs nearest in size "
        "(clip length, resolution), scaled to this one's, in seconds; null without history."
    )
    async def expected_seconds(self, info: Info) -> float | None:
        return (await self._eta(info))[0]

    @strawberry.field(
        description="While it runs: seconds left, from the model's past runs and this one's "
        "progress so far; null when unknown (no history yet, or it has run longer than any "
        "past run without reporting progress) and when it is not running."
    )
    async def eta_seconds(self, info: Info) -> float | None:
        return (await self._eta(info))[1]

    async def _eta(self, info: Info) -> tuple[float | None, float | None]:
        if info.context.eta is None:
            return None, None
        return await info.context.eta.estimate(
            self.model, self.row.input, started_at=self.started_at, status=self.status.value,
            progress=self.progress, at=utcnow(),
        )  # fmt: skip

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
    error_code: JobErrorCode | None
    error: str | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    row: strawberry.Private[JobRow]

    @classmethod
    def from_row(cls, row: JobRow) -> Job:
        return cls(
            id=str(row.id),
            _id=global_id("Job", row.id),
            kind=row.kind,
            status=row.status,
            model=row.model,
            params=JSON(row.params),
            cost_estimate_usd=row.cost_estimate_usd,
            cost_actual_usd=row.cost_actual_usd,
            error_code=JobErrorCode.of(row.error_code),
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
        eta = info.context.eta
        if eta is None or all(e.sub_job_uuid is None for e in events):
            return events
        # Each sub-job's model, input and start come from the batched sub-job loader, its
        # model's history from the estimator's cache: nothing here costs a statement per
        # event or per job.
        subs = {s.id: s for s in await loaders.sub_jobs.load((self.row.id,))}
        for event in events:
            sub = subs.get(event.sub_job_uuid) if event.sub_job_uuid is not None else None
            if sub is None:
                continue
            event.expected_seconds, event.eta_seconds = await eta.estimate(
                sub.model, sub.input, started_at=sub.started_at, status=event.status,
                progress=event.progress, at=event.created_at,
            )  # fmt: skip
        return events

    @strawberry.field(description="The last event's `seq`: resume a subscription after it.")
    def last_seq(self) -> int:
        return self.row.last_seq
