from __future__ import annotations

from collections.abc import Awaitable, Iterable
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Annotated

import strawberry
from strawberry import relay
from strawberry.scalars import JSON

from gql.context import Info
from gql.lookahead import columns_read
from gql.types.connection import Connection, page_args
from gql.types.enums import AssetKind, AssetOrigin, CampaignStatus, JobKind, JobStatus
from gql.types.node import ID_DESCRIPTION, global_id, resolve_owned
from gql.types.results import PeriodInput, Results, period_of, rolled_up
from services import stats as service_stats
from services.assets import AssetFilter
from services.campaigns import CampaignRow
from services.jobs import JobFilter

if TYPE_CHECKING:
    from gql.types.assets import Asset
    from gql.types.briefs import Brief
    from gql.types.clients import Client
    from gql.types.jobs import Job


COLUMNS_OF: dict[str, tuple[str, ...]] = {
    # a GraphQL field of Campaign -> the row columns `from_row` and its resolver read for
    # it (a row always holds its id, client and creation time)
    **dict.fromkeys(("__typename", "id", "createdAt", "client"), ()),
    **dict.fromkeys(("assets", "jobs", "briefs", "results", "stats"), ()),
    "name": ("name",),
    "goal": ("goal",),
    "audience": ("audience",),
    "status": ("status",),
    "productUrl": ("product_url",),
    "budgetUsd": ("budget_usd",),
    "metadata": ("metadata_",),
    "updatedAt": ("updated_at",),
}


@strawberry.type
class CampaignStats:
    video_count: int = strawberry.field(description="Video assets, uploaded and generated.")
    total_spend_usd: Decimal = strawberry.field(description="Actual cost of all jobs.")
    average_cost_usd: Decimal | None = strawberry.field(
        description="Average actual cost of a succeeded job; null before the first one."
    )
    job_count: int

    @classmethod
    def of(cls, found: service_stats.CampaignStats) -> CampaignStats:
        return cls(
            video_count=found.video_count,
            total_spend_usd=found.total_spend_usd,
            average_cost_usd=found.average_cost_usd,
            job_count=found.job_count,
        )


@strawberry.type
class Campaign(relay.Node):
    id: relay.NodeID[str]
    _id: strawberry.ID = strawberry.field(name="id", description=ID_DESCRIPTION)
    name: str
    goal: str | None
    audience: str | None
    status: CampaignStatus
    product_url: str | None
    budget_usd: Decimal | None
    metadata: JSON
    created_at: datetime
    updated_at: datetime
    row: strawberry.Private[CampaignRow]
    found_stats: strawberry.Private[service_stats.CampaignStats | None] = None
    """Read with the page that holds this campaign, when it asked for them."""

    @classmethod
    def from_row(
        cls, row: CampaignRow, found_stats: service_stats.CampaignStats | None = None
    ) -> Campaign:
        return cls(
            id=str(row.id),
            _id=global_id("Campaign", row.id),
            name=row.name,
            goal=row.goal,
            audience=row.audience,
            status=row.status,
            product_url=row.product_url,
            budget_usd=row.budget_usd,
            metadata=JSON(row.metadata_),
            created_at=row.created_at,
            updated_at=row.updated_at,
            row=row,
            found_stats=found_stats,
        )

    @classmethod
    async def resolve_nodes(  # type: ignore[override]
        cls, *, info: Info, node_ids: Iterable[str], required: bool = False
    ) -> list[Campaign | None]:
        return await resolve_owned(
            info, node_ids, info.context.loaders.campaign, lambda r: r.client_id, cls.from_row
        )

    @strawberry.field
    async def client(self, info: Info) -> Annotated[Client, strawberry.lazy("gql.types.clients")]:
        from gql.types.clients import Client

        row = await info.context.loaders.client.load(self.row.client_id)
        assert row is not None
        return Client.from_row(row)

    @strawberry.field
    async def assets(
        self,
        info: Info,
        first: int | None = None,
        after: str | None = None,
        kind: AssetKind | None = None,
        origin: AssetOrigin | None = None,
    ) -> Connection[Annotated[Asset, strawberry.lazy("gql.types.assets")]]:
        from gql.types.assets import COLUMNS_OF, Asset

        args = page_args(info, first, after)
        flt = AssetFilter(kind=kind, origin=origin)
        loaders = info.context.loaders
        only = columns_read(info, COLUMNS_OF)
        page = await loaders.asset_page.load((self.row.id, flt, args, only))
        return Connection.of(
            page,
            Asset.signed(info),
            lambda: loaders.asset_count.load((self.row.id, flt)),
            has_previous=args.after is not None,
        )

    @strawberry.field
    async def jobs(
        self,
        info: Info,
        first: int | None = None,
        after: str | None = None,
        status: JobStatus | None = None,
        kind: JobKind | None = None,
        model: str | None = None,
    ) -> Connection[Annotated[Job, strawberry.lazy("gql.types.jobs")]]:
        from gql.types.jobs import Job

        args = page_args(info, first, after)
        flt = JobFilter(status=status, kind=kind, model=model)
        loaders = info.context.loaders
        page = await loaders.job_page.load((self.row.id, flt, args))
        return Connection.of(
            page,
            Job.from_row,
            lambda: loaders.job_count.load((self.row.id, flt)),
            has_previous=args.after is not None,
        )

    @strawberry.field(description="The campaign's briefs, newest first.")
    async def briefs(
        self, info: Info, first: int | None = None, after: str | None = None
    ) -> Connection[Annotated[Brief, strawberry.lazy("gql.types.briefs")]]:
        from gql.types.briefs import Brief

        args = page_args(info, first, after)
        loaders = info.context.loaders
        page = await loaders.brief_page.load((self.row.id, args))
        return Connection.of(
            page,
            Brief.from_row,
            lambda: loaders.brief_count.load((self.row.id,)),
            has_previous=args.after is not None,
        )

    @strawberry.field(
        description="How this campaign's videos did over `period` (all time if none), with "
        "what its jobs cost."
    )
    async def results(
        self, info: Info, period: PeriodInput | None = None
    ) -> Results | None:  # null, with the error, for a period that is not one
        loaders = info.context.loaders
        sums = loaders.campaign_results.load((self.row.id, period_of(period)))
        return await rolled_up(sums, loaders.campaign_stats.load((self.row.id,)))

    @strawberry.field(graphql_type=CampaignStats)
    def stats(self, info: Info) -> CampaignStats | Awaitable[CampaignStats]:
        """A value when the campaign's page read them (`Client.campaigns`): no batch and
        no task of its own for each of a page's campaigns."""
        if self.found_stats is not None:
            return CampaignStats.of(self.found_stats)
        return self._stats(info)

    async def _stats(self, info: Info) -> CampaignStats:
        return CampaignStats.of(await info.context.loaders.campaign_stats.load((self.row.id,)))
