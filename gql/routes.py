"""Non-GraphQL routes: media downloads (signed, with Range) and health."""

from __future__ import annotations

import asyncio
import logging
import re
import unicodedata
import uuid
from urllib.parse import quote

from sqlalchemy import text
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, PlainTextResponse, Response

from db.models import Asset
from services.runtime import Runtime

log = logging.getLogger(__name__)

# Every media response: never sniffed into another type, and opened as a sandboxed,
# script-less document if a browser navigates to it (as GitHub serves raw user content).
MEDIA_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; sandbox",
}
INLINE_TYPES = ("image/", "video/", "audio/")  # a browser shows these; anything else saves
HEALTH_TIMEOUT_SECONDS = 5.0
_URL_USERINFO = re.compile(r"(\w+://)[^/@\s]*@")


def _runtime(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


def _refusal(message: str, status_code: int) -> Response:
    return PlainTextResponse(message, status_code=status_code, headers=MEDIA_HEADERS)


def content_disposition(filename: str, mime_type: str) -> str:
    """`inline` for image, video and audio, `attachment` for the rest, with the name
    reduced to its last path part, without control characters or quotes (RFC 6266:
    an ASCII `filename` and the UTF-8 `filename*`)."""
    kind = "inline" if mime_type.startswith(INLINE_TYPES) else "attachment"
    name = filename.replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(
        ch
        for ch in unicodedata.normalize("NFC", name)
        if unicodedata.category(ch)[0] != "C" and ch not in "\"';"
    ).strip(" .")[:200]
    if not name:
        name = "download"
    fallback = name.encode("ascii", "replace").decode().replace("?", "_")
    return f"{kind}; filename=\"{fallback}\"; filename*=UTF-8''{quote(name, safe='')}"


async def _signed_asset(request: Request) -> Asset | Response:
    """The asset a signed link names (`Asset.url`, and its thumbnail's), or the refusal."""
    runtime = _runtime(request)
    try:
        asset_id = uuid.UUID(request.path_params["asset_id"])
        expires = int(request.query_params.get("expires", ""))
    except ValueError:
        return _refusal("Not found", 404)
    if not runtime.signer.verify(asset_id, expires, request.query_params.get("sig", "")):
        return _refusal("This link is invalid or has expired.", 403)
    async with runtime.session_factory() as session:
        asset = await session.get(Asset, asset_id)
    return asset if asset is not None else _refusal("Not found", 404)


async def media(request: Request) -> Response:
    """Serve an asset's bytes for a URL signed by `Asset.url`; Starlette handles Range."""
    runtime = _runtime(request)
    asset = await _signed_asset(request)
    if isinstance(asset, Response):
        return asset
    path = runtime.storage.path(asset.storage_key)
    if not path.exists():
        return _refusal("Not found", 404)
    return FileResponse(
        path,
        media_type=asset.mime_type,
        headers={
            **MEDIA_HEADERS,
            "Content-Disposition": content_disposition(asset.filename, asset.mime_type),
            "Cache-Control": "private, max-age=3600",
            "ETag": f'"{asset.sha256}"',
        },
    )


async def thumbnail(request: Request) -> Response:
    """Serve an asset's thumbnail; its URL is the asset's own, signed alike."""
    runtime = _runtime(request)
    asset = await _signed_asset(request)
    if isinstance(asset, Response):
        return asset
    key = asset.thumbnail_key
    path = runtime.storage.path(key) if key else None
    if path is None or not path.exists():
        return _refusal("Not found", 404)
    mime = asset.thumbnail_mime or "application/octet-stream"
    return FileResponse(
        path,
        media_type=mime,
        headers={
            **MEDIA_HEADERS,
            "Content-Disposition": content_disposition(f"thumbnail-{asset.filename}", mime),
            "Cache-Control": "private, max-age=3600",
            "ETag": f'"{key}"',
        },
    )


async def health(request: Request) -> Response:
    """`ok`, or `unavailable` with 503: what failed goes to the log, not to the caller.
    A failure is logged once per outage, at WARNING, without connection details."""
    runtime = _runtime(request)
    state = request.app.state
    try:
        async with asyncio.timeout(HEALTH_TIMEOUT_SECONDS), runtime.engine.connect() as conn:
            await conn.execute(text("SELECT 1"))
    except Exception as exc:
        if not getattr(state, "health_failing", False):
            state.health_failing = True
            log.warning("health check: database unavailable: %s", _describe(exc))
        return JSONResponse({"status": "unavailable"}, status_code=503)
    if getattr(state, "health_failing", False):
        state.health_failing = False
        log.info("health check: database available again")
    return JSONResponse({"status": "ok"})


def _describe(exc: BaseException) -> str:
    """The exception's type and first line, with any URL credentials masked."""
    cause = exc.__cause__ or exc
    lines = str(cause).strip().splitlines()
    first = _URL_USERINFO.sub(r"\1***@", lines[0] if lines else "")
    return f"{type(cause).__name__}: {first[:300]}"
