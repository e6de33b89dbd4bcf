"""What a brief says and what a storyboard's scenes hold, as plain values.

A brief's parts are the typed fields an agency fills in (or that a parser finds in free
text, each with a confidence from 0 to 1). Scenes are what a writer proposes; their
durations are fitted afterwards (`services.creative.durations`) to the brief's total and
to what the video model renders.
"""

from __future__ import annotations

import uuid
from dataclasses import asdict, dataclass, field, fields, replace
from typing import Any

from db.models.enums import ShotType
from services import catalog
from services.errors import InvalidInput
from services.media.combine import TRANSITIONS

MIN_TOTAL_SECONDS = 4
MAX_TOTAL_SECONDS = 180
MAX_SCENES = 16
MAX_TEXT = 2000
MAX_SHORT = 300
MAX_ITEMS = 20
MAX_REFERENCES = 10
ASPECT_RATIOS = ("16:9", "9:16", "1:1")
DEFAULT_TOTAL_SECONDS = 30
DEFAULT_ASPECT_RATIO = "16:9"
SCENE_TRANSITIONS: tuple[str, ...] = TRANSITIONS


@dataclass(frozen=True, slots=True)
class BriefParts:
    """A brief's typed parts. Text parts are None when nobody said; lists are empty."""

    # ad basics
    product: str | None = None
    audience: str | None = None
    key_message: str | None = None
    call_to_action: str | None = None
    # creative direction
    style: str | None = None
    tone: str | None = None
    visual_elements: tuple[str, ...] = ()
    music_style: str | None = None
    # video specs
    duration_seconds: int = DEFAULT_TOTAL_SECONDS
    aspect_ratio: str = DEFAULT_ASPECT_RATIO
    video_model: str = catalog.DEFAULT_VIDEO_MODEL
    reference_asset_ids: tuple[uuid.UUID, ...] = ()

    def to_json(self) -> dict[str, Any]:
        out = asdict(self)
        out["visual_elements"] = list(self.visual_elements)
        out["reference_asset_ids"] = [str(i) for i in self.reference_asset_ids]
        return out

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> BriefParts:
        known = {f.name for f in fields(cls)}
        values = {k: v for k, v in data.items() if k in known}
        values["visual_elements"] = tuple(values.get("visual_elements") or ())
        values["reference_asset_ids"] = tuple(
            uuid.UUID(i) for i in values.get("reference_asset_ids") or ()
        )
        return cls(**values)

    def merged(self, **changes: Any) -> BriefParts:
        return replace(self, **changes)


TEXT_PARTS = (
    "product",
    "audience",
    "key_message",
    "call_to_action",
    "style",
    "tone",
    "music_style",
)
"""The brief's free-text parts, in the order people read them."""

CONFIDENCE_PARTS = (*TEXT_PARTS, "visual_elements", "duration_seconds", "aspect_ratio")
"""The parts a parser reports a confidence for."""


@dataclass(frozen=True, slots=True)
class ParsedBrief:
    """A parser's reading of free text: the parts and how sure it is of each (0 to 1;
    a part it did not find has 0 and keeps its default)."""

    parts: BriefParts
    confidence: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class SceneDraft:
    """One scene as a writer proposes or a person edits it."""

    description: str
    script: str
    shot_type: ShotType
    duration_seconds: float
    transition: str
    image_prompt: str
    reference_asset_ids: tuple[uuid.UUID, ...] = ()


@dataclass(frozen=True, slots=True)
class StoryContext:
    """What a storyboard is written from besides the brief."""

    client_name: str
    campaign_name: str
    campaign_goal: str | None
    brand_guidelines: dict[str, Any]
    images: tuple[uuid.UUID, ...]  # the campaign's images, oldest first; references first
    image_names: dict[uuid.UUID, str]  # each image's file name, for the writer's prompt


def camel(part: str) -> str:
    """How the API spells a part: key_message -> keyMessage."""
    head, *rest = part.split("_")
    return head + "".join(w.title() for w in rest)


def clean_text(value: str | None, field_name: str, limit: int = MAX_SHORT) -> str | None:
    """Stripped text, None for blank; too long is refused, not cut."""
    if value is None:
        return None
    value = value.strip()
    if len(value) > limit:
        raise InvalidInput(f"at most {limit} characters", field=field_name)
    return value or None


def check_parts(parts: BriefParts) -> BriefParts:
    """The parts cleaned and checked, each failure naming its field (camelCase, as the
    API spells it); the total must be one the video model can render as scenes."""

    texts = {
        p: clean_text(getattr(parts, p), camel(p), MAX_TEXT if p == "key_message" else MAX_SHORT)
        for p in TEXT_PARTS
    }
    if len(parts.visual_elements) > MAX_ITEMS:
        raise InvalidInput(f"at most {MAX_ITEMS} visual elements", field=camel("visual_elements"))
    visual = tuple(
        v for v in (clean_text(e, camel("visual_elements")) for e in parts.visual_elements) if v
    )
    if len(parts.reference_asset_ids) > MAX_REFERENCES:
        raise InvalidInput(
            f"at most {MAX_REFERENCES} reference assets", field=camel("reference_asset_ids")
        )
    if parts.aspect_ratio not in ASPECT_RATIOS:
        raise InvalidInput(
            f"choose one of: {', '.join(ASPECT_RATIOS)}", field=camel("aspect_ratio")
        )
    spec = catalog.get_model(parts.video_model, "video", camel("video_model"))
    if spec.aspect_ratios and parts.aspect_ratio not in spec.aspect_ratios:
        raise InvalidInput(
            f"{spec.name} renders {', '.join(spec.aspect_ratios)}", field=camel("aspect_ratio")
        )
    from services.creative.durations import check_total  # durations imports this module

    check_total(spec, parts.duration_seconds, camel("duration_seconds"))
    return replace(
        parts,
        product=texts["product"],
        audience=texts["audience"],
        key_message=texts["key_message"],
        call_to_action=texts["call_to_action"],
        style=texts["style"],
        tone=texts["tone"],
        music_style=texts["music_style"],
        visual_elements=visual,
        reference_asset_ids=tuple(dict.fromkeys(parts.reference_asset_ids)),
    )
