"""createAssetsFromUrls: the media library's import (services/url_import.py)."""

from __future__ import annotations

from typing import Annotated

import strawberry
from sqlalchemy.ext.asyncio import AsyncSession

from gql import ids
from gql.context import Info
from gql.mutations.base import mutate
from gql.types.assets import Asset
from gql.types.errors import UserError
from services import url_import
from services.campaigns import get_campaign
from services.errors import ServiceError
from services.rate_limits import Limit
from services.viewer import Viewer


@strawberry.input
class CreateAssetsFromUrlsInput:
    campaign_id: strawberry.ID
    urls: list[str] = strawberry.field(description=f"1 to {url_import.MAX_URLS} http(s) URLs.")


@strawberry.type(description="One URL's outcome: its asset, or why it was not imported.")
class UrlImport:
    url: str
    asset: Asset | None
    error: UserError | None


@strawberry.type
class AssetsFromUrlsPayload:
    results: list[UrlImport] = strawberry.field(description="One per URL, in the given order.")
    imported: int
    failed: int


AssetsFromUrlsResult = Annotated[
    AssetsFromUrlsPayload | UserError, strawberry.union("AssetsFromUrlsResult")
]


@strawberry.type
class UrlImportMutations:
    @strawberry.mutation(
        description="Import media from URLs into a campaign. Each URL is fetched by the server "
        "(public http(s) addresses only, checked again on every redirect; size and time capped), "
        "then typed by its bytes like an upload. URLs that fail do not stop the others."
    )
    async def create_assets_from_urls(
        self, info: Info, input: CreateAssetsFromUrlsInput
    ) -> AssetsFromUrlsResult:
        settings = info.context.runtime.settings
        storage = info.context.runtime.storage
        try:  # refused before anything is fetched
            viewer = info.context.require_viewer()
            campaign_id = ids.decode(input.campaign_id, "Campaign", "campaignId")
            url_import.check_urls(input.urls)
            await info.context.check_rate(Limit.UPLOADS)
            async with info.context.reads() as session:
                await get_campaign(session, viewer, campaign_id, field="campaignId")
        except ServiceError as exc:
            return UserError.of(exc)
        limits = url_import.FetchLimits(
            max_bytes=settings.max_upload_bytes,
            seconds=settings.url_import_seconds,
            total_seconds=settings.url_import_total_seconds,
            max_pixels=settings.max_image_pixels,
            allowed_networks=url_import.parse_networks(settings.url_import_allowed_networks),
        )
        # fetched outside any transaction: a slow host holds no database connection
        fetched = await url_import.fetch_all(storage, input.urls, limits)

        async def work(session: AsyncSession, viewer: Viewer) -> AssetsFromUrlsPayload:
            done = await url_import.store_fetched(session, viewer, storage, campaign_id, fetched)
            results = [
                UrlImport(
                    url=d.url,
                    asset=Asset.of(info, d.asset) if d.asset is not None else None,
                    error=UserError.of(d.error) if d.error is not None else None,
                )
                for d in done
            ]
            imported = sum(r.asset is not None for r in results)
            return AssetsFromUrlsPayload(
                results=results, imported=imported, failed=len(results) - imported
            )

        return await mutate(info, work)
