"""Provider webhooks: verified (Standard Webhooks signature and timestamp); news of a
running prediction is applied at once, an ended one (de-duplicated by `webhook-id`)
goes to a worker."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from services.generation.webhook_urls import named
from services.generation.webhooks import prediction_updated
from services.providers.base import WebhookError
from services.providers.replicate import WebhookReceiver
from services.runtime import Runtime

DEDUP_SECONDS = 7 * 24 * 3600


async def replicate_webhook(request: Request) -> Response:
    runtime: Runtime = request.app.state.runtime
    settings = runtime.settings
    if not settings.replicate_webhook_secret:
        return JSONResponse({"error": "webhooks are not configured"}, status_code=404)
    receiver: WebhookReceiver | None = getattr(request.app.state, "replicate_webhooks", None)
    if receiver is None:
        receiver = request.app.state.replicate_webhooks = WebhookReceiver(
            settings.replicate_webhook_secret
        )
    try:
        prediction = receiver.parse(request.headers, await request.body())
    except WebhookError as exc:
        return JSONResponse({"error": str(exc)}, status_code=401)
    broker = request.app.state.broker
    webhook_id = request.headers["webhook-id"]
    # A replayed delivery of an ended prediction would start a second download; news of
    # a running one (status, progress) applies idempotently and needs no bookkeeping.
    claim = f"webhook:{webhook_id}"
    if prediction.status.terminal and not await broker.once(claim, DEDUP_SECONDS):
        return JSONResponse({"status": "duplicate"})
    try:
        known = await prediction_updated(
            runtime, broker, prediction, webhook_id, named(settings, request.query_params)
        )
    except BaseException:
        if prediction.status.terminal:  # not handled: Replicate's retry must get through
            await broker.forget(claim)
        raise
    return JSONResponse({"status": "accepted" if known else "unknown prediction"})
