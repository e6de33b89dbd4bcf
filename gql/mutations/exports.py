"""exportVideo: renditions of a video for each channel, as a job."""

from __future__ import annotations

from typing import Annotated

import strawberry
from sqlalchemy.ext.asyncio import AsyncSession

from gql import ids
from gql.context import Info
from gql.mutations.base import mutate
from gql.types.errors import UserError
from gql.types.jobs import Job
from services.generation import exports
from services.media.renditions import Fit, Rendition
from services.rate_limits import Limit
from services.viewer import Viewer

strawberry.enum(Rendition, description="A rendition's size and shape.")
strawberry.enum(
    Fit,
    description="How a social shape holds a picture of another shape: PAD keeps all of it "
    "(bars on two sides), CROP fills the frame, cut around the picture's detail. Neither "
    "stretches it.",
)


@strawberry.input
class RenditionInput:
    rendition: Rendition
    fit: Fit = strawberry.field(default=Fit.PAD, description="For 9:16 and 1:1 only.")


@strawberry.input
class ExportVideoInput:
    asset_id: strawberry.ID
    renditions: list[RenditionInput]


@strawberry.type
class ExportPayload:
    job: Job = strawberry.field(
        description="Makes them; each becomes an asset whose `source` is the video."
    )


ExportResult = Annotated[ExportPayload | UserError, strawberry.union("ExportResult")]


@strawberry.type
class ExportMutations:
    @strawberry.mutation(
        description="Make renditions of a video: 480p, 720p, 1080p, and 9:16 or 1:1 for "
        "social, padded or cropped. Returns the queued job at once."
    )
    async def export_video(self, info: Info, input: ExportVideoInput) -> ExportResult:
        async def work(session: AsyncSession, viewer: Viewer) -> ExportPayload:
            await info.context.check_rate(Limit.VIDEOS)
            wanted = [exports.Wanted(r.rendition, r.fit) for r in input.renditions]
            job = await exports.export_video(
                session, info.context.broker, viewer,
                ids.decode(input.asset_id, "Asset", "assetId"), wanted,
            )  # fmt: skip
            return ExportPayload(job=Job.from_row(job))

        return await mutate(info, work)
