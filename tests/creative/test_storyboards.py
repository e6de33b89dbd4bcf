"""The creative workflow offline, through GraphQL: briefs typed, read and refined; a
storyboard written by a job; edits, each a version, refused when stale."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from typing import Any

import pytest
from starlette.applications import Starlette

from services import catalog
from services.creative.durations import allowed
from tests.client import GraphQLClient, decode_gid
from tests.conftest import issue_key
from tests.creative.workflow import (
    ADD_SCENE,
    CREATE_BRIEF,
    DELETE_SCENE,
    PARSE_BRIEF,
    REFINE_BRIEF,
    REGENERATE_SCENE,
    REORDER_SCENES,
    STORYBOARD,
    UPDATE_SCENE,
    write_storyboard,
)
from tests.samples import Samples

TEXT = """Product: Aurora trail shoes
Audience: urban runners aged 25-40
Key message: Grip that keeps up with the city
Call to action: Shop now
Tone: energetic
Visuals: wet streets at dawn, close-ups of the sole
Music: upbeat electronic
Duration: 30 seconds
Format: 9:16"""


@pytest.fixture
async def campaign(tenant: GraphQLClient, samples: Samples) -> str:
    """A campaign with three images."""
    assert tenant.client_id
    gid = await tenant.create_campaign(tenant.client_id, "Aurora launch", goal="Sell shoes")
    for n in range(3):
        await tenant.upload_ok(samples.png, f"shot-{n}.png", campaign_id=gid)
    return gid


async def parsed_brief(tenant: GraphQLClient, campaign: str, text: str = TEXT) -> dict[str, Any]:
    payload = await tenant.mutate(PARSE_BRIEF, {"input": {"campaignId": campaign, "text": text}})
    assert payload["__typename"] == "BriefPayload", payload
    brief: dict[str, Any] = payload["brief"]
    return brief


async def test_parse_brief_reads_typed_parts_with_confidence(
    tenant: GraphQLClient, campaign: str
) -> None:
    brief = await parsed_brief(tenant, campaign)
    assert brief["product"] == "Aurora trail shoes"
    assert brief["callToAction"] == "Shop now"
    assert brief["durationSeconds"] == 30
    assert brief["aspectRatio"] == "9:16"
    assert brief["reader"] == "offline"
    assert brief["sourceText"] == TEXT
    confidence = {c["part"]: c["confidence"] for c in brief["confidence"]}
    assert confidence["product"] > 0.5 and confidence["durationSeconds"] > 0.5
    assert confidence["style"] == 0  # not in the text: the default kept, and said so
    briefs = "briefs { totalCount nodes { id } }"
    listed = await tenant.execute(
        f"query($id: ID!) {{ node(id: $id) {{ ... on Campaign {{ {briefs} }} }} }}",
        {"id": campaign},
    )
    assert listed["node"]["briefs"]["totalCount"] == 1
    assert listed["node"]["briefs"]["nodes"][0]["id"] == brief["id"]


async def test_a_brief_no_model_can_make_is_refused(tenant: GraphQLClient, campaign: str) -> None:
    kling = {"campaignId": campaign, "videoModel": "kwaivgi/kling-v2.1", "durationSeconds": 7}
    refused = await tenant.mutate(CREATE_BRIEF, {"input": kling})
    assert refused["__typename"] == "UserError"
    assert (refused["code"], refused["field"]) == ("INVALID_INPUT", "durationSeconds")
    assert "5, 10" in refused["message"]
    too_long = await tenant.mutate(
        CREATE_BRIEF, {"input": {"campaignId": campaign, "durationSeconds": 3600}}
    )
    assert (too_long["code"], too_long["field"]) == ("INVALID_INPUT", "durationSeconds")
    square = await tenant.mutate(
        CREATE_BRIEF, {"input": {"campaignId": campaign, "aspectRatio": "4:5"}}
    )
    assert (square["code"], square["field"]) == ("INVALID_INPUT", "aspectRatio")
    ok = await tenant.mutate(CREATE_BRIEF, {"input": {**kling, "durationSeconds": 25}})
    assert ok["__typename"] == "BriefPayload", ok
    assert ok["brief"]["reader"] == "person"


async def test_refine_changes_what_feedback_says_a_bounded_number_of_times(
    tenant: GraphQLClient, campaign: str
) -> None:
    brief = await parsed_brief(tenant, campaign)
    refined = await tenant.mutate(
        REFINE_BRIEF, {"input": {"briefId": brief["id"], "feedback": "Tone: playful"}}
    )
    assert refined["__typename"] == "BriefPayload", refined
    assert refined["brief"]["tone"] == "playful"
    assert refined["brief"]["product"] == "Aurora trail shoes"  # untouched
    assert refined["brief"]["refinements"] == [{"feedback": "Tone: playful", "by": "offline"}]
    left = refined["brief"]["refinementsLeft"]
    for _ in range(left):
        again = await tenant.mutate(
            REFINE_BRIEF, {"input": {"briefId": brief["id"], "feedback": "Tone: calm"}}
        )
        assert again["__typename"] == "BriefPayload", again
    over = await tenant.mutate(
        REFINE_BRIEF, {"input": {"briefId": brief["id"], "feedback": "Tone: bold"}}
    )
    assert (over["code"], over["field"]) == ("CONFLICT", "briefId")


async def test_storyboard_is_written_by_a_job_fitted_to_the_brief(
    tenant: GraphQLClient, app: Starlette, campaign: str
) -> None:
    brief = await parsed_brief(tenant, campaign)
    _, board = await write_storyboard(tenant, app, brief["id"])
    assert board["version"] == 1 and board["status"] == "DRAFT"
    assert board["writer"] == "offline"
    assert board["brief"]["id"] == brief["id"]
    durations = [s["durationSeconds"] for s in board["scenes"]]
    lengths = allowed(catalog.get_model(board["videoModel"], "video"))
    assert sum(durations) == board["totalSeconds"] == 30
    assert all(d in lengths for d in durations)
    assert [s["position"] for s in board["scenes"]] == list(range(len(durations)))
    assert board["scenes"][-1]["script"] == "Shop now."  # the call to action closes
    assert all(s["referenceAssets"] for s in board["scenes"])  # framed on the images
    assert Decimal(board["costEstimateUsd"]) > 0
    assert [v["version"] for v in board["versions"]] == [1]


async def test_edits_make_versions_and_stale_ones_are_refused(
    tenant: GraphQLClient, app: Starlette, campaign: str
) -> None:
    brief = await parsed_brief(tenant, campaign)
    _, board = await write_storyboard(tenant, app, brief["id"])
    first, second = board["scenes"][0], board["scenes"][1]
    edited = await tenant.mutate(UPDATE_SCENE, {"input": {
        "sceneId": first["id"], "expectedVersion": 1, "script": "Own the wet streets.",
        "durationSeconds": 6, "shotType": "OVERHEAD",
    }})  # fmt: skip
    assert edited["__typename"] == "StoryboardPayload", edited
    board2 = edited["storyboard"]
    assert board2["version"] == 2
    assert board2["scenes"][0]["script"] == "Own the wet streets."
    assert board2["scenes"][0]["shotType"] == "OVERHEAD"
    assert board2["totalSeconds"] == 31
    old = {v["version"]: v for v in board2["versions"]}
    assert old[1]["scenes"][0]["description"] == first["description"]
    assert old[1]["totalSeconds"] == 30
    stale = await tenant.mutate(
        UPDATE_SCENE, {"input": {"sceneId": second["id"], "expectedVersion": 1, "script": "x"}}
    )
    assert (stale["code"], stale["field"]) == ("CONFLICT", "expectedVersion")
    bad_length = await tenant.mutate(
        UPDATE_SCENE, {"input": {"sceneId": second["id"], "expectedVersion": 2,
                                 "durationSeconds": 99}}
    )  # fmt: skip
    assert (bad_length["code"], bad_length["field"]) == ("INVALID_INPUT", "durationSeconds")
    now = await tenant.execute(STORYBOARD, {"id": board["id"]})
    assert now["node"]["version"] == 2  # the refused edit wrote nothing

    ids = [s["id"] for s in board2["scenes"]]
    missing = await tenant.mutate(REORDER_SCENES, {"input": {
        "storyboardId": board["id"], "expectedVersion": 2, "sceneIds": ids[1:],
    }})  # fmt: skip
    assert (missing["code"], missing["field"]) == ("INVALID_INPUT", "sceneIds")
    _, other = await write_storyboard(tenant, app, brief["id"])
    foreign = await tenant.mutate(REORDER_SCENES, {"input": {
        "storyboardId": board["id"], "expectedVersion": 2,
        "sceneIds": [other["scenes"][0]["id"], *ids[1:]],
    }})  # fmt: skip
    assert (foreign["code"], foreign["field"]) == ("INVALID_INPUT", "sceneIds")
    flood = await tenant.mutate(REORDER_SCENES, {"input": {
        "storyboardId": board["id"], "expectedVersion": 2, "sceneIds": ids * 2000,
    }})  # fmt: skip
    assert (flood["code"], flood["field"], flood["message"]) == (
        "INVALID_INPUT",
        "sceneIds",
        "at most 16",
    )  # refused before thousands of IDs are decoded
    reordered = await tenant.mutate(REORDER_SCENES, {"input": {
        "storyboardId": board["id"], "expectedVersion": 2, "sceneIds": ids[::-1],
    }})  # fmt: skip
    assert [s["id"] for s in reordered["storyboard"]["scenes"]] == ids[::-1]

    added = await tenant.mutate(ADD_SCENE, {"input": {
        "storyboardId": board["id"], "expectedVersion": 3, "position": 0,
        "description": "Logo sting", "imagePrompt": "the logo on black", "durationSeconds": 2,
    }})  # fmt: skip
    assert added["__typename"] == "StoryboardPayload", added
    assert added["storyboard"]["scenes"][0]["description"] == "Logo sting"
    assert added["storyboard"]["totalSeconds"] == 33
    deleted = await tenant.mutate(DELETE_SCENE, {"input": {
        "sceneId": added["storyboard"]["scenes"][0]["id"], "expectedVersion": 4,
    }})  # fmt: skip
    assert [s["id"] for s in deleted["storyboard"]["scenes"]] == ids[::-1]
    assert [v["version"] for v in deleted["storyboard"]["versions"]] == [5, 4, 3, 2, 1]


async def test_regenerate_rewrites_one_scene_only(
    tenant: GraphQLClient, app: Starlette, campaign: str
) -> None:
    brief = await parsed_brief(tenant, campaign)
    _, board = await write_storyboard(tenant, app, brief["id"])
    target = board["scenes"][2]
    payload = await tenant.mutate(REGENERATE_SCENE, {"input": {
        "sceneId": target["id"], "expectedVersion": 1, "feedback": "show the sole in rain",
    }})  # fmt: skip
    assert payload["__typename"] == "StoryboardPayload", payload
    after = payload["storyboard"]["scenes"]
    assert "show the sole in rain" in after[2]["description"]
    assert after[2]["durationSeconds"] == target["durationSeconds"]
    assert after[:2] == board["scenes"][:2] and after[3:] == board["scenes"][3:]
    stale = await tenant.mutate(REGENERATE_SCENE, {"input": {
        "sceneId": target["id"], "expectedVersion": 1, "feedback": "again",
    }})  # fmt: skip
    assert (stale["code"], stale["field"]) == ("CONFLICT", "expectedVersion")


async def test_concurrent_edits_of_one_version_one_wins(
    tenant: GraphQLClient, app: Starlette, campaign: str
) -> None:
    brief = await parsed_brief(tenant, campaign)
    _, board = await write_storyboard(tenant, app, brief["id"])
    scene = board["scenes"][0]["id"]
    results = await asyncio.gather(*(
        tenant.mutate(UPDATE_SCENE, {"input": {
            "sceneId": scene, "expectedVersion": 1, "script": f"take {n}",
        }})
        for n in range(6)
    ))  # fmt: skip
    won = [r for r in results if r["__typename"] == "StoryboardPayload"]
    assert len(won) == 1
    assert {r.get("code") for r in results if r not in won} == {"CONFLICT"}
    now = (await tenant.execute(STORYBOARD, {"id": board["id"]}))["node"]
    assert now["version"] == 2
    assert now["scenes"][0]["script"] == won[0]["storyboard"]["scenes"][0]["script"]


async def test_other_tenants_cannot_read_or_edit(
    tenant: GraphQLClient, admin: GraphQLClient, app: Starlette, campaign: str, runtime: Any
) -> None:
    brief = await parsed_brief(tenant, campaign)
    _, board = await write_storyboard(tenant, app, brief["id"])
    other_client = await admin.create_client("Someone else")
    stranger = GraphQLClient(admin.http, await issue_key(runtime, decode_gid(other_client)))
    for gid in (brief["id"], board["id"], board["scenes"][0]["id"]):
        seen = await stranger.execute("query($id: ID!) { node(id: $id) { id } }", {"id": gid})
        assert seen["node"] is None
    for gid in (brief["id"], board["id"], board["scenes"][0]["id"]):
        mine = await tenant.execute("query($id: ID!) { node(id: $id) { id } }", {"id": gid})
        assert mine["node"]["id"] == gid
    edit = await stranger.mutate(UPDATE_SCENE, {"input": {
        "sceneId": board["scenes"][0]["id"], "expectedVersion": 1, "script": "mine now",
    }})  # fmt: skip
    assert (edit["code"], edit["field"]) == ("NOT_FOUND", "sceneId")
    refine = await stranger.mutate(
        REFINE_BRIEF, {"input": {"briefId": brief["id"], "feedback": "Tone: sad"}}
    )
    assert (refine["code"], refine["field"]) == ("NOT_FOUND", "briefId")
