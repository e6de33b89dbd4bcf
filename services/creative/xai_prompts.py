"""What the xAI creative writer says to Grok: system prompts, user messages and the strict
JSON schemas its answers must follow.

Strict structured outputs want every property listed in `required` and
`additionalProperties: false` on every object; a part the model may leave out is
nullable instead (`"type": ["string", "null"]`). Keys are camelCase, as the API spells
them. Images are never sent: the model sees them listed by index with their file names
and refers to them by index.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

from db.models.enums import ShotType
from services import catalog
from services.creative import durations
from services.creative.parts import (
    ASPECT_RATIOS,
    CONFIDENCE_PARTS,
    SCENE_TRANSITIONS,
    TEXT_PARTS,
    BriefParts,
    SceneDraft,
    StoryContext,
    camel,
)
from services.errors import InvalidInput

BRIEF_SCHEMA_NAME = "brief"
STORYBOARD_SCHEMA_NAME = "storyboard"
SCENE_SCHEMA_NAME = "scene"


_PART_HINTS = {
    "product": "the product or service advertised",
    "audience": "who the ad speaks to",
    "key_message": "the one thing the viewer should remember",
    "call_to_action": "what the viewer should do next",
    "style": "the visual style (e.g. cinematic, documentary, animated)",
    "tone": "the emotional tone (e.g. warm, energetic, premium)",
    "music_style": "the music's genre or mood",
}


def _object(properties: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "object",
        "properties": properties,
        "required": list(properties),
        "additionalProperties": False,
    }


BRIEF_SCHEMA: dict[str, Any] = _object(
    {
        **{
            camel(p): {"type": ["string", "null"], "description": f"{hint}; null if not said"}
            for p, hint in _PART_HINTS.items()
        },
        "visualElements": {
            "type": "array",
            "items": {"type": "string"},
            "description": "things that must be seen on screen; empty if none said",
        },
        "durationSeconds": {
            "type": ["integer", "null"],
            "description": "the whole video's length in seconds; null if not said",
        },
        "aspectRatio": {
            "type": ["string", "null"],
            "enum": [*ASPECT_RATIOS, None],
            "description": "16:9 landscape, 9:16 vertical, 1:1 square; null if not said",
        },
        "confidence": _object(
            {camel(p): {"type": "number", "description": "0 to 1"} for p in CONFIDENCE_PARTS}
        ),
    }
)

SCENE_SCHEMA: dict[str, Any] = _object(
    {
        "description": {"type": "string", "description": "what the viewer sees and what moves"},
        "script": {"type": "string", "description": "the spoken line; empty for a silent scene"},
        "shotType": {"type": "string", "enum": [s.value for s in ShotType]},
        "durationSeconds": {"type": "number", "description": "proposed length in seconds"},
        "transition": {"type": "string", "enum": list(SCENE_TRANSITIONS)},
        "imagePrompt": {"type": "string", "description": "a prompt for the scene's start image"},
        "referenceImages": {
            "type": "array",
            "items": {"type": "integer"},
            "description": "indices of the listed campaign images this scene builds on",
        },
    }
)

STORYBOARD_SCHEMA: dict[str, Any] = _object({"scenes": {"type": "array", "items": SCENE_SCHEMA}})

_DIRECTOR = """\
You are a senior creative director and producer at a studio that makes short video ads \
for agencies and their clients. Every scene is generated as an AI video clip that starts \
from one still image, so each scene needs a start image that can be described in a single \
prompt and one clear, simple motion. Serve the client's goal and audience, keep the brand \
guidelines (tone, colours, do's and don'ts) without exception, and never invent claims, \
prices, competitors or logos that the brief does not give."""

PARSE_SYSTEM = f"""{_DIRECTOR}

An account manager pastes a client's brief as free text. Read it into the brief's parts:
- fill a part only from what the text says or clearly implies; otherwise null (an empty \
list for visual elements); never invent a product, audience or call to action;
- keep the client's own wording where it is good; write each part as a short phrase, the \
key message as one or two sentences;
- durationSeconds is the whole video's length in seconds; aspectRatio follows the channel \
when one is named (stories, reels and TikTok are 9:16, feeds often 1:1, TV and YouTube 16:9);
- confidence gives, for every part, how sure you are from 0 to 1: 0 for a part you left \
empty, about 0.5 for an inference, near 1 only when the text states it plainly.
Answer only with JSON that matches the schema."""

