from __future__ import annotations

from typing import Annotated

import strawberry
from sqlalchemy.ext.asyncio import AsyncSession

from gql import ids
from gql.context import Info
from gql.mutations.base import mutate
from gql.types.assets import Asset
from gql.types.errors import UserError
from gql.types.results import PeriodInput, VideoMetric
from services import metrics
from services.assets import get_asset
from services.viewer import Viewer


@strawberry.input(
    description="One period's figures for a video, as the ad platform reports them. Sending "
    "the same period again replaces them; a period that overlaps another is refused."
)
class RecordVideoMetricsInput:
    asset_id: strawberry.ID
    period: PeriodInput
    views: int
    clicks: int
    conversions: int


@strawberry.type
class VideoMetricsPayload:
    metric: VideoMetric
    asset: Asset


VideoMetricsResult = Annotated[
    VideoMetricsPayload | UserError, strawberry.union("VideoMetricsResult")
]


@strawberry.type
class MetricsMutations:
    @strawberry.mutation(description="Record how a video did over one period.")
    async def record_video_metrics(
        self, info: Info, input: RecordVideoMetricsInput
    ) -> VideoMetricsResult:
        async def work(session: AsyncSession, viewer: Viewer) -> VideoMetricsPayload:
            asset_id = ids.decode(input.asset_id, "Asset", "assetId")
            counts = {
                "views": input.views,
                "clicks": input.clicks,
                "conversions": input.conversions,
            }
            row = await metrics.record_video_metrics(
                session, viewer, asset_id, input.period.period(), counts
            )
            asset = await get_asset(session, viewer, asset_id, field="assetId")  # in the session
            return VideoMetricsPayload(metric=VideoMetric.of(row), asset=Asset.of(info, asset))

        return await mutate(info, work)
