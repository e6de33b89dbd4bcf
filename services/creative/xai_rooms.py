"""Grok looks at a property's photos and says which room each shows (the property tour
template). The photos go as base64 data URLs, labelled by index, as pair selection
sends them; the answer is a strict JSON schema, validated again here."""

from __future__ import annotations

import asyncio
import base64
from typing import Any

from services.creative.property_tour import Room, RoomPhoto
from services.llm import LlmError
from services.llm.xai_chat import XaiChat
from services.pairing.xai import prepare_image

ROOMS_SCHEMA_NAME = "rooms"
ROOMS_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "photos": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "image": {"type": "integer", "description": "the photo's index"},
                    "room": {"type": "string", "enum": [r.value for r in Room]},
                },
                "required": ["image", "room"],
                "additionalProperties": False,
            },
        }
    },
    "required": ["photos"],
    "additionalProperties": False,
}
SYSTEM = """\
You are an estate agent's photo editor. For every photo of the property, say which room \
or part of the property it shows: exterior (the building from outside, the street), \
entrance (hall, foyer), living_room, dining_room, kitchen, bedroom, bathroom, garden \
(garden, patio, terrace, balcony, pool) or other. Answer once for every photo, by its \
index, with only JSON that matches the schema."""


async def assign_rooms(chat: XaiChat, photos: list[RoomPhoto]) -> list[Room]:
    limit = asyncio.Semaphore(4)

    async def part(photo: RoomPhoto) -> dict[str, Any]:
        async with limit:
            mime, data = await prepare_image(photo.image)
        url = f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}"
        return {"type": "image_url", "image_url": {"url": url, "detail": "low"}}

    parts = await asyncio.gather(*(part(p) for p in photos))
    content: list[dict[str, Any]] = [
        {"type": "text", "text": f"There are {len(photos)} photos, Image 0 to {len(photos) - 1}."}
    ]
    for index, image in enumerate(parts):
        content += [{"type": "text", "text": f"Image {index}:"}, image]
    messages: list[dict[str, Any]] = [
        {"role": "system", "content": SYSTEM},
        {"role": "user", "content": content},
    ]
    return read_rooms(
        await chat.json_answer(messages, ROOMS_SCHEMA_NAME, ROOMS_SCHEMA), len(photos)
    )


def read_rooms(data: Any, count: int) -> list[Room]:
    """A room for every photo, from the model's answer; LlmError says what was wrong."""
    if (
        not isinstance(data, dict)
        or set(data) != {"photos"}
        or not isinstance(data["photos"], list)
    ):
        raise LlmError('the answer is not an object with only a "photos" list')
    found: dict[int, Room] = {}
    for n, item in enumerate(data["photos"]):
        if not isinstance(item, dict) or set(item) != {"image", "room"}:
            raise LlmError(f"photo {n} is not an object with image and room")
        index, room = item["image"], item["room"]
        if not isinstance(index, int) or isinstance(index, bool) or not 0 <= index < count:
            raise LlmError(f"photo {n}: image {index!r} is not one of 0..{count - 1}")
        if room not in {r.value for r in Room}:
            raise LlmError(f"photo {n}: {room!r} is not a room")
        found.setdefault(index, Room(room))
    missing = [i for i in range(count) if i not in found]
    if missing:
        raise LlmError(f"the answer says nothing of image {missing[0]}")
    return [found[i] for i in range(count)]
