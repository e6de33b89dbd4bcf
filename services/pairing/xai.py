"""Pair selection by a Grok model over xAI's OpenAI-compatible chat completions API.

The model sees every image: each goes in the user message as a base64 data URL
(`{"type": "image_url", "image_url": {"url": "data:image/jpeg;base64,...", "detail": "high"}}`),
labelled by its index. xAI takes jpg/png up to 20 MiB; anything else, or anything larger
than MAX_SIDE pixels on a side, is sent as a resized JPEG made by ffmpeg. The answer is
asked for with a strict JSON schema (`response_format: json_schema`) and validated again
here, because a schema is a request, not a guarantee. The HTTP call and its error mapping
are `services.llm.xai_chat.XaiChat`'s; its `LlmError`s reach callers as `PairingError`s.
"""

from __future__ import annotations

import asyncio
import base64
import math
from pathlib import Path
from typing import Any

import httpx

from services.llm import LlmError
from services.llm.xai_chat import DEFAULT_BASE_URL as DEFAULT_BASE_URL
from services.llm.xai_chat import DEFAULT_MODEL as DEFAULT_MODEL
from services.llm.xai_chat import XaiChat
from services.llm.xai_chat import parse_retry_after as parse_retry_after
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

SCHEMA_NAME = "pair_selection"
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
        self._chat = XaiChat(api_key, base_url, model, http, timeout=timeout)
        self.model = model
        self._max_side = max_side

    async def aclose(self) -> None:
        await self._chat.aclose()

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
        messages = build_messages(brief, parts, count)
        try:
            answer = await self._chat.json_answer(messages, SCHEMA_NAME, RESPONSE_SCHEMA)
        except LlmError as exc:
            raise PairingError(
                exc.message, retryable=exc.retryable, retry_after=exc.retry_after
            ) from exc
        pairs = parse_answer(answer, len(distinct), count, exact=num_pairs is not None)
        return [
            PairChoice(distinct[i].asset_id, distinct[j].asset_id, score, reason)
            for i, j, score, reason in pairs
        ]


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


def build_messages(
    brief: CampaignBrief, image_parts: list[dict[str, Any]], count: int
) -> list[dict[str, Any]]:
    content: list[dict[str, Any]] = [
        {"type": "text", "text": brief_text(brief, len(image_parts), count)}
    ]
    for index, part in enumerate(image_parts):
        content.append({"type": "text", "text": f"Image {index}:"})
        content.append(part)
    return [
        {"role": "system", "content": SYSTEM_PROMPT},
        {"role": "user", "content": content},
    ]


def parse_answer(
    data: Any, image_count: int, count: int, *, exact: bool
) -> list[tuple[int, int, float, str]]:
    """The model's pairs, from its decoded answer, as (first, last, score, reason);
    PairingError says what was wrong."""
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
