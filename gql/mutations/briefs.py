"""Briefs: typed, read from free text, refined; a storyboard job started from one."""

from __future__ import annotations

from typing import Annotated

import strawberry
from sqlalchemy.ext.asyncio import AsyncSession

from gql import ids
from gql.context import Info
from gql.mutations.base import mutate, mutate_with_writer
from gql.types.briefs import Brief
from gql.types.errors import UserError
from gql.types.jobs import Job
from services import catalog
from services.creative import briefs, storyboards
from services.creative.parts import (
    DEFAULT_ASPECT_RATIO,
    DEFAULT_TOTAL_SECONDS,
    MAX_REFERENCES,
    BriefParts,
    ParsedBrief,
)
from services.creative.property_tour import (
    MAX_PHOTOS,
    MIN_PHOTOS,
    SCENES,
    PropertyFacts,
    Room,
    Tour,
    TourPhoto,
)
from services.creative.writer import CreativeWriter
from services.errors import InvalidInput
from services.rate_limits import Limit
from services.viewer import Viewer


@strawberry.input(description="A brief's parts, as a person types them.")
class CreateBriefInput:
    campaign_id: strawberry.ID
    product: str | None = None
    audience: str | None = None
    key_message: str | None = None
    call_to_action: str | None = None
    style: str | None = None
    tone: str | None = None
    visual_elements: list[str] = strawberry.field(default_factory=list)
    music_style: str | None = None
    duration_seconds: int = strawberry.field(
        default=DEFAULT_TOTAL_SECONDS,
        description="The video's total length; the video model must be able to make it.",
    )
    aspect_ratio: str = strawberry.field(
        default=DEFAULT_ASPECT_RATIO, description="16:9, 9:16 or 1:1."
    )
    video_model: str | None = strawberry.field(
        default=None, description=f"Renders the scenes (default {catalog.DEFAULT_VIDEO_MODEL})."
    )
    reference_asset_ids: list[strawberry.ID] = strawberry.field(
        default_factory=list, description="Images the scenes should start from."
    )
    auto_approve: bool = strawberry.field(
        default=False, description="Render its storyboards without waiting for approval."
    )

    def parts(self) -> BriefParts:
        return BriefParts(
            product=self.product,
            audience=self.audience,
            key_message=self.key_message,
            call_to_action=self.call_to_action,
            style=self.style,
            tone=self.tone,
            visual_elements=tuple(self.visual_elements),
            music_style=self.music_style,
            duration_seconds=self.duration_seconds,
            aspect_ratio=self.aspect_ratio,
            video_model=self.video_model or catalog.DEFAULT_VIDEO_MODEL,
            reference_asset_ids=tuple(
                ids.decode_list(
                    self.reference_asset_ids, "Asset", "referenceAssetIds", limit=MAX_REFERENCES
                )
            ),
        )


@strawberry.input
class ParseBriefInput:
    campaign_id: strawberry.ID
    text: str = strawberry.field(description="The brief as the agency wrote it.")
    auto_approve: bool = False


@strawberry.input
class RefineBriefInput:
    brief_id: strawberry.ID
    feedback: str = strawberry.field(description="What to change, in plain words.")


strawberry.enum(Room, description="What a property photo shows.")


@strawberry.input
class TourPhotoInput:
    asset_id: strawberry.ID
    room: Room | None = strawberry.field(
        default=None,
        description="Left out: the writer says (Grok looks at it; offline, its file name).",
    )


@strawberry.input(
    description=f"The property tour template: a property's facts and {MIN_PHOTOS} to "
    f"{MAX_PHOTOS} photos, which must show the exterior, kitchen, living room, a bedroom "
    f"and a bathroom; it makes {SCENES} first/last-frame scenes in walk-through order."
)
class PropertyTourInput:
    address: str
    photos: list[TourPhotoInput]
    price: str | None = None
    bedrooms: int | None = None
    bathrooms: int | None = None
    area_sqm: int | None = None
    highlights: list[str] = strawberry.field(default_factory=list)

    def tour(self) -> Tour:
        facts = PropertyFacts(
            address=self.address,
            price=self.price,
            bedrooms=self.bedrooms,
            bathrooms=self.bathrooms,
            area_sqm=self.area_sqm,
            highlights=tuple(self.highlights),
        )
        if len(self.photos) > MAX_PHOTOS:
            raise InvalidInput(f"at most {MAX_PHOTOS} photos", field="photos")
        photos = tuple(
            TourPhoto(ids.decode(p.asset_id, "Asset", f"photos.{n}.assetId"), "", p.room)
            for n, p in enumerate(self.photos)
        )
        return Tour(facts, photos)


