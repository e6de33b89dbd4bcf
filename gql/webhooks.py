"""Provider webhooks: verified (Standard Webhooks signature and timestamp), de-duplicated
by `webhook-id`, and turned into an immediate poll of the prediction."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from services.generation.webhooks import prediction_updated
from services.providers.base import WebhookError
from services.providers.replicate import ReplicateProvider
from services.runtime import Runtime

DEDUP_SECONDS = 7 * 24 * 3600


async def replicate_webhook(request: Request) -> Response:
    runtime: Runtime = request.app.state.runtime
    settings = runtime.settings
    if not settings.replicate_webhook_secret:
        return JSONResponse({"error": "webhooks are not configured"}, status_code=404)
    verifier: ReplicateProvider | None = getattr(request.app.state, "replicate_verifier", None)
    if verifier is None:  # made once per process: verification needs no connection
        verifier = ReplicateProvider(
            api_token=settings.replicate_api_token or "",
            base_url=settings.replicate_api_base,
            webhook_secret=settings.replicate_webhook_secret,
        )
        request.app.state.replicate_verifier = verifier
    try:
        prediction = verifier.parse_webhook(request.headers, await request.body())
    except WebhookError as exc:
        return JSONResponse({"error": str(exc)}, status_code=401)
    broker = request.app.state.broker
    webhook_id = request.headers["webhook-id"]
    if not await broker.once(f"webhook:{webhook_id}", DEDUP_SECONDS):
        return JSONResponse({"status": "duplicate"})
    async with runtime.session_factory() as session:
        known = await prediction_updated(
            session, broker, prediction.id, dict(prediction.raw), webhook_id
        )
    return JSONResponse({"status": "accepted" if known else "unknown prediction"})
