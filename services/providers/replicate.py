"""Replicate through its documented HTTP API: predictions, cancel, downloads, signed webhooks.

Create is the one call we retry in-process, and only on 429: a throttled request was not
processed, so trying again cannot pay for a second prediction. Everything else surfaces as
`ProviderError` with `retryable` and `retry_after`, and the caller (a short arq task) decides.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import email.utils
import json
import re
import time
import urllib.parse
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import anyio
import httpx
from standardwebhooks import Webhook, WebhookVerificationError

from services.providers.base import (
    Prediction,
    PredictionStatus,
    ProgressCallback,
    ProviderError,
    WebhookError,
)

DEFAULT_BASE_URL = "https://api.replicate.com/v1"
# The deliveries we act on: "start" (the prediction exists: it names the prediction of
# a create whose answer was lost, at once), "logs" (it runs, and how far it got) and
# "completed". Outputs are copied once the prediction has completed, not per "output".
WEBHOOK_EVENTS = ("start", "logs", "completed")
MAX_INLINE_RETRY_AFTER = 10.0  # seconds we are willing to wait inside one create call
# Errors after the request was sent: the server may have acted on it. (Connecting and
# pool errors happen before anything is sent.)
_ANSWER_LOST = (httpx.ReadTimeout, httpx.ReadError, httpx.RemoteProtocolError, httpx.WriteError)
# One create POST gets this long to answer; with its inline 429 retries a create ends
# within 4 x 60 + 3 x 10 s, before the submit task takes it for lost (SUBMIT_LOST_SECONDS).
CREATE_TIMEOUT = 60.0
_DOWNLOAD_CHUNK = 1 << 20
_RESETS_IN = re.compile(r"resets in ~?\s*(\d+(?:\.\d+)?)\s*s", re.IGNORECASE)

# Progress in logs: tqdm bars (" 45%|####"), lines that start with a percentage, "progress: 45%",
# and "step 9/20" counters. Any other percentage ("guidance 50%") says nothing about progress.
_PERCENT_PATTERNS = (
    re.compile(r"(\d{1,3}(?:\.\d+)?)\s*%\s*\|"),
    re.compile(r"^\s*(\d{1,3}(?:\.\d+)?)\s*%"),
    re.compile(r"progress\D{0,20}?(\d{1,3}(?:\.\d+)?)\s*%", re.IGNORECASE),
)
_FRACTION = re.compile(
    r"\b(?:step|iteration|iter|frame|epoch|batch|chunk|segment|progress)s?\b\D{0,3}?"
    r"(\d+)\s*(?:/|of)\s*(\d+)",
    re.IGNORECASE,
)


def progress_from_logs(logs: str | None) -> float | None:
    """The last progress a model printed, as 0..1; None when the logs say nothing."""
    if not logs:
        return None
    for line in reversed(re.split(r"[\r\n]+", logs)):
        found: list[tuple[int, float]] = []
        for pattern in _PERCENT_PATTERNS:
            for match in pattern.finditer(line):
                value = float(match.group(1))
                if value <= 100:
                    found.append((match.start(1), value / 100))
        for match in _FRACTION.finditer(line):
            done, total = int(match.group(1)), int(match.group(2))
            if total > 0 and done <= total:
                found.append((match.start(1), done / total))
        if found:
            return max(found)[1]
    return None


def output_urls(output: object) -> list[str]:
    """Replicate's `output` (a URL, a list of them, an object of them, or null) as a URL list."""
    if isinstance(output, str):
        return [output] if output.startswith(("https://", "http://", "data:")) else []
    if isinstance(output, list):
        return [url for item in output for url in output_urls(item)]
    if isinstance(output, dict):
        return [url for item in output.values() for url in output_urls(item)]
    return []


def prediction_from_json(data: Mapping[str, Any]) -> Prediction:
    """Map a Replicate prediction object (API response or webhook body) to a `Prediction`."""
    prediction_id = data.get("id")
    if not isinstance(prediction_id, str) or not prediction_id:
        raise ProviderError("Replicate returned a prediction without an id")
    status_value = data.get("status")
    try:
        status = PredictionStatus(status_value if isinstance(status_value, str) else "")
    except ValueError:
        raise ProviderError(f"Replicate returned an unknown status {status_value!r}") from None
    logs = data.get("logs") if isinstance(data.get("logs"), str) else None
    error = data.get("error")
    if error is not None and not isinstance(error, str):
        error = json.dumps(error)
    metrics = data.get("metrics")
    predict_time = metrics.get("predict_time") if isinstance(metrics, dict) else None
    if isinstance(predict_time, bool) or not isinstance(predict_time, int | float):
        predict_time = None
    return Prediction(
        id=prediction_id,
        status=status,
        output=output_urls(data.get("output")),
        error=error,
        logs=logs,
        progress=1.0 if status is PredictionStatus.SUCCEEDED else progress_from_logs(logs),
        predict_time=float(predict_time) if predict_time is not None else None,
        raw=data,
    )


