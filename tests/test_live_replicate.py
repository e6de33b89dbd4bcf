"""Replicate's progress reaches subscribers: the fraction our client reads from a
prediction's logs (tqdm bars) arrives as subjob.progress events, never going back,
and null progress stays null (no invented numbers)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import httpx
import pytest
from starlette.applications import Starlette

from gql.app import create_app
from services.generation.state import PROGRESS_THROTTLE
from services.settings import Settings
from tests.client import GraphQLClient
from tests.conftest import issue_key
from tests.fakes.replicate import FakeModel, FakeReplicate, new_webhook_secret
from tests.fakes.server import serve_app
from tests.jobs import GENERATE_IMAGE, launch
from tests.rates import UNLIMITED_RATES
from tests.samples import Samples
from tests.wsclient import JOB_PROGRESS, WsClient

TOKEN = "r8_live_token"
SECRET = new_webhook_secret()
POLL_SECONDS = 1.5 * PROGRESS_THROTTLE.interval
IMAGE_MODEL = "google/nano-banana"


@pytest.fixture(scope="module")
async def fake() -> AsyncIterator[tuple[FakeReplicate, str]]:
    replicate = FakeReplicate(TOKEN, SECRET)
    async with serve_app(replicate.app) as base_url:
        yield replicate, base_url
    await replicate.aclose()


@pytest.fixture(scope="module")
async def served(
    fake: tuple[FakeReplicate, str],
    tmp_path_factory: pytest.TempPathFactory,
    database_url: str | None,
    settings: Settings,
) -> AsyncIterator[tuple[Starlette, str]]:
    app_settings = Settings(
        **UNLIMITED_RATES,
        data_dir=tmp_path_factory.mktemp("replicate-live"),
        database_url=database_url,
        redis_url=settings.redis_url,
        redis_prefix=f"reelgraph-live-rep-{uuid.uuid4().hex[:8]}",
        run_worker=True,
        generation_provider="replicate",
        replicate_api_token=TOKEN,
        replicate_api_base=f"{fake[1]}/v1",
        # polls further apart than progress ticks are coalesced (with room for a slow
        # write), so that every tick the fake's logs give is one the worker reports
        poll_initial_seconds=POLL_SECONDS,
        poll_max_seconds=POLL_SECONDS,
    )
    app = create_app(app_settings)
    async with serve_app(app, ws="websockets-sansio") as base_url:
        yield app, base_url


async def test_progress_from_replicate_logs_reaches_subscribers(
    served: tuple[Starlette, str], fake: tuple[FakeReplicate, str], samples: Samples
) -> None:
    app, base_url = served
    replicate = fake[0]
    await replicate.reset()
    replicate.add_model(
        IMAGE_MODEL, FakeModel(mode="per_poll", steps=4, files={"out.png": samples.png})
    )
    async with httpx.AsyncClient(base_url=base_url, timeout=30) as http:
        admin = GraphQLClient(http, await issue_key(app.state.runtime))
        campaign = await admin.create_campaign(await admin.create_client("Replicate live"))
        queued = await launch(admin, GENERATE_IMAGE, campaignId=campaign, prompt="A sneaker")
        async with WsClient.open(base_url, key=admin.key) as ws:
            events = await ws.until_complete(
                await ws.subscribe(JOB_PROGRESS, {"jobId": queued["id"]}), timeout=60
            )
    assert events[-1]["status"] == "succeeded"
    assert [e["seq"] for e in events] == list(range(1, len(events) + 1))
    ticks = [e["progress"] for e in events if e["type"] == "subjob.progress"]
    assert ticks, [(e["type"], e["status"], e["progress"]) for e in events]
    assert ticks == sorted(ticks) and all(0 <= p <= 1 for p in ticks), ticks
    assert {0.25, 0.5, 0.75} & set(ticks), "the tqdm fractions of the logs"
    submitted = next(e for e in events if e["status"] == "submitted")
    assert submitted["progress"] is None, "no number before the provider says one"
