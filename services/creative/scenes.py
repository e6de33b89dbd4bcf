"""A storyboard's scenes made whole: durations fitted to the brief and the model, the
render's estimated cost, and the snapshot each version keeps."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, replace
from decimal import Decimal
from typing import Any

from db.models import Scene, Storyboard, StoryboardVersion
from services import catalog
from services.catalog import ModelSpec
from services.creative.durations import allowed, fit, scene_counts
from services.creative.parts import MAX_SCENES, SceneDraft


@dataclass(frozen=True, slots=True)
class Fitted:
    scenes: list[SceneDraft]  # durations whole seconds the model renders
    notes: list[str]  # what was changed from the writer's proposal, for people


def fit_scenes(spec: ModelSpec, total: int, drafts: list[SceneDraft]) -> Fitted:
    """The drafts with durations the model renders, adding up to `total`. When that many
    scenes cannot make it, middle scenes are dropped or the longest split in two, and
    the notes say so; `total` must pass `durations.check_total`."""
    notes: list[str] = []
    scenes = list(drafts[:MAX_SCENES])
    if len(drafts) > MAX_SCENES:
        notes.append(f"The writer proposed {len(drafts)} scenes; the first {MAX_SCENES} kept.")
    proposed = sum(s.duration_seconds for s in scenes)
    counts = scene_counts(spec, total)
    if len(scenes) not in counts:
        want = min(counts, key=lambda k: (abs(k - len(scenes)), k))
        before = len(scenes)
        while len(scenes) > want:  # keep the opening and the call to action
            del scenes[len(scenes) // 2]
        while len(scenes) < want:
            longest = max(range(len(scenes)), key=lambda i: scenes[i].duration_seconds)
            half = replace(scenes[longest], duration_seconds=scenes[longest].duration_seconds / 2)
            scenes[longest : longest + 1] = [half, replace(half, script="")]
        notes.append(
            f"{before} scenes cannot make {total} s with {spec.name}'s clip lengths; made {want}."
        )
    lengths = fit([s.duration_seconds for s in scenes], total, allowed(spec))
    assert lengths is not None  # len(scenes) is one of scene_counts
    if any(abs(d - s.duration_seconds) > 1e-9 for d, s in zip(lengths, scenes, strict=True)):
        notes.append(
            f"Scene durations were fitted to the brief's {total} s (proposed {proposed:g} s) "
            f"in clip lengths {spec.name} renders."
        )
    return Fitted(
        [replace(s, duration_seconds=d) for s, d in zip(scenes, lengths, strict=True)], notes
    )


def estimate(spec: ModelSpec, aspect_ratio: str, scenes: list[Scene]) -> Decimal:
    """What rendering costs at list prices: an image for each scene without a reference,
    each clip at its duration, and a music bed as long as the video."""
    image = catalog.get_model(None, "image")
    music = catalog.get_model(None, "audio")
    total = Decimal(0)
    for scene in scenes:
        if not scene.reference_asset_ids:
            total += catalog.estimate(image, {"aspect_ratio": aspect_ratio})
        logical = {
            "duration": scene.duration_seconds,
            "resolution": spec.default_resolution,
            "mode": spec.last_image_modes[0] if spec.last_image_modes else spec.default_mode,
        }
        total += catalog.estimate(spec, logical)
    seconds = sum(s.duration_seconds for s in scenes)
    return total + music.price.cost(seconds=seconds)


def scene_json(scene: Scene) -> dict[str, Any]:
    return {
        "id": str(scene.id),
        "position": scene.position,
        "description": scene.description,
        "script": scene.script,
        "shotType": scene.shot_type.value,
        "durationSeconds": scene.duration_seconds,
        "transition": scene.transition,
        "imagePrompt": scene.image_prompt,
        "referenceAssetIds": list(scene.reference_asset_ids),
    }


def new_scene(board: Storyboard, position: int, draft: SceneDraft) -> Scene:
    return Scene(
        id=uuid.uuid4(),  # now: the version's snapshot names it before the flush
        storyboard_id=board.id,
        position=position,
        description=draft.description,
        script=draft.script,
        shot_type=draft.shot_type,
        duration_seconds=int(draft.duration_seconds),
        transition=draft.transition,
        image_prompt=draft.image_prompt,
        reference_asset_ids=[str(i) for i in draft.reference_asset_ids],
    )


def settle(board: Storyboard, scenes: list[Scene], change: str) -> StoryboardVersion:
    """Number the scenes in order, total them and price them on the board, and the
    snapshot of this version (to add beside the board's own writes)."""
    for position, scene in enumerate(scenes):
        scene.position = position
    board.total_seconds = sum(s.duration_seconds for s in scenes)
    spec = catalog.get_model(board.video_model, "video")
    board.cost_estimate_usd = estimate(spec, board.aspect_ratio, scenes)
    return StoryboardVersion(
        storyboard_id=board.id,
        version=board.version,
        change=change[:300],
        scenes=[scene_json(s) for s in scenes],
        total_seconds=board.total_seconds,
        cost_estimate_usd=board.cost_estimate_usd,
    )
