"""Pair selection through xAI (loopback fake of its chat-completions API), end to end:
the model really sees the campaign's images and its answer becomes the storyboard."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import httpx
import pytest
from starlette.applications import Starlette

from gql.app import create_app
from services.settings import Settings
from tests.client import GraphQLClient
from tests.conftest import issue_key
from tests.fakes.server import serve_app
from tests.fakes.xai import FakeXai
from tests.jobs import PAIR_VIDEO, launch, wait_for_job
from tests.rates import UNLIMITED_RATES
from tests.samples import Samples


@pytest.fixture(scope="module")
async def xai() -> AsyncIterator[tuple[FakeXai, str]]:
    fake = FakeXai()
    async with serve_app(fake.app()) as base_url:
        yield fake, base_url


@pytest.fixture(scope="module")
async def served(
    xai: tuple[FakeXai, str],
    tmp_path_factory: pytest.TempPathFactory,
    database_url: str | None,
    settings: Settings,
) -> AsyncIterator[Starlette]:
    app = create_app(
        Settings(
            **UNLIMITED_RATES,
            data_dir=tmp_path_factory.mktemp("xai-app"),
            database_url=database_url,
            redis_url=settings.redis_url,
            redis_prefix=f"reelgraph-xai-{uuid.uuid4().hex[:8]}",
            run_worker=True,
            xai_api_key=xai[0].api_key,
            xai_api_base=f"{xai[1]}/v1",
            retry_backoff_seconds=0.05,
        )
    )
    async with app.router.lifespan_context(app):
        yield app


async def test_xai_chooses_the_pairs(
    served: Starlette, xai: tuple[FakeXai, str], samples: Samples
) -> None:
    fake = xai[0]
    transport = httpx.ASGITransport(app=served)
    async with httpx.AsyncClient(transport=transport, base_url="http://api") as http:
        client = GraphQLClient(http, await issue_key(served.state.runtime))
        client_id = await client.create_client(
            "Nimbus", brandGuidelines={"tone": "bold", "colors": [{"hex": "#FF5500"}]}
        )
        campaign = await client.create_campaign(client_id, "Grok picks", goal="sell shoes")
        images = [
            (await client.upload_ok(samples.jpeg + bytes([i]), f"{i}.jpg", campaign_id=campaign))[
                "id"
            ]
            for i in range(3)
        ]
        queued = await launch(
            client, PAIR_VIDEO, campaignId=campaign, numPairs=2, clipDuration=2,
            resolution="480p", requireApproval=True,
        )  # fmt: skip
        waiting = await wait_for_job(
            client, served, queued["id"], statuses={"AWAITING_APPROVAL", "FAILED"}
        )
    assert waiting["status"] == "AWAITING_APPROVAL", waiting["error"]
    assert waiting["params"]["selector"] == "xai"
    request = fake.requests[-1]
    assert request["response_format"]["type"] == "json_schema"
    assert len(fake.images) == 3, "every image was shown to the model"
    prompt = str(request["messages"])
    assert "sell shoes" in prompt and "bold" in prompt
    for pair in waiting["storyboard"]:
        assert pair["firstAsset"]["id"] in images and pair["reason"]


async def test_garbage_from_xai_fails_the_job(
    served: Starlette, xai: tuple[FakeXai, str], samples: Samples
) -> None:
    fake = xai[0]
    fake.mode = "garbage"
    try:
        transport = httpx.ASGITransport(app=served)
        async with httpx.AsyncClient(transport=transport, base_url="http://api") as http:
            client = GraphQLClient(http, await issue_key(served.state.runtime))
            campaign = await client.create_campaign(await client.create_client("G"), "Garbage")
            for i in range(2):
                await client.upload_ok(samples.jpeg + bytes([i]), f"{i}.jpg", campaign_id=campaign)
            queued = await launch(client, PAIR_VIDEO, campaignId=campaign)
            done = await wait_for_job(client, served, queued["id"])
    finally:
        fake.mode = "good"
    assert done["status"] == "FAILED"
    assert done["errorCode"] == "PAIRING_FAILED"
    assert "pair selection failed" in done["error"]
    assert done["subJobs"] == []