REFINE_SYSTEM = f"""{_DIRECTOR}

You are given a brief as JSON and feedback on it. Return the whole brief with the \
feedback applied:
- change only what the feedback asks for, and copy every other part exactly as it is;
- null (or an empty list) removes a part; do not empty a part the feedback does not touch;
- confidence gives, for every part, how sure you are from 0 to 1 that the part is right.
Answer only with JSON that matches the schema."""

_SCENE_RULES = """\
- description: what the viewer sees and the one motion in the shot, in present tense;
- script: the voice-over or on-screen line for the scene; it must be short enough to be \
spoken calmly within the scene's duration (about 2.5 words a second); an empty string \
for a silent scene;
- imagePrompt: a self-contained prompt for the scene's start image (subject, setting, \
composition, lighting, palette), framed for the video's aspect ratio; no text or logos \
in the image unless the brief asks for them;
- shotType: the framing of the start image; transition: how this scene hands over to \
the next one (a video transition name; "none" is a hard cut and suits the last scene);
- durationSeconds: a proposal; keep the total close to the target and the lengths \
within what the video model renders;
- referenceImages: indices of the listed campaign images the scene should build on \
(its product, people or setting); use the brief's reference images; [] when none fits."""

STORYBOARD_SYSTEM = f"""{_DIRECTOR}

Write the storyboard for the ad the user describes, as ordered scenes:
- open with a hook in the first seconds, build one simple story, and end on the product \
or brand with the call to action;
{_SCENE_RULES}
Answer only with JSON that matches the schema."""

REWRITE_SYSTEM = f"""{_DIRECTOR}

You are given a whole storyboard and feedback on one of its scenes. Rewrite only that \
scene as the feedback asks, keeping it consistent with the scenes around it (story, \
style, continuity of people and places) and with the brief. Keep the script short enough \
to be spoken within the scene's duration and the duration close to what it was unless the \
feedback asks otherwise. The rules for each field are those of a storyboard scene:
{_SCENE_RULES}
Answer only with JSON that matches the schema: the one rewritten scene."""


def brief_json(parts: BriefParts) -> dict[str, Any]:
    """The brief's parts as the schema spells them (without confidence)."""
    out: dict[str, Any] = {camel(p): getattr(parts, p) for p in TEXT_PARTS}
    out["visualElements"] = list(parts.visual_elements)
    out["durationSeconds"] = parts.duration_seconds
    out["aspectRatio"] = parts.aspect_ratio
    return out


def parse_messages(text: str) -> list[dict[str, Any]]:
    return [{"role": "system", "content": PARSE_SYSTEM}, {"role": "user", "content": text}]


def refine_messages(parts: BriefParts, feedback: str) -> list[dict[str, Any]]:
    user = (
        "The brief, as JSON:\n"
        f"{json.dumps(brief_json(parts), ensure_ascii=False)}\n\n"
        f"Feedback: {feedback.strip()}"
    )
    return [{"role": "system", "content": REFINE_SYSTEM}, {"role": "user", "content": user}]


def storyboard_messages(parts: BriefParts, context: StoryContext) -> list[dict[str, Any]]:
    user = story_text(parts, context) + "\n\nWrite the storyboard."
    return [{"role": "system", "content": STORYBOARD_SYSTEM}, {"role": "user", "content": user}]


def rewrite_messages(
    parts: BriefParts, context: StoryContext, scenes: list[SceneDraft], index: int, feedback: str
) -> list[dict[str, Any]]:
    lines = [story_text(parts, context), "", "The storyboard, one scene a line:"]
    lines += [
        f"Scene {n}: {json.dumps(scene_json(s, context.images), ensure_ascii=False)}"
        for n, s in enumerate(scenes, 1)
    ]
    lines += ["", f"Rewrite scene {index + 1} of {len(scenes)}.", f"Feedback: {feedback.strip()}"]
    user = "\n".join(lines)
    return [{"role": "system", "content": REWRITE_SYSTEM}, {"role": "user", "content": user}]


