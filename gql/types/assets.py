from __future__ import annotations

import binascii
import time
from collections.abc import Callable, Iterable
from datetime import datetime
from typing import TYPE_CHECKING, Annotated

import strawberry
from strawberry import relay

from gql.context import Info
from gql.types.enums import AssetKind, AssetOrigin
from gql.types.node import ID_DESCRIPTION, resolve_owned
from gql.types.results import PeriodInput, Results, VideoMetric, period_of
from gql.types.rows import RowMaker, RowSpec, register
from services.assets import AssetRow

if TYPE_CHECKING:
    from gql.types.campaigns import Campaign
    from gql.types.clients import Client


@strawberry.type(description="What the media library shows for an asset.")
class Thumbnail:
    url: str = strawberry.field(description="Signed like the asset's own URL.")
    mime_type: str = strawberry.field(description="image/jpeg (a frame) or image/png (a waveform).")
    width: int
    height: int


@strawberry.type(description="An image, video, audio track or document, uploaded or generated.")
class Asset(relay.Node):
    id: relay.NodeID[str]
    _id: strawberry.ID = strawberry.field(name="id", description=ID_DESCRIPTION)
    kind: AssetKind
    origin: AssetOrigin
    filename: str
    mime_type: str
    size_bytes: float = strawberry.field(description="Size in bytes (a Float: files pass 2^31).")
    sha256: str
    width: int | None
    height: int | None
    duration_seconds: float | None
    created_at: datetime
    url: str = strawberry.field(
        description="Signed download URL (expires; supports HTTP Range for seeking video)."
    )
    rendition: str | None = strawberry.field(
        description='Which rendition of its `source` this is ("720p", "9:16 crop"); null '
        "for an original."
    )
    row: strawberry.Private[AssetRow]

    @classmethod
    def of(cls, info: Info, row: AssetRow) -> Asset:
        """The type for a row; `info` signs its download URL."""
        return cls.signed(info)(row)

    @classmethod
    def signed(cls, info: Info) -> RowMaker[Asset]:
        """`of` for a page of rows, made once per request (a page of 50 campaigns asks
        for it 50 times, and making it anew each time cost 7 % of that page's CPU), and
        again when the URLs' expiry moves on (a WebSocket's context lives for hours)."""
        context = info.context
        signer = context.runtime.signer
        now = time.time()
        expires = signer.expires(now)
        made = context.media
        if made is not None and made[0] == expires:
            maker: RowMaker[Asset] = made[1]
            return maker
        base = str(context.request.base_url).rstrip("/")
        maker = RowMaker(ROWS, _make, (signer.urls(base, now=now),))
        context.media = (expires, maker)
        return maker

    @classmethod
    def from_row(cls, row: AssetRow, url: Callable[[str], str]) -> Asset:
        """The type for a row, its URL signed by `url` (`MediaUrlSigner.urls`)."""
        asset: Asset = _make(row, url)
        return asset

    @classmethod
    async def resolve_nodes(  # type: ignore[override]
        cls, *, info: Info, node_ids: Iterable[str], required: bool = False
    ) -> list[Asset | None]:
        return await resolve_owned(
            info, node_ids, info.context.loaders.asset, lambda r: r.client_id,
            lambda r: cls.of(info, r),
        )  # fmt: skip

    @strawberry.field
    async def campaign(
        self, info: Info
    ) -> Annotated[Campaign, strawberry.lazy("gql.types.campaigns")] | None:
        from gql.types.campaigns import Campaign

        if self.row.campaign_id is None:
            return None
        row = await info.context.loaders.campaign.load(self.row.campaign_id)
        return Campaign.from_row(row) if row is not None else None

    @strawberry.field(
        description="How this video did over `period` (all time if none); null for anything "
        "but a video."
    )
    async def results(self, info: Info, period: PeriodInput | None = None) -> Results | None:
        if self.row.kind is not AssetKind.VIDEO:
            return None
        key = (self.row.id, period_of(period))
        return Results.of(await info.context.loaders.asset_results.load(key))

    @strawberry.field(description="This video's recorded periods inside `period`, oldest first.")
    async def metrics(self, info: Info, period: PeriodInput | None = None) -> list[VideoMetric]:
        found = await info.context.loaders.asset_metrics.load((self.row.id, period_of(period)))
        return [VideoMetric.of(m) for m in found]

    @strawberry.field(
        description="A poster frame (image, video) or waveform (audio track), made when the "
        "asset was stored; null for a document."
    )
    def thumbnail(self) -> Thumbnail | None:
        row = self.row
        if row.thumbnail_key is None or row.thumbnail_mime is None:
            return None
        base, _, query = self.url.partition("?")
        return Thumbnail(
            url=f"{base}/thumbnail?{query}",
            mime_type=row.thumbnail_mime,
            width=row.thumbnail_width or 0,
            height=row.thumbnail_height or 0,
        )

    @strawberry.field(description="The video this rendition was made from; null for an original.")
    async def source(self, info: Info) -> Asset | None:
        if self.row.source_asset_id is None:
            return None
        row = await info.context.loaders.asset.load(self.row.source_asset_id)
        return Asset.of(info, row) if row is not None else None

    @strawberry.field(description="Renditions made of this video (exportVideo), oldest first.")
    async def renditions(self, info: Info) -> list[Asset]:
        rows = await info.context.loaders.renditions.load((self.row.id,))
        convert = Asset.signed(info)
        return [convert(r) for r in rows]

    @strawberry.field
    async def client(self, info: Info) -> Annotated[Client, strawberry.lazy("gql.types.clients")]:
        from gql.types.clients import Client

        row = await info.context.loaders.client.load(self.row.client_id)
        assert row is not None
        return Client.from_row(row)


COLUMNS_OF: dict[str, tuple[str, ...]] = {
    # a GraphQL field of Asset -> the row columns `from_row` and its resolver read for it
    "__typename": (),
    "id": (),  # from the row's id, always read
    "url": (),
    "campaign": (),  # campaign_id: always read
    "client": ("client_id",),
    "results": ("kind",),
    "metrics": (),
    "kind": ("kind",),
    "origin": ("origin",),
    "filename": ("filename",),
    "mimeType": ("mime_type",),
    "sizeBytes": ("size_bytes",),
    "sha256": ("sha256",),
    "width": ("width",),
    "height": ("height",),
    "durationSeconds": ("duration_seconds",),
    "createdAt": ("created_at",),
    "rendition": ("rendition",),
    "source": ("source_asset_id",),
    "renditions": (),
    "thumbnail": ("thumbnail_key", "thumbnail_mime", "thumbnail_width", "thumbnail_height"),
}


_COPIED = (
    *("kind", "origin", "filename", "mime_type", "size_bytes", "sha256", "width", "height"),
    *("duration_seconds", "created_at", "rendition"),
)
"""Attributes that are the row's column of the same name."""
ROWS = register(
    RowSpec(
        Asset,
        # the id's text once, for the id and the URL: a page makes 1,000 nodes; the global
        # id as gql.ids.encode makes it, written out (two calls less a node)
        setup=("text = str(row.id)",),
        values={
            "id": "text",
            "_id": "b2a_base64(b'Asset:' + text.encode(), newline=False).decode()",
            **{name: f"row.{name}" for name in _COPIED},
            "url": "url(text)",
            "row": "row",
        },
        context=("url",),
        names={"b2a_base64": binascii.b2a_base64},
    )
)
"""How an asset's attributes come from its row and the request's URL signer."""
_make = ROWS.constructor()
