"""The property tour template: a storyboard made from a property's facts and at least
MIN_PHOTOS photos instead of a free brief.

Each photo gets a room: the one a person gave, else the writer's (Grok looking at the
photos; offline, the room its file name says). The tour must show the exterior, the
kitchen, the living room, a bedroom and a bathroom. Its SCENES scenes are first/last-frame
pairs chained in walk-through order, each starting on the frame the last one ended on,
so the cuts between them are seamless."""

from __future__ import annotations

import enum
import re
import uuid
from dataclasses import dataclass, field
from typing import Any, Protocol

from db.models.enums import ShotType
from services.creative.parts import MAX_SHORT, BriefParts, SceneDraft
from services.errors import InvalidInput
from services.pairing.base import ImageCandidate

MIN_PHOTOS = 14
MAX_PHOTOS = 40
SCENES = 7
MAX_HIGHLIGHTS = 10


class Room(enum.StrEnum):
    EXTERIOR = "exterior"
    ENTRANCE = "entrance"
    LIVING_ROOM = "living_room"
    DINING_ROOM = "dining_room"
    KITCHEN = "kitchen"
    BEDROOM = "bedroom"
    BATHROOM = "bathroom"
    GARDEN = "garden"
    OTHER = "other"


REQUIRED = (Room.EXTERIOR, Room.KITCHEN, Room.LIVING_ROOM, Room.BEDROOM, Room.BATHROOM)
WALK = tuple(Room)  # the order a visit takes: outside in, living spaces, private rooms, out
_WORDS = {
    Room.EXTERIOR: ("exterior", "front", "facade", "outside", "street", "house", "driveway"),
    Room.ENTRANCE: ("entrance", "entry", "hall", "hallway", "foyer"),
    Room.LIVING_ROOM: ("living", "lounge", "sitting", "family"),
    Room.DINING_ROOM: ("dining",),
    Room.KITCHEN: ("kitchen",),
    Room.BEDROOM: ("bedroom", "bed", "master"),
    Room.BATHROOM: ("bathroom", "bath", "shower", "ensuite", "wc", "toilet"),
    Room.GARDEN: ("garden", "yard", "backyard", "patio", "terrace", "pool", "balcony"),
}


@dataclass(frozen=True, slots=True)
class PropertyFacts:
    address: str
    price: str | None = None
    bedrooms: int | None = None
    bathrooms: int | None = None
    area_sqm: int | None = None
    highlights: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class TourPhoto:
    asset_id: uuid.UUID
    filename: str
    room: Room | None = None  # as a person gave it


@dataclass(frozen=True, slots=True)
class RoomPhoto:
    """A photo whose room the writer is asked for."""

    image: ImageCandidate
    filename: str


@dataclass(frozen=True, slots=True)
class Tour:
    facts: PropertyFacts
    photos: tuple[TourPhoto, ...] = field(default_factory=tuple)


def check_tour(tour: Tour) -> Tour:
    facts = tour.facts
    if not facts.address.strip() or len(facts.address) > MAX_SHORT:
        raise InvalidInput(f"an address of 1 to {MAX_SHORT} characters", field="address")
    for name, value in (("bedrooms", facts.bedrooms), ("bathrooms", facts.bathrooms),
                        ("areaSqm", facts.area_sqm)):  # fmt: skip
        if value is not None and not 0 <= value <= 100_000:
            raise InvalidInput("a count from 0", field=name)
    if len(facts.highlights) > MAX_HIGHLIGHTS or any(len(h) > MAX_SHORT for h in facts.highlights):
        raise InvalidInput(
            f"at most {MAX_HIGHLIGHTS} highlights of {MAX_SHORT} characters", field="highlights"
        )
    ids = [p.asset_id for p in tour.photos]
    if len(set(ids)) != len(ids):
        raise InvalidInput("a photo is listed twice", field="photos")
    if not MIN_PHOTOS <= len(ids) <= MAX_PHOTOS:
        raise InvalidInput(
            f"a tour takes {MIN_PHOTOS} to {MAX_PHOTOS} photos, not {len(ids)}", field="photos"
        )
    return tour


def room_from_name(filename: str) -> Room | None:
    """The room a file name says ("kitchen-2.jpg", "Master Bedroom.png"), if any."""
    words = set(re.findall(r"[a-z]+", filename.lower()))
    for room, names in _WORDS.items():
        if words & set(names):
            return room
    return None


