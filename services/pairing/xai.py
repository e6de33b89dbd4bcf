"""Pair selection by a Grok model over xAI's OpenAI-compatible chat completions API.

The model sees every image: each goes in the user message as a base64 data URL
(`{"type": "image_url", "image_url": {"url": "data:image/jpeg;base64,...", "detail": "high"}}`),
labelled by its index. xAI takes jpg/png up to 20 MiB; anything else, or anything larger
than MAX_SIDE pixels on a side, is sent as a resized JPEG made by ffmpeg. The answer is
asked for with a strict JSON schema (`response_format: json_schema`) and validated again
here, because a schema is a request, not a guarantee.
"""

from __future__ import annotations

import asyncio
import base64
import email.utils
import json
import math
import time
from pathlib import Path
from typing import Any

import httpx

from services.media.binaries import ffmpeg_path
from services.pairing.base import (
    CampaignBrief,
    ImageCandidate,
    PairChoice,
    PairingError,
    distinct_images,
    pair_count,
)
from services.processes import dies_with_parent

DEFAULT_BASE_URL = "https://api.x.ai/v1"
DEFAULT_MODEL = "grok-4-1-fast-non-reasoning"
MAX_IMAGE_BYTES = 20 * 1024 * 1024  # xAI's documented per-image limit
MAX_SIDE = 2048  # larger images are scaled down before sending
SENDABLE = {"image/jpeg": "image/jpeg", "image/jpg": "image/jpeg", "image/png": "image/png"}
FFMPEG_TIMEOUT = 60.0
MAX_REASON = 500

RESPONSE_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "pairs": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "first": {"type": "integer", "description": "index of the opening frame"},
                    "last": {"type": "integer", "description": "index of the closing frame"},
                    "score": {"type": "number", "description": "0 to 1, higher is better"},
                    "reason": {"type": "string", "description": "one or two sentences"},
                },
                "required": ["first", "last", "score", "reason"],
                "additionalProperties": False,
            },
        }
    },
    "required": ["pairs"],
    "additionalProperties": False,
}

SYSTEM_PROMPT = """\
You are the creative director of a studio that makes short ad videos with AI. Each clip \
is generated as a transition from a FIRST frame image to a LAST frame image. Choose ordered \
image pairs that make strong clips for the campaign described by the user:
- the two frames of a pair must be related enough for a smooth, believable transition \
(shared subject, palette, setting or composition) yet different enough to show motion or \
a story beat; near-identical frames make a dull clip;
- across the pairs, cover different images rather than reusing the same one;
- respect the brand guidelines (colours, tone, do's and don'ts) and serve the campaign \
goal and audience; the closing frames should carry the product or brand best;
- list the pairs in the order the clips should play, as one coherent ad;
- score each pair from 0 to 1 and give a short, concrete reason.
Refer to images only by their index numbers. Answer only with JSON that matches the schema."""


class XaiPairSelector:
    name = "xai"

    def __init__(
        self,
        api_key: str,
        base_url: str = DEFAULT_BASE_URL,
        model: str = DEFAULT_MODEL,
        http: httpx.AsyncClient | None = None,
        *,
        timeout: float = 120.0,
        max_side: int = MAX_SIDE,
    ) -> None:
        if not api_key:
            raise ValueError("an xAI API key is required")
        self._api_key = api_key
        self._url = base_url.rstrip("/") + "/chat/completions"
        self.model = model
        self._owns_http = http is None
        self._http = http or httpx.AsyncClient(timeout=timeout)
        self._max_side = max_side

    async def aclose(self) -> None:
        if self._owns_http:
            await self._http.aclose()

    async def select(
        self, images: list[ImageCandidate], brief: CampaignBrief, num_pairs: int | None
    ) -> list[PairChoice]:
        distinct = distinct_images(images)
        count = pair_count(len(distinct), num_pairs)
        limit = asyncio.Semaphore(4)

        async def part(image: ImageCandidate) -> dict[str, Any]:
            async with limit:
                mime, data = await prepare_image(image, self._max_side)
            url = f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}"
            return {"type": "image_url", "image_url": {"url": url, "detail": "high"}}

        parts = await asyncio.gather(*(part(image) for image in distinct))
        body = build_request(self.model, brief, parts, count)
        answer = await self._post(body)
        pairs = parse_answer(answer, len(distinct), count, exact=num_pairs is not None)
        return [
            PairChoice(distinct[i].asset_id, distinct[j].asset_id, score, reason)
            for i, j, score, reason in pairs
        ]

    async def _post(self, body: dict[str, Any]) -> Any:
        headers = {"Authorization": f"Bearer {self._api_key}"}
        try:
            response = await self._http.post(self._url, json=body, headers=headers)
        except httpx.TimeoutException as exc:
            raise PairingError("xAI request timed out", retryable=True) from exc
        except httpx.TransportError as exc:
            raise PairingError(f"xAI unreachable: {exc}", retryable=True) from exc
        if response.status_code >= 400:
            raise _status_error(response)
        try:
            return response.json()
        except ValueError as exc:
            raise PairingError("xAI answered with a body that is not JSON") from exc


