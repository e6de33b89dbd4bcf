"""The property tour template: rooms from the photos, every required room shown, seven
first/last-frame scenes chained in walk-through order."""

from __future__ import annotations

import itertools
from typing import Any

from starlette.applications import Starlette

from tests.client import GraphQLClient
from tests.creative.workflow import CREATE_BRIEF, GENERATE_STORYBOARD, STORYBOARDS
from tests.jobs import wait_for_job
from tests.samples import Samples

NAMES = [
    "exterior-front.png", "garden.png", "hallway.png", "living-room.png", "lounge-2.png",
    "dining.png", "kitchen.png", "kitchen-island.png", "master-bedroom.png", "bedroom-2.png",
    "bathroom.png", "ensuite-shower.png", "exterior-back.png", "bedroom-3.png",
]  # fmt: skip
FACTS = {
    "address": "12 Harbour Lane, Brighton", "price": "£650,000", "bedrooms": 3,
    "bathrooms": 2, "areaSqm": 120, "highlights": ["Sea views", "South-facing garden"],
}  # fmt: skip


async def _photos(
    client: GraphQLClient, campaign: str, samples: Samples, names: list[str]
) -> dict[str, str]:
    ids = {}
    for i, name in enumerate(names):
        asset = await client.upload_ok(samples.png + bytes([i]), name, campaign_id=campaign)
        ids[name] = asset["id"]
    return ids


async def _tour(
    client: GraphQLClient, app: Starlette, campaign: str, photos: list[dict[str, Any]],
    **brief: Any,
) -> tuple[dict[str, Any], dict[str, Any] | None]:  # fmt: skip
    created = await client.mutate(CREATE_BRIEF, {"input": {
        "campaignId": campaign, "durationSeconds": 35, "callToAction": "Book a viewing", **brief,
    }})  # fmt: skip
    brief_id = created["brief"]["id"]
    queued = await client.mutate(GENERATE_STORYBOARD, {"input": {
        "briefId": brief_id, "propertyTour": {**FACTS, "photos": photos},
    }})  # fmt: skip
    if queued["__typename"] != "StoryboardJobPayload":
        return queued, None
    done = await wait_for_job(client, app, queued["job"]["id"])
    boards = (await client.execute(STORYBOARDS, {"id": brief_id}))["node"]["storyboards"]
    return done, (boards["nodes"][0] if boards["nodes"] else None)


async def test_tour_walks_through_every_room(
    tenant: GraphQLClient, app: Starlette, samples: Samples
) -> None:
    assert tenant.client_id
    campaign = await tenant.create_campaign(tenant.client_id, "12 Harbour Lane")
    ids = await _photos(tenant, campaign, samples, NAMES)
    done, board = await _tour(tenant, app, campaign, [{"assetId": i} for i in ids.values()])
    assert done["status"] == "SUCCEEDED", done["error"]
    assert board is not None
    scenes = board["scenes"]
    assert len(scenes) == 7
    frames = [[a["id"] for a in s["referenceAssets"]] for s in scenes]
    assert all(len(f) == 2 for f in frames)
    for before, after in itertools.pairwise(frames):
        assert before[1] == after[0], "each scene starts where the last one ended"
    shown = {name for name, gid in ids.items() if any(gid in f for f in frames)}
    for room in ("exterior", "kitchen", "living", "bedroom", "bathroom"):
        assert any(room in name or (room == "living" and "lounge" in name) for name in shown), room
    assert frames[0][0] in (ids["exterior-front.png"], ids["exterior-back.png"])  # outside in
    assert sum(s["durationSeconds"] for s in scenes) == 35
    assert "12 Harbour Lane" in scenes[0]["script"]
    assert scenes[-1]["script"] == "Book a viewing."
    assert {s["transition"] for s in scenes} == {"none"}  # chained frames: seamless cuts


async def test_a_tour_needs_every_room_and_enough_photos(
    tenant: GraphQLClient, app: Starlette, samples: Samples
) -> None:
    assert tenant.client_id
    campaign = await tenant.create_campaign(tenant.client_id, "No bathroom")
    names = [n.replace("bathroom", "photo-a").replace("ensuite-shower", "photo-b") for n in NAMES]
    ids = await _photos(tenant, campaign, samples, names)
    photos = [{"assetId": i} for i in ids.values()]
    done, board = await _tour(tenant, app, campaign, photos)
    assert done["status"] == "FAILED"
    assert done["errorCode"] == "WRITING_FAILED"
    assert "bathroom" in done["error"]
    assert board is None
    # a person says which room a photo shows: that is enough
    told = [{**p, "room": "BATHROOM"} if p["assetId"] == ids["photo-a.png"] else p for p in photos]
    done, board = await _tour(tenant, app, campaign, told)
    assert done["status"] == "SUCCEEDED", done["error"]
    refused, _ = await _tour(tenant, app, campaign, photos[:13])
    assert (refused["code"], refused["field"]) == ("INVALID_INPUT", "photos")
    flood, _ = await _tour(tenant, app, campaign, photos * 3)
    assert (flood["code"], flood["field"]) == ("INVALID_INPUT", "photos")
    veo, _ = await _tour(tenant, app, campaign, photos, videoModel="google/veo-3",
                         durationSeconds=32)  # fmt: skip
    assert (veo["code"], veo["field"]) == ("INVALID_INPUT", "briefId")
