"""Briefs: what an agency wants from an ad (services/creative/briefs.py)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import TYPE_CHECKING, Annotated

import strawberry
from strawberry import relay

from db.models import Brief as BriefRow
from gql.context import Info
from gql.types.connection import Connection, page_args
from gql.types.node import ID_DESCRIPTION, global_id, resolve_owned
from services.creative.briefs import MAX_REFINEMENTS
from services.creative.parts import CONFIDENCE_PARTS, BriefParts, camel

if TYPE_CHECKING:
    from gql.types.assets import Asset
    from gql.types.campaigns import Campaign
    from gql.types.storyboards import Storyboard


@strawberry.type(description="How sure the reader of a free-text brief is of one part.")
class PartConfidence:
    part: str = strawberry.field(description="The part's field name, as `Brief` spells it.")
    confidence: float = strawberry.field(
        description="0 to 1; 0: not found (the default is kept), 1: a person set it."
    )


@strawberry.type(description="One round of feedback a brief was refined with.")
class BriefRefinement:
    feedback: str
    by: str = strawberry.field(description="The writer that applied it: xai or offline.")


@strawberry.type(
    description="What an agency wants from an ad: ad basics, creative direction and video "
    "specs. Storyboards are written from it."
)
class Brief(relay.Node):
    id: relay.NodeID[str]
    _id: strawberry.ID = strawberry.field(name="id", description=ID_DESCRIPTION)
    product: str | None
    audience: str | None
    key_message: str | None
    call_to_action: str | None
    style: str | None
    tone: str | None
    visual_elements: list[str]
    music_style: str | None
    duration_seconds: int = strawberry.field(description="The video's total length.")
    aspect_ratio: str
    video_model: str = strawberry.field(description="The model that renders the scenes.")
    auto_approve: bool = strawberry.field(
        description="Render its storyboards without waiting for approval."
    )
    source_text: str | None = strawberry.field(
        description="The free text it was read from (parseBrief); null when typed."
    )
    reader: str = strawberry.field(description="Who read it: person, xai or offline.")
    confidence: list[PartConfidence]
    refinements: list[BriefRefinement]
    refinements_left: int
    created_at: datetime
    updated_at: datetime
    row: strawberry.Private[BriefRow]
    parts: strawberry.Private[BriefParts]

    @classmethod
    def from_row(cls, row: BriefRow) -> Brief:
        parts = BriefParts.from_json(row.parts)
        return cls(
            id=str(row.id),
            _id=global_id("Brief", row.id),
            product=parts.product,
            audience=parts.audience,
            key_message=parts.key_message,
            call_to_action=parts.call_to_action,
            style=parts.style,
            tone=parts.tone,
            visual_elements=list(parts.visual_elements),
            music_style=parts.music_style,
            duration_seconds=parts.duration_seconds,
            aspect_ratio=parts.aspect_ratio,
            video_model=parts.video_model,
            auto_approve=row.auto_approve,
            source_text=row.source_text,
            reader=row.reader,
            confidence=[
                PartConfidence(part=camel(p), confidence=float(row.confidence.get(p, 0.0)))
                for p in CONFIDENCE_PARTS
            ],
            refinements=[
                BriefRefinement(feedback=r["feedback"], by=r["by"]) for r in row.refinements
            ],
            refinements_left=max(0, MAX_REFINEMENTS - len(row.refinements)),
            created_at=row.created_at,
            updated_at=row.updated_at,
            row=row,
            parts=parts,
        )

    @classmethod
    async def resolve_nodes(  # type: ignore[override]
        cls, *, info: Info, node_ids: Iterable[str], required: bool = False
    ) -> list[Brief | None]:
        return await resolve_owned(
            info, node_ids, info.context.loaders.brief, lambda r: r.client_id, cls.from_row
        )

    @strawberry.field
    async def campaign(
        self, info: Info
    ) -> Annotated[Campaign, strawberry.lazy("gql.types.campaigns")]:
        from gql.types.campaigns import Campaign

        row = await info.context.loaders.campaign.load(self.row.campaign_id)
        assert row is not None
        return Campaign.from_row(row)

    @strawberry.field(description="Images the storyboard's scenes should start from.")
    async def reference_assets(
        self, info: Info
    ) -> list[Annotated[Asset, strawberry.lazy("gql.types.assets")]]:
        from gql.types.assets import Asset

        rows = await info.context.loaders.asset.load_many(list(self.parts.reference_asset_ids))
        convert = Asset.signed(info)
        return [convert(r) for r in rows if r is not None]

    @strawberry.field(description="Storyboards written from this brief, newest first.")
    async def storyboards(
        self, info: Info, first: int | None = None, after: str | None = None
    ) -> Connection[Annotated[Storyboard, strawberry.lazy("gql.types.storyboards")]]:
        from gql.types.storyboards import Storyboard

        args = page_args(info, first, after)
        loaders = info.context.loaders
        page = await loaders.storyboard_page.load((self.row.id, args))
        return Connection.of(
            page,
            Storyboard.from_row,
            lambda: loaders.storyboard_count.load((self.row.id,)),
            has_previous=args.after is not None,
        )