def _status_error(response: httpx.Response) -> PairingError:
    status = response.status_code
    message = f"xAI returned {status}: {_api_message(response)}"
    if status in (408, 429) or status >= 500:
        retry_after = parse_retry_after(response.headers.get("retry-after"))
        return PairingError(message, retryable=True, retry_after=retry_after)
    return PairingError(message)


def _api_message(response: httpx.Response) -> str:
    """The error text from xAI's body: {"error": "..."} or OpenAI's {"error": {"message"}}."""
    try:
        data = response.json()
    except ValueError:
        return response.text.strip()[:300] or response.reason_phrase
    if isinstance(data, dict):
        error = data.get("error")
        if isinstance(error, dict):
            error = error.get("message")
        if isinstance(error, str) and error:
            return error[:300]
        if isinstance(data.get("message"), str):
            return str(data["message"])[:300]
    return json.dumps(data)[:300]


def parse_retry_after(value: str | None) -> float | None:
    """Retry-After as seconds: delta-seconds or an HTTP date."""
    if not value:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            moment = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        seconds = moment.timestamp() - time.time()
    return max(0.0, seconds) if math.isfinite(seconds) else None


async def prepare_image(image: ImageCandidate, max_side: int = MAX_SIDE) -> tuple[str, bytes]:
    """(mime, bytes) ready to send: the file itself when xAI takes it, else a JPEG copy."""
    try:
        size = image.path.stat().st_size
    except OSError as exc:
        raise PairingError(f"cannot read image {image.asset_id}: {exc.strerror}") from exc
    mime = SENDABLE.get(image.mime_type.lower())
    small_enough = (
        image.width is not None
        and image.height is not None
        and max(image.width, image.height) <= max_side
    )
    if mime is not None and size <= MAX_IMAGE_BYTES and small_enough:
        return mime, await asyncio.to_thread(image.path.read_bytes)
    data = await to_jpeg(image.path, max_side)
    if len(data) > MAX_IMAGE_BYTES:
        raise PairingError(f"image {image.asset_id} is still over 20 MiB as a JPEG")
    return "image/jpeg", data


async def to_jpeg(path: Path, max_side: int) -> bytes:
    """The first frame of `path` as a JPEG no larger than max_side on either side."""
    scale = (
        f"scale=w='min({max_side},iw)':h='min({max_side},ih)'"
        ":force_original_aspect_ratio=decrease,format=yuvj420p"
    )
    proc = await asyncio.create_subprocess_exec(
        ffmpeg_path(), "-nostdin", "-v", "error",
        "-i", str(path),
        "-frames:v", "1", "-vf", scale,
        "-c:v", "mjpeg", "-q:v", "3", "-f", "image2pipe", "pipe:1",
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        preexec_fn=dies_with_parent(),
    )  # fmt: skip
    try:
        out, err = await asyncio.wait_for(proc.communicate(), FFMPEG_TIMEOUT)
    except TimeoutError as exc:
        proc.kill()
        await proc.wait()
        raise PairingError(f"converting {path.name} to JPEG timed out") from exc
    if proc.returncode != 0 or not out:
        detail = err.decode(errors="replace").strip()[-300:] or "no output"
        raise PairingError(f"cannot convert {path.name} to JPEG: {detail}")
    return out