def retry_after(response: httpx.Response) -> float | None:
    """Seconds to wait from `Retry-After` (delta or HTTP date), else from the 429 detail."""
    header = response.headers.get("retry-after")
    if header:
        try:
            return max(0.0, float(header))
        except ValueError:
            pass
        try:
            when = email.utils.parsedate_to_datetime(header)
        except (TypeError, ValueError):
            when = None
        if when is not None and when.tzinfo is not None:
            return max(0.0, when.timestamp() - time.time())
    found = _RESETS_IN.search(_detail(response))
    return float(found.group(1)) if found else None


def _detail(response: httpx.Response) -> str:
    """Replicate's errors are RFC 7807 problem details: prefer `detail`, then `title`."""
    try:
        body = response.json()
    except ValueError:
        return response.text[:500]
    if isinstance(body, dict):
        for key in ("detail", "title"):
            if isinstance(body.get(key), str) and body[key].strip():
                return str(body[key]).strip()
    return response.text[:500]


def _model_route(model: str) -> tuple[str, dict[str, str]]:
    """`owner/name` runs the model's latest version; `owner/name:version` pins one."""
    ref, _, version = model.partition(":")
    owner, _, name = ref.partition("/")
    if not owner or not name or "/" in name or (":" in model and not version):
        raise ProviderError(f"Replicate model must be owner/name[:version], got {model!r}")
    if version:
        return "predictions", {"version": version}
    quote = urllib.parse.quote
    return f"models/{quote(owner, safe='')}/{quote(name, safe='')}/predictions", {}


def _decode_data_uri(uri: str) -> bytes:
    meta, comma, payload = uri.removeprefix("data:").partition(",")
    if not comma:
        raise ProviderError("malformed data: URI in Replicate output")
    raw = urllib.parse.unquote_to_bytes(payload)
    if not meta.lower().endswith(";base64"):
        return raw
    try:
        return base64.b64decode(raw, validate=True)
    except binascii.Error as exc:
        raise ProviderError("malformed base64 in a data: URI output") from exc


class WebhookReceiver:
    """Replicate's webhook deliveries: verified per Standard Webhooks (signature, and a
    timestamp within 5 minutes), then parsed. Needs the secret only, no connection."""

    def __init__(self, secret: str) -> None:
        self._webhook = Webhook(secret)

    def parse(self, headers: Mapping[str, str], body: bytes) -> Prediction:
        lowered = {key.lower(): value for key, value in headers.items()}
        try:
            self._webhook.verify(body, lowered, json_parse=False)
        except (WebhookVerificationError, ValueError) as exc:  # ValueError: malformed headers
            raise WebhookError(f"webhook rejected: {exc}") from exc
        try:
            data = json.loads(body)
        except ValueError as exc:
            raise WebhookError("webhook body is not JSON") from exc
        if not isinstance(data, dict):
            raise WebhookError("webhook body is not a prediction object")
        try:
            return prediction_from_json(data)
        except ProviderError as exc:
            raise WebhookError(str(exc)) from exc


