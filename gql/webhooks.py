"""Provider webhooks: verified (Standard Webhooks signature and timestamp); news of a
running prediction is applied at once, an ended one (de-duplicated by `webhook-id`)
goes to a worker.

The body is read last: a delivery without the signature headers, or with a timestamp
out of the window, is refused before its body is read, and a body over
`Settings.max_webhook_bytes` is refused as it streams in (413); what is left of a
refused body is dropped or left unread as `gql.http_limits.settle` says."""

from __future__ import annotations

import time
from collections.abc import Mapping

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from gql.http_limits import CappedBody, Refusal, check_declared, settle
from services.generation.deps import Core
from services.generation.webhook_urls import named
from services.generation.webhooks import prediction_updated
from services.providers.base import WebhookError
from services.providers.replicate import WebhookReceiver

DEDUP_SECONDS = 7 * 24 * 3600
TIMESTAMP_TOLERANCE_SECONDS = 5 * 60  # Standard Webhooks' window, checked again on verify
SIGNATURE_HEADERS = ("webhook-id", "webhook-timestamp", "webhook-signature")


def plausibly_signed(headers: Mapping[str, str], now: float) -> bool:
    """The signature headers are there and the timestamp is in the window: worth reading
    the body to verify. The receiver does the real check."""
    if not all(headers.get(name, "").strip() for name in SIGNATURE_HEADERS):
        return False
    try:
        timestamp = float(headers["webhook-timestamp"])
    except ValueError:
        return False
    return abs(now - timestamp) <= TIMESTAMP_TOLERANCE_SECONDS


async def _signed_body(request: Request, capped: CappedBody) -> bytes:
    """The body of a delivery whose headers look signed, checked before it is read."""
    if not plausibly_signed(request.headers, time.time()):
        raise Refusal(
            401,
            "webhook rejected: missing signature headers or timestamp out of tolerance",
            code="WEBHOOK_REJECTED",
        )
    check_declared(request.scope, capped.limit)
    return await capped.read()


async def replicate_webhook(request: Request) -> Response:
    # What the generation services need here, as one object: the app's runtime and broker.
    core = Core(runtime=request.app.state.runtime, broker=request.app.state.broker)
    settings = core.settings
    if not settings.replicate_webhook_secret:
        return JSONResponse({"error": "webhooks are not configured"}, status_code=404)
    receiver: WebhookReceiver | None = getattr(request.app.state, "replicate_webhooks", None)
    if receiver is None:
        receiver = request.app.state.replicate_webhooks = WebhookReceiver(
            settings.replicate_webhook_secret
        )
    capped = CappedBody(request.receive, settings.max_webhook_bytes)
    try:
        body = await _signed_body(request, capped)
    except Refusal as refusal:
        refused = JSONResponse({"error": refusal.message, "code": refusal.code}, refusal.status)
        await settle(refused, request.scope, capped, capped.limit)
        return refused
    try:
        prediction = receiver.parse(request.headers, body)
    except WebhookError as exc:
        return JSONResponse({"error": str(exc), "code": "WEBHOOK_REJECTED"}, status_code=401)
    broker = core.broker
    webhook_id = request.headers["webhook-id"]
    # A replayed delivery of an ended prediction would start a second download; news of
    # a running one (status, progress) applies idempotently and needs no bookkeeping.
    claim = f"webhook:{webhook_id}"
    if prediction.status.terminal and not await broker.once(claim, DEDUP_SECONDS):
        return JSONResponse({"status": "duplicate"})
    try:
        known = await prediction_updated(
            core, prediction, webhook_id, named(settings, request.query_params)
        )
    except BaseException:
        if prediction.status.terminal:  # not handled: Replicate's retry must get through
            await broker.forget(claim)
        raise
    return JSONResponse({"status": "accepted" if known else "unknown prediction"})