@strawberry.input
class GenerateStoryboardInput:
    brief_id: strawberry.ID
    property_tour: PropertyTourInput | None = strawberry.field(
        default=None, description="Write it from the property tour template."
    )


@strawberry.type
class BriefPayload:
    brief: Brief


@strawberry.type
class StoryboardJobPayload:
    job: Job = strawberry.field(
        description="Writes the storyboard; its last event names it (`data.storyboardId`)."
    )
    brief: Brief


BriefResult = Annotated[BriefPayload | UserError, strawberry.union("BriefResult")]
StoryboardJobResult = Annotated[
    StoryboardJobPayload | UserError, strawberry.union("StoryboardJobResult")
]


@strawberry.type
class BriefMutations:
    @strawberry.mutation(description="Create a brief from typed parts.")
    async def create_brief(self, info: Info, input: CreateBriefInput) -> BriefResult:
        async def work(session: AsyncSession, viewer: Viewer) -> BriefPayload:
            campaign_id = ids.decode(input.campaign_id, "Campaign", "campaignId")
            row = await briefs.create_brief(
                session, viewer, campaign_id, input.parts(), auto_approve=input.auto_approve
            )
            return BriefPayload(brief=Brief.from_row(row))

        return await mutate(info, work)

    @strawberry.mutation(
        description="Read a brief from free text: each part with how sure the reader is."
    )
    async def parse_brief(self, info: Info, input: ParseBriefInput) -> BriefResult:
        async def prepare(session: AsyncSession, viewer: Viewer) -> str:
            campaign_id = ids.decode(input.campaign_id, "Campaign", "campaignId")
            return await briefs.check_campaign(session, viewer, campaign_id, input.text)

        async def write(writer: CreativeWriter, text: str) -> tuple[ParsedBrief, str]:
            return await writer.parse_brief(text), writer.name

        async def store(
            session: AsyncSession, viewer: Viewer, text: str, read: tuple[ParsedBrief, str]
        ) -> BriefPayload:
            campaign_id = ids.decode(input.campaign_id, "Campaign", "campaignId")
            row = await briefs.store_parsed(
                session, viewer, campaign_id, text, read[0],
                reader=read[1], auto_approve=input.auto_approve,
            )  # fmt: skip
            return BriefPayload(brief=Brief.from_row(row))

        return await mutate_with_writer(info, prepare, write, store)

    @strawberry.mutation(
        description=f"Change a brief as the feedback asks ({briefs.MAX_REFINEMENTS} times at most)."
    )
    async def refine_brief(self, info: Info, input: RefineBriefInput) -> BriefResult:
        async def prepare(session: AsyncSession, viewer: Viewer) -> tuple[BriefParts, str]:
            brief_id = ids.decode(input.brief_id, "Brief", "briefId")
            return await briefs.brief_to_refine(session, viewer, brief_id, input.feedback)

        async def write(
            writer: CreativeWriter, found: tuple[BriefParts, str]
        ) -> tuple[ParsedBrief, str]:
            return await writer.refine_brief(*found), writer.name

        async def store(
            session: AsyncSession,
            viewer: Viewer,
            found: tuple[BriefParts, str],
            read: tuple[ParsedBrief, str],
        ) -> BriefPayload:
            brief_id = ids.decode(input.brief_id, "Brief", "briefId")
            row = await briefs.store_refined(
                session, viewer, brief_id, found[1], read[0], reader=read[1]
            )
            return BriefPayload(brief=Brief.from_row(row))

        return await mutate_with_writer(info, prepare, write, store)

    @strawberry.mutation(
        description="Write a storyboard for the brief, as a job: the storyboard is a draft "
        "to edit and approve before anything is rendered."
    )
    async def generate_storyboard(
        self, info: Info, input: GenerateStoryboardInput
    ) -> StoryboardJobResult:
        async def work(session: AsyncSession, viewer: Viewer) -> StoryboardJobPayload:
            await info.context.check_rate(Limit.WRITING)
            brief_id = ids.decode(input.brief_id, "Brief", "briefId")
            tour = input.property_tour.tour() if input.property_tour else None
            job = await storyboards.generate_storyboard(
                session, info.context.broker, viewer, brief_id, tour
            )
            brief = await briefs.get_brief(session, viewer, brief_id)
            return StoryboardJobPayload(job=Job.from_row(job), brief=Brief.from_row(brief))

        return await mutate(info, work)
