from __future__ import annotations

import uuid
from collections.abc import Awaitable, Iterable
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Annotated, Any

import strawberry
from strawberry import relay
from strawberry.scalars import JSON

from gql.context import Info
from gql.loaders import page_with_stats
from gql.lookahead import columns_read, node_fields
from gql.types.connection import Connection, page_args
from gql.types.enums import CampaignStatus
from gql.types.node import ID_DESCRIPTION, global_id, resolve_owned
from gql.types.results import PeriodInput, Results, period_of, rolled_up
from services import stats as service_stats
from services.clients import ClientRow

if TYPE_CHECKING:
    from gql.types.assets import Asset
    from gql.types.campaigns import Campaign


COLUMNS_OF: dict[str, tuple[str, ...]] = {
    # a GraphQL field of Client -> the row columns `from_row` and its resolver read for it
    # (a row always holds its id and creation time)
    **dict.fromkeys(("__typename", "id", "createdAt", "campaigns", "results", "stats"), ()),
    "name": ("name",),
    "homepage": ("homepage",),
    "notes": ("notes",),
    "metadata": ("metadata_",),
    "updatedAt": ("updated_at",),
    "brandGuidelines": ("brand_guidelines",),
}


@strawberry.type
class BrandColor:
    name: str | None
    hex: str


@strawberry.type(description="How every generation for this client must look and sound.")
class BrandGuidelines:
    colors: list[BrandColor]
    tone: str | None
    dos: list[str]
    donts: list[str]
    logo_asset_id: strawberry.Private[uuid.UUID | None]

    @strawberry.field
    async def logo(
        self, info: Info
    ) -> Annotated[Asset, strawberry.lazy("gql.types.assets")] | None:
        from gql.types.assets import Asset

        if self.logo_asset_id is None:
            return None
        row = await info.context.loaders.asset.load(self.logo_asset_id)
        return Asset.of(info, row) if row is not None else None

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> BrandGuidelines:
        logo = data.get("logo_asset_id")
        return cls(
            colors=[BrandColor(name=c.get("name"), hex=c["hex"]) for c in data.get("colors", [])],
            tone=data.get("tone"),
            dos=list(data.get("dos", [])),
            donts=list(data.get("donts", [])),
            logo_asset_id=uuid.UUID(logo) if logo else None,
        )


@strawberry.type
class ClientStats:
    campaign_count: int
    video_count: int = strawberry.field(description="Video assets, uploaded and generated.")
    total_spend_usd: Decimal = strawberry.field(description="Actual cost of all jobs.")

    @classmethod
    def of(cls, found: service_stats.ClientStats) -> ClientStats:
        return cls(
            campaign_count=found.campaign_count,
            video_count=found.video_count,
            total_spend_usd=found.total_spend_usd,
        )


@strawberry.type
class Client(relay.Node):
    id: relay.NodeID[str]
    _id: strawberry.ID = strawberry.field(name="id", description=ID_DESCRIPTION)
    name: str
    homepage: str | None
    notes: str | None
    metadata: JSON
    created_at: datetime
    updated_at: datetime
    row: strawberry.Private[ClientRow]
    found_stats: strawberry.Private[service_stats.ClientStats | None] = None
    """Read with the page that holds this client, when it asked for them."""

    @classmethod
    def from_row(
        cls, row: ClientRow, found_stats: service_stats.ClientStats | None = None
    ) -> Client:
        return cls(
            id=str(row.id),
            _id=global_id("Client", row.id),
            name=row.name,
            homepage=row.homepage,
            notes=row.notes,
            metadata=JSON(row.metadata_),
            created_at=row.created_at,
            updated_at=row.updated_at,
            row=row,
            found_stats=found_stats,
        )

    @classmethod
    async def resolve_nodes(  # type: ignore[override]
        cls, *, info: Info, node_ids: Iterable[str], required: bool = False
    ) -> list[Client | None]:
        return await resolve_owned(
            info, node_ids, info.context.loaders.client, lambda r: r.id, cls.from_row
        )

    @strawberry.field
    def brand_guidelines(self) -> BrandGuidelines:
        return BrandGuidelines.from_json(self.row.brand_guidelines)

    @strawberry.field
    async def campaigns(
        self,
        info: Info,
        first: int | None = None,
        after: str | None = None,
        status: CampaignStatus | None = None,
    ) -> Connection[Annotated[Campaign, strawberry.lazy("gql.types.campaigns")]]:
        from gql.types.campaigns import COLUMNS_OF, Campaign

        args = page_args(info, first, after)
        loaders = info.context.loaders
        only = columns_read(info, COLUMNS_OF)
        page = await page_with_stats(
            lambda stats: loaders.campaign_page.load((self.row.id, status, args, only, stats)),
            "stats" in node_fields(info),
        )
        found = page.extra or {}
        return Connection.of(
            page,
            lambda row: Campaign.from_row(row, found.get(row.id)),
            lambda: loaders.campaign_count.load((self.row.id, status)),
            has_previous=args.after is not None,
        )

    @strawberry.field(
        description="How this client's videos did over `period` (all time if none), with "
        "what its jobs cost."
    )
    async def results(
        self, info: Info, period: PeriodInput | None = None
    ) -> Results | None:  # null, with the error, for a period that is not one
        loaders = info.context.loaders
        sums = loaders.client_results.load((self.row.id, period_of(period)))
        return await rolled_up(sums, loaders.client_stats.load((self.row.id,)))

    @strawberry.field(graphql_type=ClientStats)
    def stats(self, info: Info) -> ClientStats | Awaitable[ClientStats]:
        """A value when the client's page read them (`Query.clients`): no batch and no
        task of its own for each of a page's clients."""
        if self.found_stats is not None:
            return ClientStats.of(self.found_stats)
        return self._stats(info)

    async def _stats(self, info: Info) -> ClientStats:
        return ClientStats.of(await info.context.loaders.client_stats.load((self.row.id,)))