class ReplicateProvider:
    name = "replicate"

    def __init__(
        self,
        api_token: str,
        base_url: str = DEFAULT_BASE_URL,
        webhook_secret: str | None = None,
        http: httpx.AsyncClient | None = None,
        max_create_retries: int = 3,
    ) -> None:
        self._base = base_url.rstrip("/") + "/"
        self._auth = {"Authorization": f"Bearer {api_token}"}
        self._webhooks = WebhookReceiver(webhook_secret) if webhook_secret else None
        self._owns_http = http is None
        self._http = http or httpx.AsyncClient(timeout=httpx.Timeout(30.0, connect=10.0))
        self._max_create_retries = max_create_retries

    async def create(
        self,
        model: str,
        input: Mapping[str, Any],
        *,
        webhook_url: str | None = None,
        cancel_after: str | None = None,
        on_progress: ProgressCallback | None = None,
    ) -> Prediction:
        path, body = _model_route(model)
        payload: dict[str, Any] = {**body, "input": dict(input)}
        if webhook_url:
            payload["webhook"] = webhook_url
            payload["webhook_events_filter"] = list(WEBHOOK_EVENTS)
        headers = {"Cancel-After": cancel_after} if cancel_after else {}
        response = await self._create(path, payload, headers)
        prediction = prediction_from_json(self._json(response, f"create {model}"))
        if on_progress is not None and prediction.progress is not None:
            await on_progress(prediction.progress)
        return prediction

    async def _create(
        self, path: str, payload: dict[str, Any], headers: dict[str, str]
    ) -> httpx.Response:
        """POST the prediction; a 429 with a short Retry-After is waited out here, since
        the official client never retries a POST (a long one is the caller's)."""
        attempt = 0
        while True:
            try:
                async with asyncio.timeout(CREATE_TIMEOUT):
                    response = await self._send("POST", path, json=payload, headers=headers)
            except TimeoutError as exc:  # sent, unanswered: the prediction may exist
                raise ProviderError(
                    f"Replicate POST {path}: no answer in {CREATE_TIMEOUT:g} s",
                    retryable=True,
                    unsure=True,
                ) from exc
            delay = retry_after(response) if response.status_code == 429 else None
            if delay is None or delay > MAX_INLINE_RETRY_AFTER:
                return response
            if attempt >= self._max_create_retries:
                return response
            attempt += 1
            await asyncio.sleep(delay)

    async def get(self, prediction_id: str) -> Prediction:
        response = await self._send("GET", f"predictions/{_segment(prediction_id)}")
        return prediction_from_json(self._json(response, f"get {prediction_id}"))

    async def cancel(self, prediction_id: str) -> Prediction:
        response = await self._send("POST", f"predictions/{_segment(prediction_id)}/cancel")
        return prediction_from_json(self._json(response, f"cancel {prediction_id}"))

    async def fetch_webhook_secret(self) -> str:
        """The account's signing secret (`whsec_...`), for settings that did not set one."""
        response = await self._send("GET", "webhooks/default/secret")
        key = self._json(response, "get webhook secret").get("key")
        if not isinstance(key, str):
            raise ProviderError("Replicate returned no webhook secret")
        return key

    async def download(self, url: str, dest: Path) -> Path:
        """Stream one output to `dest`, through a `.part` file so a failure leaves nothing."""
        await anyio.Path(dest.parent).mkdir(parents=True, exist_ok=True)
        if url.startswith("data:"):
            await anyio.Path(dest).write_bytes(_decode_data_uri(url))
            return dest
        if urllib.parse.urlsplit(url).scheme not in ("http", "https"):
            raise ProviderError(f"cannot download Replicate output {url[:80]!r}")
        part = anyio.Path(dest.with_name(dest.name + ".part"))
        headers = self._auth if url.startswith(self._base) else {}  # no token for CDN hosts
        try:
            async with self._http.stream(
                "GET", url, headers=headers, follow_redirects=True
            ) as response:
                if not response.is_success:
                    await response.aread()
                    raise _download_error(response, url)
                async with await anyio.open_file(part, "wb") as file:
                    async for chunk in response.aiter_bytes(_DOWNLOAD_CHUNK):
                        await file.write(chunk)
            await part.replace(dest)
        except httpx.RequestError as exc:  # transport, redirects, decoding
            raise ProviderError(f"download of {url} failed: {exc!r}", retryable=True) from exc
        finally:
            await part.unlink(missing_ok=True)
        return dest

    def parse_webhook(self, headers: Mapping[str, str], body: bytes) -> Prediction:
        if self._webhooks is None:
            raise WebhookError("no Replicate webhook secret is configured")
        return self._webhooks.parse(headers, body)

    def parse_prediction(self, data: Mapping[str, Any]) -> Prediction:
        return prediction_from_json(data)

    async def aclose(self) -> None:
        if self._owns_http:
            await self._http.aclose()

    async def _send(
        self,
        method: str,
        path: str,
        *,
        json: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> httpx.Response:
        try:
            return await self._http.request(
                method, self._base + path, json=json, headers={**self._auth, **(headers or {})}
            )
        except httpx.TransportError as exc:
            # Sent, but no answer: a POST may have done its work (a create, a prediction).
            lost = method == "POST" and isinstance(exc, _ANSWER_LOST)
            raise ProviderError(
                f"Replicate {method} {path}: {exc!r}", retryable=True, unsure=lost
            ) from exc

    @staticmethod
    def _json(response: httpx.Response, action: str) -> dict[str, Any]:
        status = response.status_code
        if response.is_success:
            try:
                body = response.json()
            except ValueError:
                body = None
            if isinstance(body, dict):
                return body
            raise ProviderError(
                f"Replicate {action}: response is not a JSON object", retryable=True
            )
        message = f"Replicate {action} failed ({status}): {_detail(response)}"
        if status in (408, 429) or status >= 500:
            raise ProviderError(
                message,
                retryable=True,
                retry_after=retry_after(response),
                throttled=status == 429,
            )
        raise ProviderError(message)


def _segment(value: str) -> str:
    return urllib.parse.quote(value, safe="")


def _download_error(response: httpx.Response, url: str) -> ProviderError:
    status = response.status_code
    if status in (404, 410):
        return ProviderError(f"output expired or missing ({status}): {url}")
    if status in (408, 429) or status >= 500:
        return ProviderError(
            f"download of {url} failed ({status})",
            retryable=True,
            retry_after=retry_after(response),
        )
    return ProviderError(f"download of {url} failed ({status})")
