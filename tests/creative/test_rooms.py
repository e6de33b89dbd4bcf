"""Rooms for the property tour: from file names offline, from Grok's answer checked
again, and the walk-through the scenes are chained along."""

from __future__ import annotations

import uuid

import pytest

from services.creative.property_tour import (
    REQUIRED,
    SCENES,
    WALK,
    Room,
    room_from_name,
    walkthrough,
)
from services.creative.xai_rooms import read_rooms
from services.errors import InvalidInput
from services.llm import LlmError


@pytest.mark.parametrize(
    ("name", "room"),
    [
        ("Kitchen-2.JPG", Room.KITCHEN),
        ("master_bedroom.png", Room.BEDROOM),
        ("en suite shower.jpg", Room.BATHROOM),
        ("front-exterior.webp", Room.EXTERIOR),
        ("Lounge.jpeg", Room.LIVING_ROOM),
        ("IMG_0042.jpg", None),
        ("bedside-table.jpg", None),  # a word containing "bed" is not a bedroom
    ],
)
def test_room_from_name(name: str, room: Room | None) -> None:
    assert room_from_name(name) is room


def test_walkthrough_covers_the_required_rooms_in_order() -> None:
    rooms = [Room.OTHER] * 9 + list(reversed(REQUIRED))
    photos = [(uuid.uuid4(), r) for r in rooms]
    frames = walkthrough(photos)
    assert len(frames) == SCENES + 1
    assert {r for _, r in frames} >= set(REQUIRED)
    order = [WALK.index(r) for _, r in frames]
    assert order == sorted(order)
    assert len({i for i, _ in frames}) == len(frames), "no photo twice"


def test_walkthrough_names_what_is_missing() -> None:
    photos = [(uuid.uuid4(), Room.EXTERIOR if i % 2 else Room.KITCHEN) for i in range(14)]
    with pytest.raises(InvalidInput, match="living room, bedroom, bathroom"):
        walkthrough(photos)


def test_read_rooms_checks_the_answer() -> None:
    good = {"photos": [{"image": 1, "room": "kitchen"}, {"image": 0, "room": "exterior"}]}
    assert read_rooms(good, 2) == [Room.EXTERIOR, Room.KITCHEN]
    for bad, message in [
        ({"photos": [{"image": 0, "room": "kitchen"}]}, "nothing of image 1"),
        ({"photos": [{"image": 5, "room": "kitchen"}, {"image": 1, "room": "x"}]}, "0..1"),
        ({"photos": [{"image": 0, "room": "attic"}, {"image": 1, "room": "other"}]}, "attic"),
        ({"rooms": []}, "photos"),
        ([1, 2], "photos"),
    ]:
        with pytest.raises(LlmError, match=message):
            read_rooms(bad, 2)
