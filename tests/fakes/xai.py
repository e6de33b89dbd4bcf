"""A fake of xAI's chat completions endpoint, for the pair selector and the creative writer.

It checks what a real call must carry (the bearer key; images as base64 data URLs of
real jpg/png bytes under 20 MiB; a strict json_schema response_format whose objects all
require every property and forbid others; at least one image for "pair_selection") and
answers from a script, by the schema's name:
- `answers[name]` (when set) is returned verbatim as the model's answer to that schema;
- else `content` (when set) is returned verbatim whatever the schema;
- else `mode` picks a good answer, garbage, out-of-range image indices, 429 or 500.
Good answers are derived from the request: every ordered pair for "pair_selection"; for
"brief", every part filled from the text (a brief sent as a JSON line is echoed with its
empty parts filled); for "storyboard", four scenes whose durations add up to 1.1 times
the asked total ("N seconds in total"), referencing the listed images ("- Image i: name")
in turn; for "scene", the scene asked for ("Rewrite scene N", from its "Scene N: {json}"
line) with the feedback appended to its description. `refusal` (when set) refuses
instead. A wrong key gets 401.

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
    answers: dict[str, str] = field(default_factory=dict)  # schema name -> verbatim answer
    refusal: str | None = None  # the model refuses with this, when set
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
        name = body["response_format"]["json_schema"]["name"]
        content: str | None
        if self.refusal is not None:
            content = None
        elif name in self.answers:
            content = self.answers[name]
        elif self.content is not None:
            content = self.content
        elif self.mode == "garbage":
            content = "Sure! I would pair the red one with the blue one :)"
        elif name in CREATIVE:
            content = json.dumps(CREATIVE[name](user_text(body), self.mode == "out_of_range"))
        elif self.mode == "out_of_range":
            content = json.dumps(
                {"pairs": [{"first": 0, "last": image_count + 3, "score": 0.9, "reason": "x"}]}
            )
        else:
            content = json.dumps({"pairs": good_pairs(image_count)})
        message = {"role": "assistant", "content": content, "refusal": self.refusal}
        return {
            "id": "chatcmpl-fake",
            "object": "chat.completion",
            "created": 1_700_000_000,
            "model": body["model"],
            "choices": [
                {
                    "index": 0,
                    "message": message,
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
    else:
        problems += strict_problems(schema["schema"], "schema")
        if schema["name"] == "pair_selection" and not images:
            problems.append("no image in the request")
    return problems, images


def strict_problems(schema: Any, where: str) -> list[str]:
    """Where a schema breaks strict mode: objects must list every property in `required`
    and set additionalProperties to false."""
    if not isinstance(schema, dict):
        return [f"{where} is not a schema object"]
    problems: list[str] = []
    types = schema.get("type")
    if types == "object" or (isinstance(types, list) and "object" in types):
        properties = schema.get("properties")
        if not isinstance(properties, dict):
            return [f"{where}: an object schema needs properties"]
        required = schema.get("required")
        if not isinstance(required, list) or sorted(required) != sorted(properties):
            problems.append(f"{where}: strict mode requires every property")
        if schema.get("additionalProperties") is not False:
            problems.append(f"{where}: strict mode needs additionalProperties false")
        for key, sub in properties.items():
            problems += strict_problems(sub, f"{where}.{key}")
    if "items" in schema:
        problems += strict_problems(schema["items"], f"{where}[]")
    for n, sub in enumerate(schema.get("anyOf") or ()):
        problems += strict_problems(sub, f"{where}.anyOf[{n}]")
    return problems


def user_text(body: dict[str, Any]) -> str:
    """Every text the user messages carry, one after the other."""
    texts: list[str] = []
    for message in body["messages"]:
        if message["role"] != "user":
            continue
        content = message["content"]
        if isinstance(content, str):
            texts.append(content)
        else:
            texts += [p["text"] for p in content if p.get("type") == "text"]
    return "\n".join(texts)


_SECONDS = re.compile(r"\b(\d{1,4})[- ]?(?:s|secs?|seconds?)\b", re.IGNORECASE)
_TOTAL = re.compile(r"\b(\d+) seconds in total\b")
_IMAGE_LINE = re.compile(r"^- Image (\d+):", re.MULTILINE)
_PRODUCT_LINE = re.compile(r"^- Product: (.+)$", re.MULTILINE)
_REWRITE = re.compile(r"\bRewrite scene (\d+)\b")
_FEEDBACK = re.compile(r"^Feedback: (.+)$", re.MULTILINE)
SHOTS = ("wide", "medium", "close_up", "tracking")
TRANSITIONS = ("fade", "dissolve", "wipeleft", "none")
DURATION_SHARES = (0.2, 0.35, 0.25, 0.3)  # 1.1 of the total: a writer's proposal, unfitted


def good_brief(text: str, out_of_range: bool = False) -> dict[str, Any]:
    """Every part filled: an echoed brief's own parts, else read from the text."""
    echoed: dict[str, Any] = {}
    for line in text.splitlines():
        if line.startswith("{"):
            try:
                echoed = json.loads(line)
            except ValueError:
                continue
    first = re.split(r"[.\n]", text.strip(), maxsplit=1)[0].strip()[:80] or "the product"
    lowered = text.lower()
    ratio = next((r for r in ("16:9", "9:16", "1:1") if r in text), None)
    if ratio is None and "vertical" in lowered:
        ratio = "9:16"
    seconds = _SECONDS.search(text)
    derived: dict[str, Any] = {
        "product": first,
        "audience": "people who would love it",
        "keyMessage": f"{first} makes every day better",
        "callToAction": "Find out more today",
        "style": "cinematic",
        "tone": "warm",
        "visualElements": ["the product in use", "a smiling customer"],
        "musicStyle": "upbeat acoustic",
        "durationSeconds": int(seconds.group(1)) if seconds else 30,
        "aspectRatio": ratio or "16:9",
    }
    brief = {k: echoed.get(k) or v for k, v in derived.items()}
    sure = {k: 0.9 for k in derived}
    sure["durationSeconds"] = 0.95 if seconds else 0.3
    sure["aspectRatio"] = 0.95 if ratio else 0.3
    return {**brief, "confidence": sure}


