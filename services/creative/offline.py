"""The offline writer: deterministic briefs and storyboards, no model needed.

It reads briefs with `services.creative.offline_brief` and writes a storyboard as an
editor would from a brief alone: an opening hook, the product, its benefits, and the
call to action, each scene framed on one of the campaign's images in turn (the brief's
references first). Scene lengths are even proposals; the caller fits them.
"""

from __future__ import annotations

from dataclasses import replace

from db.models.enums import ShotType
from services import catalog
from services.creative import offline_brief
from services.creative.durations import even
from services.creative.parts import BriefParts, ParsedBrief, SceneDraft, StoryContext
from services.creative.property_tour import Room, RoomPhoto, room_from_name

SHOTS = (ShotType.WIDE, ShotType.MEDIUM, ShotType.TRACKING, ShotType.CLOSE_UP, ShotType.OVERHEAD)
MIDDLE_TRANSITIONS = ("fade", "dissolve", "smoothleft", "fade")


class OfflineWriter:
    name = "offline"

    async def parse_brief(self, text: str) -> ParsedBrief:
        return offline_brief.parse_text(text)

    async def refine_brief(self, parts: BriefParts, feedback: str) -> ParsedBrief:
        return offline_brief.refine(parts, feedback)

    async def write_storyboard(self, parts: BriefParts, context: StoryContext) -> list[SceneDraft]:
        lengths = even(catalog.get_model(parts.video_model, "video"), parts.duration_seconds)
        return [
            scene_for(parts, context, index, len(lengths), float(seconds))
            for index, seconds in enumerate(lengths)
        ]

    async def rewrite_scene(
        self,
        parts: BriefParts,
        context: StoryContext,
        scenes: list[SceneDraft],
        index: int,
        feedback: str,
    ) -> SceneDraft:
        old = scenes[index]
        note = " ".join(feedback.split())
        return replace(
            old,
            description=f"{old.description} Revised: {note}",
            image_prompt=f"{old.image_prompt}; {note}",
            shot_type=SHOTS[(SHOTS.index(old.shot_type) + 1) % len(SHOTS)]
            if old.shot_type in SHOTS
            else ShotType.MEDIUM,
        )

    async def assign_rooms(self, photos: list[RoomPhoto]) -> list[Room]:
        """The room each file name says ("kitchen-2.jpg"), else other."""
        return [room_from_name(p.filename) or Room.OTHER for p in photos]


def _beat(parts: BriefParts, context: StoryContext, index: int, count: int) -> tuple[str, str]:
    """(what the scene shows, what is said) for scene `index` of `count`."""
    product = parts.product or context.campaign_name
    audience = parts.audience or "the people it is for"
    if index == count - 1 and count > 1:
        action = parts.call_to_action or f"Discover {product}"
        return f"{product} in its best light, with the brand", f"{action}."
    if index == 0:
        hook = parts.key_message or context.campaign_goal or f"Meet {product}"
        return f"An opening that speaks to {audience}", f"{hook}."
    if index == 1:
        return f"{product} revealed", f"This is {product}."
    elements = parts.visual_elements or ("the product in use",)
    element = elements[(index - 2) % len(elements)]
    return f"{product} with {element}", ""


def scene_for(
    parts: BriefParts, context: StoryContext, index: int, count: int, seconds: float
) -> SceneDraft:
    described, script = _beat(parts, context, index, count)
    look = ", ".join(x for x in (parts.style, parts.tone and f"{parts.tone} mood") if x)
    guide = context.brand_guidelines
    colours = ", ".join(
        f"{c.get('name') or ''} {c.get('hex') or ''}".strip() for c in guide.get("colors", [])
    )
    prompt = "; ".join(
        x
        for x in (
            described,
            look,
            colours and f"brand colours {colours}",
            f"{parts.aspect_ratio} frame",
        )
        if x
    )
    references = (context.images[index % len(context.images)],) if context.images else ()
    last = index == count - 1
    return SceneDraft(
        description=described,
        script=script,
        shot_type=ShotType.CLOSE_UP if last and count > 1 else SHOTS[index % len(SHOTS)],
        duration_seconds=seconds,
        transition="none" if last else MIDDLE_TRANSITIONS[index % len(MIDDLE_TRANSITIONS)],
        image_prompt=prompt,
        reference_asset_ids=references,
    )
