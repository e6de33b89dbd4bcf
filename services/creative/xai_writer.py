"""The creative writer over Grok: briefs read and refined, storyboards written and scenes
rewritten by xAI's chat completions with strict JSON schemas
(`services.creative.xai_prompts` holds the prompts and schemas).

Every answer is validated again here, because a schema is a request, not a guarantee:
wrong keys or types, empty fields and out-of-range image indices raise a non-retryable
`LlmError` naming what was wrong; text is stripped and cut to the limits of
`services.creative.parts`, confidences clamped to 0..1. HTTP failures come from
`XaiChat` (retryable when trying again may help).
"""

from __future__ import annotations

import math
import uuid
from dataclasses import replace
from typing import Any

import httpx

from db.models.enums import ShotType
from services.creative import xai_rooms
from services.creative.parts import (
    ASPECT_RATIOS,
    CONFIDENCE_PARTS,
    MAX_ITEMS,
    MAX_REFERENCES,
    MAX_SCENES,
    MAX_SHORT,
    MAX_TEXT,
    SCENE_TRANSITIONS,
    TEXT_PARTS,
    BriefParts,
    ParsedBrief,
    SceneDraft,
    StoryContext,
    camel,
)
from services.creative.property_tour import Room, RoomPhoto
from services.creative.xai_prompts import (
    BRIEF_SCHEMA,
    BRIEF_SCHEMA_NAME,
    SCENE_SCHEMA,
    SCENE_SCHEMA_NAME,
    STORYBOARD_SCHEMA,
    STORYBOARD_SCHEMA_NAME,
    parse_messages,
    refine_messages,
    rewrite_messages,
    storyboard_messages,
)
from services.llm import LlmError
from services.llm.xai_chat import DEFAULT_BASE_URL, DEFAULT_MODEL, XaiChat

MAX_DURATION_SECONDS = 600  # a longer (or non-positive) duration in a brief is not one
BRIEF_KEYS: tuple[str, ...] = tuple(BRIEF_SCHEMA["properties"])
CONFIDENCE_KEYS: tuple[str, ...] = tuple(camel(p) for p in CONFIDENCE_PARTS)
SCENE_KEYS: tuple[str, ...] = tuple(SCENE_SCHEMA["properties"])
SHOT_TYPES = frozenset(s.value for s in ShotType)


class XaiCreativeWriter:
    """A `CreativeWriter` (services.creative.writer) backed by a Grok model."""

    name = "xai"

    def __init__(
        self,
        api_key: str,
        base_url: str = DEFAULT_BASE_URL,
        model: str = DEFAULT_MODEL,
        http: httpx.AsyncClient | None = None,
        *,
        timeout: float = 120.0,
    ) -> None:
        self._chat = XaiChat(api_key, base_url, model, http, timeout=timeout)
        self.model = model

    async def aclose(self) -> None:
        await self._chat.aclose()

    async def parse_brief(self, text: str) -> ParsedBrief:
        data = await self._chat.json_answer(parse_messages(text), BRIEF_SCHEMA_NAME, BRIEF_SCHEMA)
        return read_brief(data, BriefParts())

    async def refine_brief(self, parts: BriefParts, feedback: str) -> ParsedBrief:
        messages = refine_messages(parts, feedback)
        data = await self._chat.json_answer(messages, BRIEF_SCHEMA_NAME, BRIEF_SCHEMA)
        return read_brief(data, parts, refining=True)

    async def write_storyboard(self, parts: BriefParts, context: StoryContext) -> list[SceneDraft]:
        messages = storyboard_messages(parts, context)
        data = await self._chat.json_answer(messages, STORYBOARD_SCHEMA_NAME, STORYBOARD_SCHEMA)
        return read_storyboard(data, context.images)

    async def rewrite_scene(
        self,
        parts: BriefParts,
        context: StoryContext,
        scenes: list[SceneDraft],
        index: int,
        feedback: str,
    ) -> SceneDraft:
        if not 0 <= index < len(scenes):
            raise IndexError(f"no scene {index} in a storyboard of {len(scenes)}")
        messages = rewrite_messages(parts, context, scenes, index, feedback)
        data = await self._chat.json_answer(messages, SCENE_SCHEMA_NAME, SCENE_SCHEMA)
        return read_scene(data, "the scene", context.images)

    async def assign_rooms(self, photos: list[RoomPhoto]) -> list[Room]:
        return await xai_rooms.assign_rooms(self._chat, photos)


# ---- briefs


def read_brief(data: Any, base: BriefParts, *, refining: bool = False) -> ParsedBrief:
    """The model's brief over `base`: parts it answers replace base's (video model and
    reference assets stay); a duration or aspect ratio it does not give keeps base's.
    Confidence is 0 for an empty part and, when refining, 1 for a part left as it was."""
    data = _object(data, BRIEF_KEYS, "the brief")
    found: dict[str, Any] = {
        part: _text(
            data[camel(part)],
            f"the brief: {camel(part)}",
            MAX_TEXT if part == "key_message" else MAX_SHORT,
            nullable=True,
        )
        for part in TEXT_PARTS
    }
    found["visual_elements"] = _visual_elements(data["visualElements"])
    found["duration_seconds"] = _brief_duration(data["durationSeconds"])
    found["aspect_ratio"] = _aspect_ratio(data["aspectRatio"])
    sure = _confidence(data["confidence"])
    parts = replace(
        base,
        **{p: found[p] for p in (*TEXT_PARTS, "visual_elements")},
        duration_seconds=found["duration_seconds"] or base.duration_seconds,
        aspect_ratio=found["aspect_ratio"] or base.aspect_ratio,
    )
    confidence: dict[str, float] = {}
    for part in CONFIDENCE_PARTS:
        value = getattr(parts, part)
        if refining and value and value == getattr(base, part):
            confidence[part] = 1.0  # as a person set it
        else:
            confidence[part] = sure[part] if found[part] else 0.0
    return ParsedBrief(parts=parts, confidence=confidence)


def _visual_elements(value: Any) -> tuple[str, ...]:
    what = "the brief: visualElements"
    if not isinstance(value, list):
        raise LlmError(f"{what} is not a list")
    items = (_text(item, f"{what}[{n}]", MAX_SHORT) for n, item in enumerate(value))
    return tuple(dict.fromkeys(item for item in items if item))[:MAX_ITEMS]


def _brief_duration(value: Any) -> int | None:
    """Whole seconds from 1 to MAX_DURATION_SECONDS; None for null or anything else."""
    if value is None:
        return None
    if not _is_number(value):
        raise LlmError("the brief: durationSeconds is not a number or null")
    if math.isfinite(value) and value == int(value) and 0 < value <= MAX_DURATION_SECONDS:
        return int(value)
    return None


def _aspect_ratio(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, str) and value in ASPECT_RATIOS:
        return value
    raise LlmError(
        f"the brief: aspectRatio {str(value)[:20]!r} is not one of {', '.join(ASPECT_RATIOS)}"
    )


def _confidence(value: Any) -> dict[str, float]:
    """Each part's confidence (snake_case keys), clamped to 0..1."""
    value = _object(value, CONFIDENCE_KEYS, "the brief's confidence")
    out: dict[str, float] = {}
    for part in CONFIDENCE_PARTS:
        number = value[camel(part)]
        if not _is_number(number) or not math.isfinite(number):
            raise LlmError(f"the brief's confidence: {camel(part)} is not a finite number")
        out[part] = max(0.0, min(1.0, float(number)))
    return out


# ---- storyboards and scenes


def read_storyboard(data: Any, images: tuple[uuid.UUID, ...]) -> list[SceneDraft]:
    """The model's scenes, 1 to MAX_SCENES of them, image indices turned into ids."""
    data = _object(data, ("scenes",), "the storyboard")
    scenes = data["scenes"]
    if not isinstance(scenes, list):
        raise LlmError("the storyboard: scenes is not a list")
    if not 1 <= len(scenes) <= MAX_SCENES:
        raise LlmError(f"the storyboard has {len(scenes)} scenes, not 1 to {MAX_SCENES}")
    return [read_scene(item, f"scene {n}", images) for n, item in enumerate(scenes, 1)]


def read_scene(data: Any, where: str, images: tuple[uuid.UUID, ...]) -> SceneDraft:
    """One scene; `where` names it in errors ("scene 2")."""
    item = _object(data, SCENE_KEYS, where)
    shot_type = item["shotType"]
    if shot_type not in SHOT_TYPES:
        raise LlmError(f"{where}: shotType {str(shot_type)[:30]!r} is not a known shot type")
    transition = item["transition"]
    if transition not in SCENE_TRANSITIONS:
        raise LlmError(f"{where}: transition {str(transition)[:30]!r} is not a known transition")
    duration = item["durationSeconds"]
    if not _is_number(duration) or not math.isfinite(duration) or duration <= 0:
        raise LlmError(f"{where}: durationSeconds is not a positive number")
    return SceneDraft(
        description=_required_text(item["description"], f"{where}: description"),
        script=_text(item["script"], f"{where}: script", MAX_TEXT) or "",
        shot_type=ShotType(shot_type),
        duration_seconds=float(duration),
        transition=transition,
        image_prompt=_required_text(item["imagePrompt"], f"{where}: imagePrompt"),
        reference_asset_ids=_references(item["referenceImages"], where, images),
    )


def _references(value: Any, where: str, images: tuple[uuid.UUID, ...]) -> tuple[uuid.UUID, ...]:
    if not isinstance(value, list):
        raise LlmError(f"{where}: referenceImages is not a list")
    ids: list[uuid.UUID] = []
    for index in value:
        if not isinstance(index, int) or isinstance(index, bool):
            raise LlmError(f"{where}: referenceImages holds {str(index)[:20]!r}, not an index")
        if not 0 <= index < len(images):
            known = f"0..{len(images) - 1}" if images else "there are no campaign images"
            raise LlmError(f"{where}: reference image index {index} is out of range ({known})")
        ids.append(images[index])
    return tuple(dict.fromkeys(ids))[:MAX_REFERENCES]


# ---- shared checks


def _object(value: Any, keys: tuple[str, ...], what: str) -> dict[str, Any]:
    """`value` as an object with exactly `keys`, else LlmError naming the difference."""
    if not isinstance(value, dict):
        raise LlmError(f"{what} is not an object")
    missing = [k for k in keys if k not in value]
    extra = sorted(str(k) for k in value if k not in keys)
    if missing or extra:
        problems = [f"lacks {', '.join(missing)}"] if missing else []
        problems += [f"has unknown {', '.join(extra)[:200]}"] if extra else []
        raise LlmError(f"{what} {' and '.join(problems)}")
    return value


def _text(value: Any, what: str, limit: int, *, nullable: bool = False) -> str | None:
    """Stripped and cut to `limit`; None for blank (or null, when allowed)."""
    if value is None and nullable:
        return None
    if not isinstance(value, str):
        raise LlmError(f"{what} is not a string{' or null' if nullable else ''}")
    return value.strip()[:limit].strip() or None


def _required_text(value: Any, what: str) -> str:
    text = _text(value, what, MAX_TEXT)
    if text is None:
        raise LlmError(f"{what} is empty")
    return text


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)
