"""A fake of xAI's chat completions endpoint, for the pair selector.

It checks what a real call must carry (the bearer key; images as base64 data URLs of
real jpg/png bytes under 20 MiB; a strict json_schema response_format) and answers from
a script: `mode` picks a good answer, garbage, out-of-range indices, 429 or 500, and
`content` (when set) is returned verbatim as the model's answer. A wrong key gets 401.

    fake = FakeXai()
    http = httpx.AsyncClient(transport=httpx.ASGITransport(app=fake.app()), base_url=...)
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from dataclasses import dataclass, field
from typing import Any, Literal

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

Mode = Literal["good", "garbage", "out_of_range", "rate_limited", "server_error"]

MAX_IMAGE_BYTES = 20 * 1024 * 1024
_DATA_URL = re.compile(r"data:(image/jpeg|image/png);base64,(.+)", re.DOTALL)
_MAGIC = {"image/jpeg": b"\xff\xd8\xff", "image/png": b"\x89PNG\r\n\x1a\n"}


@dataclass
class FakeXai:
    api_key: str = "xai-test-key"
    mode: Mode = "good"
    content: str | None = None  # the model's answer text, verbatim, when set
    finish_reason: str = "stop"
    retry_after: str = "7"
    requests: list[dict[str, Any]] = field(default_factory=list)
    images: list[tuple[str, bytes]] = field(default_factory=list)  # of the last good request

    def app(self) -> Starlette:
        return Starlette(
            routes=[Route("/v1/chat/completions", self._completions, methods=["POST"])]
        )

    async def _completions(self, request: Request) -> JSONResponse:
        if request.headers.get("authorization") != f"Bearer {self.api_key}":
            return _error(401, "Incorrect API key provided. Obtain one at https://console.x.ai.")
        if self.mode == "rate_limited":
            return _error(429, "Too many requests", {"retry-after": self.retry_after})
        if self.mode == "server_error":
            return _error(500, "The service is temporarily overloaded")
        try:
            body = json.loads(await request.body())
        except ValueError:
            return _error(400, "request body is not JSON")
        self.requests.append(body)
        problems, images = check_request(body)
        if problems:
            return _error(400, "; ".join(problems))
        self.images = images
        return JSONResponse(self._completion(body, len(images)))

    def _completion(self, body: dict[str, Any], image_count: int) -> dict[str, Any]:
        if self.content is not None:
            content = self.content
        elif self.mode == "garbage":
            content = "Sure! I would pair the red one with the blue one :)"
        elif self.mode == "out_of_range":
            content = json.dumps(
                {"pairs": [{"first": 0, "last": image_count + 3, "score": 0.9, "reason": "x"}]}
            )
        else:
            content = json.dumps({"pairs": good_pairs(image_count)})
        return {
            "id": "chatcmpl-fake",
            "object": "chat.completion",
            "created": 1_700_000_000,
            "model": body["model"],
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": content, "refusal": None},
                    "finish_reason": self.finish_reason,
                }
            ],
            "usage": {"prompt_tokens": 1000, "completion_tokens": 100, "total_tokens": 1100},
        }


def good_pairs(image_count: int) -> list[dict[str, Any]]:
    """Every ordered pair: (1, 0), (3, 2), ... first, then the rest; scores descending."""
    order = [(i + 1, i) for i in range(0, image_count - 1, 2)]
    for i in range(image_count):
        for j in range(image_count):
            if i != j and (i, j) not in order:
                order.append((i, j))
    return [
        {"first": i, "last": j, "score": round(0.95 - 0.01 * k, 2), "reason": f"image {i} to {j}"}
        for k, (i, j) in enumerate(order)
    ]


def check_request(body: Any) -> tuple[list[str], list[tuple[str, bytes]]]:
    """What is wrong with a chat completions request, and the images it carries."""
    problems: list[str] = []
    images: list[tuple[str, bytes]] = []
    if not isinstance(body, dict):
        return ["body is not an object"], images
    if not isinstance(body.get("model"), str) or not body["model"]:
        problems.append("model is required")
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        return [*problems, "messages is required"], images
    for message in messages:
        if not isinstance(message, dict) or message.get("role") not in (
            "system",
            "user",
            "assistant",
        ):
            problems.append("every message needs a role of system, user or assistant")
            continue
        content = message.get("content")
        if isinstance(content, str):
            continue
        if not isinstance(content, list):
            problems.append("message content must be a string or a list of parts")
            continue
        for part in content:
            problems += _check_part(part, images)
    if not images:
        problems.append("no image in the request")
    response_format = body.get("response_format")
    schema = response_format.get("json_schema") if isinstance(response_format, dict) else None
    if (
        not isinstance(response_format, dict)
        or response_format.get("type") != "json_schema"
        or not isinstance(schema, dict)
        or not isinstance(schema.get("name"), str)
        or schema.get("strict") is not True
        or not isinstance(schema.get("schema"), dict)
        or schema["schema"].get("type") != "object"
    ):
        problems.append("response_format must be a strict json_schema")
    return problems, images


def _check_part(part: Any, images: list[tuple[str, bytes]]) -> list[str]:
    if not isinstance(part, dict):
        return ["content part is not an object"]
    if part.get("type") == "text":
        return [] if isinstance(part.get("text"), str) else ["text part without text"]
    if part.get("type") != "image_url":
        return [f"unknown content part type {part.get('type')!r}"]
    image_url = part.get("image_url")
    if not isinstance(image_url, dict) or not isinstance(image_url.get("url"), str):
        return ["image_url part needs image_url.url"]
    if image_url.get("detail", "auto") not in ("auto", "low", "high"):
        return ["image_url.detail must be auto, low or high"]
    match = _DATA_URL.fullmatch(image_url["url"])
    if match is None:
        return ["image url must be a data URL of image/jpeg or image/png"]
    mime = match.group(1)
    try:
        data = base64.b64decode(match.group(2), validate=True)
    except (binascii.Error, ValueError):
        return ["image data URL is not valid base64"]
    if not data.startswith(_MAGIC[mime]):
        return [f"image bytes are not {mime}"]
    if len(data) > MAX_IMAGE_BYTES:
        return ["image is over 20 MiB"]
    images.append((mime, data))
    return []


def _error(status: int, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    """xAI's error body: {"code": "<status text>", "error": "<message>"}."""
    code = {
        400: "Client specified an invalid argument",
        401: "Unauthenticated",
        429: "Too many requests",
        500: "Internal error",
    }[status]
    return JSONResponse({"code": code, "error": message}, status_code=status, headers=headers)
