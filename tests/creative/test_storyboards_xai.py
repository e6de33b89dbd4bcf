"""The creative workflow with Grok (a loopback fake of xAI's chat completions API):
briefs read and storyboards written by the model, checked again and fitted here."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator

import httpx
import pytest
from starlette.applications import Starlette

from gql.app import create_app
from services.settings import Settings
from tests.client import GraphQLClient
from tests.conftest import issue_key
from tests.creative.workflow import (
    CREATE_BRIEF,
    GENERATE_STORYBOARD,
    PARSE_BRIEF,
    REGENERATE_SCENE,
    STORYBOARDS,
    write_storyboard,
)
from tests.fakes.server import serve_app
from tests.fakes.xai import FakeXai
from tests.jobs import wait_for_job
from tests.rates import UNLIMITED_RATES
from tests.samples import Samples

TEXT = "Aurora trail shoes. A 20 seconds vertical ad for city runners, ending on Shop now."


@pytest.fixture(scope="module")
async def xai() -> AsyncIterator[FakeXai]:
    fake = FakeXai()
    async with serve_app(fake.app()) as base_url:
        fake.base_url = base_url  # type: ignore[attr-defined]
        yield fake


@pytest.fixture(scope="module")
async def served(
    xai: FakeXai,
    tmp_path_factory: pytest.TempPathFactory,
    database_url: str | None,
    settings: Settings,
) -> AsyncIterator[Starlette]:
    app = create_app(
        Settings(
            **UNLIMITED_RATES,
            data_dir=tmp_path_factory.mktemp("xai-creative"),
            database_url=database_url,
            redis_url=settings.redis_url,
            redis_prefix=f"reelgraph-xai-creative-{uuid.uuid4().hex[:8]}",
            run_worker=True,
            xai_api_key=xai.api_key,
            xai_api_base=f"{xai.base_url}/v1",  # type: ignore[attr-defined]
            retry_backoff_seconds=0.05,
        )
    )
    async with app.router.lifespan_context(app):
        yield app


@pytest.fixture
async def client(served: Starlette) -> AsyncIterator[GraphQLClient]:
    transport = httpx.ASGITransport(app=served)
    async with httpx.AsyncClient(transport=transport, base_url="http://api") as http:
        yield GraphQLClient(http, await issue_key(served.state.runtime))


async def _campaign(client: GraphQLClient, samples: Samples) -> str:
    client_id = await client.create_client(
        f"Nimbus {uuid.uuid4().hex[:6]}",
        brandGuidelines={"tone": "bold", "colors": [{"name": "ember", "hex": "#FF5500"}]},
    )
    campaign = await client.create_campaign(client_id, "Grok writes", goal="sell shoes")
    for i in range(3):
        await client.upload_ok(samples.jpeg + bytes([i]), f"frame-{i}.jpg", campaign_id=campaign)
    return campaign


async def test_grok_reads_the_brief_and_writes_the_storyboard(
    client: GraphQLClient, served: Starlette, xai: FakeXai, samples: Samples
) -> None:
    campaign = await _campaign(client, samples)
    payload = await client.mutate(PARSE_BRIEF, {"input": {"campaignId": campaign, "text": TEXT}})
    assert payload["__typename"] == "BriefPayload", payload
    brief = payload["brief"]
    assert brief["reader"] == "xai"
    assert (brief["durationSeconds"], brief["aspectRatio"]) == (20, "9:16")
    assert xai.requests[-1]["response_format"]["json_schema"]["name"] == "brief"

    job, board = await write_storyboard(client, served, brief["id"])
    request = xai.requests[-1]
    assert request["response_format"]["json_schema"]["name"] == "storyboard"
    prompt = json.dumps(request["messages"])
    assert "#FF5500" in prompt and "frame-0.jpg" in prompt and "sell shoes" in prompt
    assert board["writer"] == "xai"
    # the fake's scenes run 22 s: fitted to the brief's 20, and the storyboard says so
    assert sum(s["durationSeconds"] for s in board["scenes"]) == board["totalSeconds"] == 20
    assert any("fitted" in note for note in board["notes"])
    assert job["params"]["storyboardId"]

    scene = board["scenes"][1]
    rewritten = await client.mutate(REGENERATE_SCENE, {"input": {
        "sceneId": scene["id"], "expectedVersion": 1, "feedback": "more rain",
    }})  # fmt: skip
    assert rewritten["__typename"] == "StoryboardPayload", rewritten
    after = rewritten["storyboard"]["scenes"]
    assert after[1]["description"].endswith("(more rain)")
    assert after[1]["durationSeconds"] == scene["durationSeconds"]
    assert [s["id"] for s in after] == [s["id"] for s in board["scenes"]]
    assert after[0] == board["scenes"][0]


async def test_a_failing_model_writes_nothing(
    client: GraphQLClient, served: Starlette, xai: FakeXai, samples: Samples
) -> None:
    campaign = await _campaign(client, samples)
    xai.mode = "server_error"
    try:
        refused = await client.mutate(
            PARSE_BRIEF, {"input": {"campaignId": campaign, "text": TEXT}}
        )
    finally:
        xai.mode = "good"
    assert refused["code"] == "WRITER_FAILED"
    assert "try again" in refused["message"]
    count = await client.execute(
        "query($id: ID!) { node(id: $id) { ... on Campaign { briefs { totalCount } } } }",
        {"id": campaign},
    )
    assert count["node"]["briefs"]["totalCount"] == 0

    payload = await client.mutate(PARSE_BRIEF, {"input": {"campaignId": campaign, "text": TEXT}})
    brief = payload["brief"]
    xai.answers["storyboard"] = json.dumps({"scenes": [{"description": "no other fields"}]})
    try:
        queued = await client.mutate(GENERATE_STORYBOARD, {"input": {"briefId": brief["id"]}})
        done = await wait_for_job(client, served, queued["job"]["id"])
    finally:
        del xai.answers["storyboard"]
    assert done["status"] == "FAILED"
    assert done["errorCode"] == "WRITING_FAILED"
    boards = await client.execute(
        "query($id: ID!) { node(id: $id) { ... on Brief { storyboards { totalCount } } } }",
        {"id": brief["id"]},
    )
    assert boards["node"]["storyboards"]["totalCount"] == 0


async def test_grok_says_which_room_each_photo_shows(
    client: GraphQLClient, served: Starlette, xai: FakeXai, samples: Samples
) -> None:
    client_id = await client.create_client(f"Agents {uuid.uuid4().hex[:6]}")
    campaign = await client.create_campaign(client_id, "Tour")
    photos = [
        (
            await client.upload_ok(
                samples.jpeg + bytes([i]), f"IMG_{i:04}.jpg", campaign_id=campaign
            )
        )["id"]
        for i in range(14)
    ]
    created = await client.mutate(CREATE_BRIEF, {"input": {
        "campaignId": campaign, "durationSeconds": 35,
    }})  # fmt: skip
    # a person says the last photo is the garden; Grok is asked about the other 13
    told = [{"assetId": p} for p in photos[:-1]] + [{"assetId": photos[-1], "room": "GARDEN"}]
    tour = {"address": "1 Quay Street", "bedrooms": 2, "photos": told}
    queued = await client.mutate(
        GENERATE_STORYBOARD, {"input": {"briefId": created["brief"]["id"], "propertyTour": tour}}
    )
    done = await wait_for_job(client, served, queued["job"]["id"])
    assert done["status"] == "SUCCEEDED", done["error"]
    request = next(
        r for r in reversed(xai.requests)
        if r["response_format"]["json_schema"]["name"] == "rooms"
    )  # fmt: skip
    assert len(xai.images) == 13, "every photo without a room was shown to the model"
    assert "There are 13 photos" in json.dumps(request["messages"])
    boards = await client.execute(STORYBOARDS, {"id": created["brief"]["id"]})
    scenes = boards["node"]["storyboards"]["nodes"][0]["scenes"]
    # the fake calls photo 0 the exterior: the walk starts outside
    assert scenes[0]["referenceAssets"][0]["id"] == photos[0]
    assert len(scenes) == 7