def walkthrough(rooms: list[tuple[uuid.UUID, Room]]) -> list[tuple[uuid.UUID, Room]]:
    """SCENES + 1 photos in walk-through order, every required room among them: the
    frames the chained scenes start and end on. InvalidInput names a missing room."""
    missing = [r for r in REQUIRED if all(room is not r for _, room in rooms)]
    if missing:
        names = ", ".join(r.value.replace("_", " ") for r in missing)
        raise InvalidInput(f"no photo shows the {names}; a tour needs each", field="photos")
    frames = SCENES + 1
    chosen: list[int] = [
        next(i for i, (_, room) in enumerate(rooms) if room is r) for r in REQUIRED
    ]
    rest = [i for i in range(len(rooms)) if i not in chosen]
    step = len(rest) / max(1, frames - len(chosen))
    chosen += [rest[int(k * step)] for k in range(frames - len(chosen))]
    order = sorted(chosen, key=lambda i: (WALK.index(rooms[i][1]), i))
    return [rooms[i] for i in order]


def _said(room: Room) -> str:
    return room.value.replace("_", " ")


def tour_scenes(
    facts: PropertyFacts, frames: list[tuple[uuid.UUID, Room]], parts: BriefParts,
    seconds: list[float],
) -> list[SceneDraft]:  # fmt: skip
    """The chained scenes: scene k moves from frame k to frame k + 1."""
    lines = [f"{facts.address}{f', {facts.price}' if facts.price else ''}."]
    if facts.bedrooms is not None or facts.bathrooms is not None:
        counts = ((facts.bedrooms, "bedroom"), (facts.bathrooms, "bathroom"))
        rooms = [f"{n} {word}{'s' if n != 1 else ''}" for n, word in counts if n is not None]
        lines.append(" and ".join(rooms) + (f", {facts.area_sqm} m²." if facts.area_sqm else "."))
    lines += [f"{h.rstrip('.')}." for h in facts.highlights]
    closing = parts.call_to_action or "Book a viewing today"
    style = ", ".join(x for x in (parts.style, parts.tone) if x) or "bright, steady, cinematic"
    scenes: list[SceneDraft] = []
    for k in range(SCENES):
        (first, a), (last, b) = frames[k], frames[k + 1]
        where = f"the {_said(a)}" if a is b else f"from the {_said(a)} to the {_said(b)}"
        script = (
            closing.rstrip(".") + "." if k == SCENES - 1 else (lines[k] if k < len(lines) else "")
        )
        scenes.append(
            SceneDraft(
                description=f"A smooth walk through {where}",
                script=script,
                shot_type=ShotType.WIDE if a is Room.EXTERIOR else ShotType.TRACKING,
                duration_seconds=float(seconds[k]),
                transition="none",  # the next scene starts on this one's last frame
                image_prompt=f"{_said(b).capitalize()} of {facts.address}; {style}",
                reference_asset_ids=(first, last),
            )
        )
    return scenes


def tour_json(tour: Tour) -> dict[str, object]:
    facts = tour.facts
    return {
        "facts": {
            "address": facts.address, "price": facts.price, "bedrooms": facts.bedrooms,
            "bathrooms": facts.bathrooms, "areaSqm": facts.area_sqm,
            "highlights": list(facts.highlights),
        },
        "photos": [
            {"assetId": str(p.asset_id), "filename": p.filename, "room": p.room and p.room.value}
            for p in tour.photos
        ],
    }  # fmt: skip


def tour_from_json(data: dict[str, Any]) -> Tour:
    facts = data["facts"]
    return Tour(
        facts=PropertyFacts(
            address=facts["address"], price=facts["price"], bedrooms=facts["bedrooms"],
            bathrooms=facts["bathrooms"], area_sqm=facts["areaSqm"],
            highlights=tuple(facts["highlights"]),
        ),
        photos=tuple(_photo(p) for p in data["photos"]),
    )  # fmt: skip


def _photo(data: dict[str, Any]) -> TourPhoto:
    room = Room(data["room"]) if data["room"] else None
    return TourPhoto(uuid.UUID(data["assetId"]), data["filename"], room)


async def write_tour(
    writer: RoomReader, tour: Tour, parts: BriefParts, images: dict[uuid.UUID, ImageCandidate]
) -> list[SceneDraft]:
    """The tour's scenes: rooms a person gave kept, the others asked of the writer.
    InvalidInput when the photos do not show every required room."""
    unknown = [p for p in tour.photos if p.room is None]
    said = await writer.assign_rooms([RoomPhoto(images[p.asset_id], p.filename) for p in unknown])
    told = dict(zip((p.asset_id for p in unknown), said, strict=True))
    rooms = [(p.asset_id, p.room or told[p.asset_id]) for p in tour.photos]
    frames = walkthrough(rooms)
    seconds = [parts.duration_seconds / SCENES] * SCENES  # proposals: fitted when stored
    return tour_scenes(tour.facts, frames, parts, seconds)


class RoomReader(Protocol):
    async def assign_rooms(self, photos: list[RoomPhoto]) -> list[Room]: ...
