"""Assets: uploads streamed to content-addressed storage, typed by their bytes, probed."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import TYPE_CHECKING, Protocol

from sqlalchemy import ColumnElement, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from db.models import Asset, AssetKind, AssetOrigin
from services.campaigns import get_campaign
from services.clients import get_client
from services.errors import InvalidInput, NotFound, UnsupportedFile
from services.media.documents import count_pages
from services.media.images import check_image
from services.media.limits import ProbeError, TooManyPixels, run_decoder
from services.media.probe import probe
from services.media.sniff import Sniffed, sniff
from services.media.thumbnails import Thumbnail, make_thumbnail
from services.pagination import Columns, Page, PageArgs, count_by_parent, fetch_pages_by_parent
from services.storage import LocalStorage, StagedBlob
from services.uow import on_rollback
from services.viewer import Viewer

if TYPE_CHECKING:
    from services.runtime import Runtime


class AssetRow(Protocol):
    """An asset as reads return it: a row of every column (an `Asset` also is one)."""

    @property
    def id(self) -> uuid.UUID: ...
    @property
    def client_id(self) -> uuid.UUID: ...
    @property
    def campaign_id(self) -> uuid.UUID | None: ...
    @property
    def kind(self) -> AssetKind: ...
    @property
    def origin(self) -> AssetOrigin: ...
    @property
    def filename(self) -> str: ...
    @property
    def mime_type(self) -> str: ...
    @property
    def size_bytes(self) -> int: ...
    @property
    def sha256(self) -> str: ...
    @property
    def storage_key(self) -> str: ...
    @property
    def width(self) -> int | None: ...
    @property
    def height(self) -> int | None: ...
    @property
    def duration_seconds(self) -> float | None: ...
    @property
    def job_id(self) -> uuid.UUID | None: ...
    @property
    def sub_job_id(self) -> uuid.UUID | None: ...
    @property
    def source_asset_id(self) -> uuid.UUID | None: ...
    @property
    def rendition(self) -> str | None: ...
    @property
    def thumbnail_key(self) -> str | None: ...
    @property
    def thumbnail_mime(self) -> str | None: ...
    @property
    def thumbnail_width(self) -> int | None: ...
    @property
    def thumbnail_height(self) -> int | None: ...
    @property
    def created_at(self) -> datetime: ...


ASSET_COLUMNS: Columns[AssetRow] = Columns(Asset)


@dataclass(frozen=True, slots=True)
class AssetFilter:
    kind: AssetKind | None = None
    origin: AssetOrigin | None = None

    def clauses(self) -> list[ColumnElement[bool]]:
        out: list[ColumnElement[bool]] = []
        if self.kind is not None:
            out.append(Asset.kind == self.kind)
        if self.origin is not None:
            out.append(Asset.origin == self.origin)
        return out


async def get_asset(
    session: AsyncSession, viewer: Viewer, asset_id: uuid.UUID, field: str = "id"
) -> Asset:
    asset = await session.get(Asset, asset_id)
    if asset is None or not viewer.can_access(asset.client_id):
        raise NotFound("no such asset", field=field)
    return asset


async def load_assets(session: AsyncSession, ids: Sequence[uuid.UUID]) -> list[AssetRow]:
    return await ASSET_COLUMNS.where(session, Asset.id.in_(ids))


async def pages_for_campaigns(
    session: AsyncSession,
    campaign_ids: Sequence[uuid.UUID],
    flt: AssetFilter,
    args: PageArgs,
    only: frozenset[str] | None = None,
) -> dict[uuid.UUID, Page[AssetRow]]:
    """Each campaign's page; `only` names the columns the caller reads (None: all). The
    rows always hold their id, campaign and creation time; other columns not named read
    as None."""
    columns = ASSET_COLUMNS if only is None else ASSET_COLUMNS.only(only | _ALWAYS)
    return await fetch_pages_by_parent(session, columns, Asset.campaign_id, campaign_ids, flt, args)


_ALWAYS = frozenset({"campaign_id"})  # `only` adds id and created_at


async def counts_for_campaigns(
    session: AsyncSession, campaign_ids: Sequence[uuid.UUID], flt: AssetFilter
) -> dict[uuid.UUID, int]:
    return await count_by_parent(session, Asset.campaign_id, campaign_ids, flt.clauses())


def _clean_filename(name: str | None, extension: str) -> str:
    base = (name or "").replace("\\", "/").rsplit("/", 1)[-1].strip()
    base = "".join(ch for ch in base if ch.isprintable())[:200]
    return base or f"upload.{extension}"


async def upload_asset(
    session: AsyncSession,
    viewer: Viewer,
    storage: LocalStorage,
    *,
    campaign_id: uuid.UUID | None,
    client_id: uuid.UUID | None,
    filename: str | None,
    chunks: AsyncIterator[bytes],
    max_bytes: int,
    max_pixels: int,
) -> Asset:
    """Store an upload under a campaign (or a client, for logos) after checking its bytes."""
    if (campaign_id is None) == (client_id is None):
        raise InvalidInput("give exactly one of campaignId or clientId", field="campaignId")
    if campaign_id is not None:
        campaign = await get_campaign(session, viewer, campaign_id, field="campaignId")
        owner_id = campaign.client_id
    else:
        assert client_id is not None
        try:
            owner_id = (await get_client(session, viewer, client_id)).id
        except NotFound as exc:
            raise NotFound(exc.message, field="clientId") from None

    staged = await storage.stage(chunks, max_bytes=max_bytes)
    asset = await store(
        session,
        storage,
        await inspect(storage, staged, max_pixels=max_pixels),
        client_id=owner_id,
        campaign_id=campaign_id,
        filename=filename,
        origin=AssetOrigin.UPLOADED,
    )
    return asset


@dataclass(frozen=True, slots=True)
class Inspected:
    """What staged bytes are, read from the bytes: checked before any row is written."""

    staged: StagedBlob
    kind: AssetKind
    mime_type: str
    extension: str
    width: int | None
    height: int | None
    duration_seconds: float | None
    page_count: int | None = None  # PDFs (not stored yet: the Asset row has no column)
    thumbnail: StagedThumbnail | None = None


@dataclass(frozen=True, slots=True)
class StagedThumbnail:
    staged: StagedBlob
    mime_type: str
    width: int
    height: int


async def inspect(
    storage: LocalStorage,
    staged: StagedBlob,
    *,
    max_pixels: int,
    field: str = "file",
    thumbnail: bool = True,
) -> Inspected:
    """Type the bytes by their magic, then open them with their decoder: Pillow for
    images (size from the header first), PyAV for video and audio, pypdf for PDFs.
    Anything a decoder refuses is discarded before a row or a blob is written."""
    try:
        if staged.size == 0:
            raise UnsupportedFile("is empty", field=field)
        sniffed = sniff(staged.head)
        if sniffed is None:
            raise UnsupportedFile("is not a supported image, video, audio or PDF file", field=field)
        try:
            inspected = await _decode(staged, sniffed, max_pixels)
            if thumbnail:  # else `add_thumbnail` once the asset is stored
                inspected = await _with_thumbnail(storage, inspected)
        except TooManyPixels as exc:
            raise UnsupportedFile(str(exc), field=field) from None
        except ProbeError:
            raise UnsupportedFile(
                f"looks like {sniffed.mime_type} but cannot be decoded", field=field
            ) from None
    except BaseException:
        storage.discard(staged)
        raise
    return inspected


async def _with_thumbnail(storage: LocalStorage, inspected: Inspected) -> Inspected:
    """The inspected bytes with their thumbnail staged beside them (committed by `store`)."""
    made = await make_thumbnail(
        inspected.staged.path, inspected.kind, inspected.width, inspected.height,
        inspected.duration_seconds,
    )  # fmt: skip
    if made is None:
        return inspected
    return replace(inspected, thumbnail=await _stage_thumbnail(storage, made))


async def _stage_thumbnail(storage: LocalStorage, made: Thumbnail) -> StagedThumbnail:
    async def chunks() -> AsyncIterator[bytes]:
        yield made.data

    staged = await storage.stage(chunks(), max_bytes=len(made.data), field="thumbnail")
    return StagedThumbnail(staged, made.mime_type, made.width, made.height)


async def add_thumbnail(runtime: Runtime, asset: Asset) -> bool:
    """Make the stored asset's thumbnail, if it has none yet. Workers make their outputs'
    after committing them, so a render's success never waits on its thumbnail; a process
    that dies in between leaves one for `reelgraph thumbnails`."""
    made = await _add_thumbnail(
        runtime, asset.id, asset.storage_key, asset.kind, asset.width, asset.height,
        asset.duration_seconds,
    )  # fmt: skip
    return made > 0


async def _add_thumbnail(
    runtime: Runtime, asset_id: uuid.UUID, key: str, kind: AssetKind, width: int | None,
    height: int | None, duration: float | None,
) -> int:  # fmt: skip
    storage = runtime.storage
    path = storage.path(key)
    made = await make_thumbnail(path, kind, width, height, duration) if path.exists() else None
    if made is None:
        return 0
    thumb = await _stage_thumbnail(storage, made)
    async with runtime.transaction() as session:
        thumb_key = _commit(session, storage, thumb.staged)
        result = await session.execute(
            update(Asset)
            .where(Asset.id == asset_id, Asset.thumbnail_key.is_(None))
            .values(
                thumbnail_key=thumb_key, thumbnail_mime=thumb.mime_type,
                thumbnail_width=thumb.width, thumbnail_height=thumb.height,
            )
        )  # fmt: skip
    count: int = result.rowcount  # type: ignore[attr-defined]
    return count


async def backfill_thumbnails(
    runtime: Runtime, on_progress: Callable[[int, int], None] | None = None
) -> int:
    """Make the thumbnails of assets stored before thumbnails were (an image, video or
    track without one whose bytes this process's storage holds); returns how many.
    `on_progress(done, total)` after each. Safe to run twice, and beside a server."""
    columns = (Asset.id, Asset.storage_key, Asset.kind, Asset.width, Asset.height)
    lacking = select(*columns, Asset.duration_seconds).where(
        Asset.thumbnail_key.is_(None), Asset.kind != AssetKind.DOCUMENT
    )
    async with runtime.session_factory() as session:
        rows = (await session.execute(lacking.order_by(Asset.created_at, Asset.id))).all()
    made_count = 0
    for done, (asset_id, key, kind, width, height, duration) in enumerate(rows, 1):
        made_count += await _add_thumbnail(runtime, asset_id, key, kind, width, height, duration)
        if on_progress is not None:
            on_progress(done, len(rows))
    return made_count


async def _decode(staged: StagedBlob, sniffed: Sniffed, max_pixels: int) -> Inspected:
    kind = sniffed.kind
    width = height = pages = None
    duration = None
    if kind is AssetKind.IMAGE:
        image = await run_decoder(
            check_image, staged.path, sniffed.mime_type, max_pixels=max_pixels
        )
        width, height = image.width, image.height
    elif kind is AssetKind.DOCUMENT:
        pages = await run_decoder(count_pages, staged.path)
    else:
        info = await probe(staged.path, max_pixels=max_pixels)
        if kind is AssetKind.VIDEO and not info.has_video and info.has_audio:
            kind = AssetKind.AUDIO
        width, height = info.width, info.height
        duration = info.duration_seconds
    return Inspected(
        staged=staged,
        kind=kind,
        mime_type=sniffed.mime_type,
        extension=sniffed.extension,
        width=width,
        height=height,
        duration_seconds=duration,
        page_count=pages,
    )


async def store(
    session: AsyncSession,
    storage: LocalStorage,
    inspected: Inspected,
    *,
    client_id: uuid.UUID,
    campaign_id: uuid.UUID | None,
    filename: str | None,
    origin: AssetOrigin,
    job_id: uuid.UUID | None = None,
    sub_job_id: uuid.UUID | None = None,
) -> Asset:
    """Content-address inspected bytes and add their Asset row (quick: no probing)."""
    key = _commit(session, storage, inspected.staged)
    thumb = inspected.thumbnail
    thumb_key = _commit(session, storage, thumb.staged) if thumb is not None else None
    asset = Asset(
        client_id=client_id,
        campaign_id=campaign_id,
        kind=inspected.kind,
        origin=origin,
        filename=_clean_filename(filename, inspected.extension),
        mime_type=inspected.mime_type,
        size_bytes=inspected.staged.size,
        sha256=inspected.staged.sha256,
        storage_key=key,
        thumbnail_key=thumb_key,
        thumbnail_mime=thumb.mime_type if thumb else None,
        thumbnail_width=thumb.width if thumb else None,
        thumbnail_height=thumb.height if thumb else None,
        width=inspected.width,
        height=inspected.height,
        duration_seconds=inspected.duration_seconds,
        job_id=job_id,
        sub_job_id=sub_job_id,
    )
    session.add(asset)
    await session.flush()
    return asset


async def delete_asset(session: AsyncSession, viewer: Viewer, asset_id: uuid.UUID) -> Asset:
    """Remove the row; the blob goes at the next sweep once nothing references it."""
    asset = await get_asset(session, viewer, asset_id)
    await session.delete(asset)
    await session.flush()
    return asset


def discard(storage: LocalStorage, inspected: Inspected) -> None:
    """Inspected bytes not stored after all: their staged files go, thumbnail too."""
    storage.discard(inspected.staged)
    if inspected.thumbnail is not None:
        storage.discard(inspected.thumbnail.staged)


def _commit(session: AsyncSession, storage: LocalStorage, staged: StagedBlob) -> str:
    """Move staged bytes to their content address, removed again if the transaction
    rolls back and they were new."""
    key, created = storage.commit(staged)
    if created:

        async def _remove_orphan() -> None:
            storage.delete(key)

        on_rollback(session, _remove_orphan)
    return key


async def referenced_storage_keys(session: AsyncSession) -> set[str]:
    """Every stored blob an asset names: its bytes and its thumbnail."""
    keys = set(await session.scalars(select(Asset.storage_key).distinct()))
    thumbs = await session.scalars(
        select(Asset.thumbnail_key).where(Asset.thumbnail_key.is_not(None))
    )
    return keys | {k for k in thumbs if k}


async def renditions_of(
    session: AsyncSession, asset_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, list[AssetRow]]:
    """Each video's renditions (exportVideo), oldest first."""
    out: dict[uuid.UUID, list[AssetRow]] = {i: [] for i in asset_ids}
    rows = await ASSET_COLUMNS.where(session, Asset.source_asset_id.in_(asset_ids))
    for row in sorted(rows, key=lambda r: (r.created_at, r.id)):
        if row.source_asset_id is not None:
            out[row.source_asset_id].append(row)
    return out