def scene_json(scene: SceneDraft, images: tuple[uuid.UUID, ...]) -> dict[str, Any]:
    """A scene as the schema spells it; references outside `images` are left out."""
    position = {image: i for i, image in enumerate(images)}
    return {
        "description": scene.description,
        "script": scene.script,
        "shotType": scene.shot_type.value,
        "durationSeconds": scene.duration_seconds,
        "transition": scene.transition,
        "imagePrompt": scene.image_prompt,
        "referenceImages": [position[r] for r in scene.reference_asset_ids if r in position],
    }


def story_text(parts: BriefParts, context: StoryContext) -> str:
    """The brief, the client's brand and the campaign's images, for a storyboard prompt."""
    lines = [f"Client: {context.client_name}", f"Campaign: {context.campaign_name}"]
    if context.campaign_goal:
        lines.append(f"Campaign goal: {context.campaign_goal}")
    lines += ["", "Brief:"]
    for part in TEXT_PARTS:
        label = part.replace("_", " ").capitalize()
        lines.append(f"- {label}: {getattr(parts, part) or 'not given'}")
    visual = "; ".join(parts.visual_elements) or "not given"
    lines.append(f"- Visual elements: {visual}")
    lines += ["", *guideline_lines(context.brand_guidelines), ""]
    lines.append(
        f"Video: {parts.duration_seconds} seconds in total, aspect ratio {parts.aspect_ratio}."
    )
    lines += _render_lines(parts)
    lines += ["", *image_lines(parts, context)]
    return "\n".join(lines)


def guideline_lines(guidelines: dict[str, Any]) -> list[str]:
    """The brand guidelines as prompt lines; ill-typed entries are skipped."""
    lines = ["Brand guidelines:"]
    tone = guidelines.get("tone")
    if isinstance(tone, str) and tone.strip():
        lines.append(f"- Tone: {tone.strip()}")
    colours = [c for c in map(_colour, _list(guidelines.get("colors"))) if c]
    if colours:
        lines.append(f"- Colours: {', '.join(colours)}")
    for key, label in (("dos", "Do"), ("donts", "Don't")):
        for item in _list(guidelines.get(key)):
            if isinstance(item, str) and item.strip():
                lines.append(f"- {label}: {item.strip()}")
    if len(lines) == 1:
        lines.append("- none given")
    return lines


def image_lines(parts: BriefParts, context: StoryContext) -> list[str]:
    if not context.images:
        return ["Campaign images: none; referenceImages must be []."]
    references = set(parts.reference_asset_ids)
    lines = ["Campaign images (you cannot see them; refer to them by index in referenceImages):"]
    for i, image in enumerate(context.images):
        name = context.image_names.get(image) or "untitled"
        note = " (a reference image of this brief)" if image in references else ""
        lines.append(f"- Image {i}: {name}{note}")
    return lines


def _render_lines(parts: BriefParts) -> list[str]:
    """What the video model renders, when it is one the catalogue knows."""
    try:
        spec = catalog.get_model(parts.video_model, "video")
    except InvalidInput:
        return []
    lengths = durations.allowed(spec)
    if len(lengths) > 2 and lengths == tuple(range(lengths[0], lengths[-1] + 1)):
        said = f"{lengths[0]} to {lengths[-1]} whole seconds"
    else:
        said = " or ".join(", ".join(map(str, lengths)).rsplit(", ", 1)) + " seconds"
    lines = [f"Each scene becomes one clip of {said}, rendered by {spec.name}."]
    counts = durations.scene_counts(spec, parts.duration_seconds)
    if counts:
        ideal = parts.duration_seconds / (spec.default_duration or 5)
        best = min(counts, key=lambda k: (abs(k - ideal), k))
        lines.append(f"About {best} scenes suit the total.")
    return lines


def _colour(value: Any) -> str | None:
    if isinstance(value, str):
        return value.strip() or None
    if not isinstance(value, dict):
        return None
    name, hex_ = value.get("name"), value.get("hex")
    name = name.strip() if isinstance(name, str) else ""
    hex_ = hex_.strip() if isinstance(hex_, str) else ""
    if name and hex_:
        return f"{name} ({hex_})"
    return name or hex_ or None


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []
