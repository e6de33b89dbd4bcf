from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated, cast

import strawberry
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.datastructures import UploadFile

from gql import ids
from gql.context import Info
from gql.inputs import DeleteInput, UploadAssetInput
from gql.mutations.base import DeletePayload, DeleteResult, mutate
from gql.types.assets import Asset
from gql.types.errors import UserError
from services import assets
from services.errors import ServiceError
from services.rate_limits import Limit
from services.storage import CHUNK
from services.viewer import Viewer


@strawberry.type
class AssetPayload:
    asset: Asset


AssetResult = Annotated[AssetPayload | UserError, strawberry.union("AssetResult")]


async def _chunks(upload: UploadFile) -> AsyncIterator[bytes]:
    while chunk := await upload.read(CHUNK):
        yield chunk


@strawberry.type
class AssetMutations:
    @strawberry.mutation(
        description="Upload a file (GraphQL multipart request). Its type is read from its bytes."
    )
    async def upload_asset(self, info: Info, input: UploadAssetInput) -> AssetResult:
        try:  # before the unit of work: a refused upload is neither stored nor probed
            await info.context.check_rate(Limit.UPLOADS)
        except ServiceError as exc:
            return UserError.of(exc)

        async def work(session: AsyncSession, viewer: Viewer) -> AssetPayload:
            upload = cast(UploadFile, input.file)
            row = await assets.upload_asset(
                session,
                viewer,
                info.context.runtime.storage,
                campaign_id=ids.decode_optional(input.campaign_id, "Campaign", "campaignId"),
                client_id=ids.decode_optional(input.client_id, "Client", "clientId"),
                filename=upload.filename,
                chunks=_chunks(upload),
                max_bytes=info.context.runtime.settings.max_upload_bytes,
                max_pixels=info.context.runtime.settings.max_image_pixels,
            )
            return AssetPayload(asset=Asset.of(info, row))

        return await mutate(info, work)

    @strawberry.mutation
    async def delete_asset(self, info: Info, input: DeleteInput) -> DeleteResult:
        async def work(session: AsyncSession, viewer: Viewer) -> DeletePayload:
            await assets.delete_asset(session, viewer, ids.decode(input.id, "Asset", "id"))
            return DeletePayload(deleted_id=input.id)

        return await mutate(info, work)