def good_storyboard(text: str, out_of_range: bool = False) -> dict[str, Any]:
    """Four scenes over the listed images, durations 1.1 times the asked total."""
    total = int(m.group(1)) if (m := _TOTAL.search(text)) else 30
    images = len(set(_IMAGE_LINE.findall(text)))
    product = m.group(1).strip() if (m := _PRODUCT_LINE.search(text)) else "the product"
    beats = ("An opening hook", f"{product} revealed", f"{product} in use", "The brand")
    scenes = []
    for k, beat in enumerate(beats):
        references = [k % images] if images else []
        if out_of_range and k == 1:
            references = [images + 3]
        scenes.append(
            {
                "description": f"{beat}, scene {k + 1}",
                "script": "" if k == 2 else f"Line {k + 1} about {product}.",
                "shotType": SHOTS[k],
                "durationSeconds": round(total * DURATION_SHARES[k], 1),
                "transition": TRANSITIONS[k],
                "imagePrompt": f"{beat}, soft daylight, {k + 1}",
                "referenceImages": references,
            }
        )
    return {"scenes": scenes}


def good_scene(text: str, out_of_range: bool = False) -> dict[str, Any]:
    """The scene asked for, its description carrying the feedback."""
    number = int(m.group(1)) if (m := _REWRITE.search(text)) else 1
    feedback = m.group(1).strip() if (m := _FEEDBACK.search(text)) else "rewritten"
    prefix = f"Scene {number}: "
    line = next((x for x in text.splitlines() if x.startswith(prefix)), None)
    scene = json.loads(line[len(prefix) :]) if line else good_storyboard(text)["scenes"][0]
    scene["description"] = f"{scene['description']} ({feedback})"
    if out_of_range:
        scene["referenceImages"] = [len(set(_IMAGE_LINE.findall(text))) + 3]
    return dict(scene)


_PHOTOS = re.compile(r"There are (\d+) photos")
ROOM_CYCLE = (
    "exterior", "living_room", "kitchen", "bedroom", "bathroom", "dining_room", "garden", "other",
)  # fmt: skip


def good_rooms(text: str, out_of_range: bool = False) -> dict[str, Any]:
    """A room for every photo, in turn: the first five cover what a tour needs."""
    count = int(m.group(1)) if (m := _PHOTOS.search(text)) else 0
    photos = [{"image": i, "room": ROOM_CYCLE[i % len(ROOM_CYCLE)]} for i in range(count)]
    if out_of_range and photos:
        photos[0]["image"] = count + 3
    return {"photos": photos}


CREATIVE = {
    "brief": good_brief,
    "storyboard": good_storyboard,
    "scene": good_scene,
    "rooms": good_rooms,
}


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