def brief_text(brief: CampaignBrief, image_count: int, count: int) -> str:
    lines = [f"Client: {brief.client_name}", f"Campaign: {brief.campaign_name}"]
    for label, value in (
        ("Goal", brief.goal),
        ("Audience", brief.audience),
        ("Product URL", brief.product_url),
        ("Tone", brief.tone),
    ):
        if value:
            lines.append(f"{label}: {value}")
    if brief.colors:
        lines.append("Brand colours: " + ", ".join(brief.colors))
    for label, items in (("Do", brief.dos), ("Don't", brief.donts)):
        if items:
            lines.append(f"{label}:")
            lines.extend(f"- {item}" for item in items)
    lines.append("")
    lines.append(
        f"There are {image_count} images below, labelled Image 0 to Image {image_count - 1}. "
        f"Choose {count} ordered pair{'s' if count != 1 else ''} "
        "(first frame index, last frame index; the two must differ; no pair twice), "
        "listed in the order the clips should play."
    )
    return "\n".join(lines)


def build_request(
    model: str, brief: CampaignBrief, image_parts: list[dict[str, Any]], count: int
) -> dict[str, Any]:
    content: list[dict[str, Any]] = [
        {"type": "text", "text": brief_text(brief, len(image_parts), count)}
    ]
    for index, part in enumerate(image_parts):
        content.append({"type": "text", "text": f"Image {index}:"})
        content.append(part)
    return {
        "model": model,
        "messages": [
            {"role": "system", "content": SYSTEM_PROMPT},
            {"role": "user", "content": content},
        ],
        "response_format": {
            "type": "json_schema",
            "json_schema": {"name": "pair_selection", "schema": RESPONSE_SCHEMA, "strict": True},
        },
    }


def parse_answer(
    answer: Any, image_count: int, count: int, *, exact: bool
) -> list[tuple[int, int, float, str]]:
    """The model's pairs as (first, last, score, reason); PairingError says what was wrong."""
    content = _message_content(answer)
    try:
        data = json.loads(content)
    except ValueError as exc:
        raise PairingError(f"the model's answer is not valid JSON: {content[:120]!r}") from exc
    if not isinstance(data, dict) or set(data) != {"pairs"} or not isinstance(data["pairs"], list):
        raise PairingError('the model\'s answer is not an object with only a "pairs" list')
    pairs: list[tuple[int, int, float, str]] = []
    seen: set[tuple[int, int]] = set()
    for n, item in enumerate(data["pairs"]):
        first, last, score, reason = _check_pair(n, item, image_count)
        if (first, last) not in seen:
            seen.add((first, last))
            pairs.append((first, last, score, reason))
    if not pairs:
        raise PairingError("the model chose no pairs")
    if exact and len(pairs) < count:
        raise PairingError(f"asked for {count} distinct pairs, the model gave {len(pairs)}")
    return pairs[:count]


def _message_content(answer: Any) -> str:
    try:
        choice = answer["choices"][0]
        message = choice["message"]
    except (KeyError, IndexError, TypeError) as exc:
        raise PairingError("xAI's answer has no choices[0].message") from exc
    if not isinstance(message, dict):
        raise PairingError("xAI's answer has no choices[0].message")
    if message.get("refusal"):
        raise PairingError(f"the model refused: {str(message['refusal'])[:200]}")
    if isinstance(choice, dict) and choice.get("finish_reason") == "length":
        raise PairingError("the model's answer was cut off (finish_reason=length)")
    content = message.get("content")
    if not isinstance(content, str) or not content.strip():
        raise PairingError("the model's answer is empty")
    return content


def _check_pair(n: int, item: Any, image_count: int) -> tuple[int, int, float, str]:
    where = f"pair {n}"
    if not isinstance(item, dict) or set(item) != {"first", "last", "score", "reason"}:
        raise PairingError(f"{where} is not an object with first, last, score and reason")
    first, last, score, reason = item["first"], item["last"], item["score"], item["reason"]
    for key, index in (("first", first), ("last", last)):
        if not isinstance(index, int) or isinstance(index, bool):
            raise PairingError(f"{where}: {key} is not an integer")
        if not 0 <= index < image_count:
            raise PairingError(
                f"{where}: {key} image index {index} is out of range (0..{image_count - 1})"
            )
    if first == last:
        raise PairingError(f"{where}: first and last are the same image ({first})")
    if not isinstance(score, int | float) or isinstance(score, bool) or not math.isfinite(score):
        raise PairingError(f"{where}: score is not a finite number")
    if not isinstance(reason, str) or not reason.strip():
        raise PairingError(f"{where}: reason is empty")
    return first, last, max(0.0, min(1.0, float(score))), reason.strip()[:MAX_REASON]
