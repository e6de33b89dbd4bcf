"""Non-GraphQL routes: media downloads (signed, with Range) and health."""

from __future__ import annotations

import uuid

from sqlalchemy import text
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, PlainTextResponse, Response

from db.models import Asset
from services.runtime import Runtime


def _runtime(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


async def media(request: Request) -> Response:
    """Serve an asset's bytes for a URL signed by `Asset.url`; Starlette handles Range."""
    runtime = _runtime(request)
    try:
        asset_id = uuid.UUID(request.path_params["asset_id"])
        expires = int(request.query_params.get("expires", ""))
    except ValueError:
        return PlainTextResponse("Not found", status_code=404)
    if not runtime.signer.verify(asset_id, expires, request.query_params.get("sig", "")):
        return PlainTextResponse("This link is invalid or has expired.", status_code=403)
    async with runtime.session_factory() as session:
        asset = await session.get(Asset, asset_id)
    path = runtime.storage.path(asset.storage_key) if asset else None
    if asset is None or path is None or not path.exists():
        return PlainTextResponse("Not found", status_code=404)
    return FileResponse(
        path,
        media_type=asset.mime_type,
        filename=asset.filename,
        content_disposition_type="inline",
        headers={"Cache-Control": "private, max-age=3600", "ETag": f'"{asset.sha256}"'},
    )


async def health(request: Request) -> Response:
    runtime = _runtime(request)
    try:
        async with runtime.engine.connect() as conn:
            await conn.execute(text("SELECT 1"))
    except Exception as exc:
        return JSONResponse({"status": "error", "database": str(exc)}, status_code=503)
    return JSONResponse({"status": "ok"})
