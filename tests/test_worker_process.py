"""Production shape: the API enqueues, separate `reelgraph worker` processes run the jobs.
A worker killed mid-job leaves nothing stuck: the next one resumes the stored prediction
and never pays for a second one."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from starlette.applications import Starlette

from services.settings import Settings
from tests.client import GraphQLClient
from tests.conftest import issue_key
from tests.fakes.replicate import FakeModel, FakeReplicate
from tests.fakes.server import serve_app
from tests.jobs import GENERATE_VIDEO, job, launch, wait_for_job
from tests.rates import UNLIMITED_RATES
from tests.samples import Samples
from tests.worker_processes import api_beside_workers, start_worker

TOKEN = "r8_worker_token"
VIDEO_MODEL = "bytedance/seedance-1-lite"


@pytest.fixture
async def fake(samples: Samples) -> AsyncIterator[tuple[FakeReplicate, str]]:
    replicate = FakeReplicate(TOKEN)
    replicate.add_model(VIDEO_MODEL, FakeModel(mode="manual", files={"o.mp4": samples.mp4}))
    async with serve_app(replicate.app) as base_url:
        yield replicate, base_url
    await replicate.aclose()


@pytest.fixture
async def api(
    tmp_path: Path, database_url: str | None, settings: Settings, fake: tuple[FakeReplicate, str]
) -> AsyncIterator[tuple[Starlette, dict[str, str]]]:
    app_settings = Settings(
        **UNLIMITED_RATES,
        data_dir=tmp_path / "data",
        database_url=database_url,
        redis_url=settings.redis_url,
        redis_prefix=f"reelgraph-wp-{uuid.uuid4().hex[:8]}",
        run_worker=False,
        generation_provider="replicate",
        replicate_api_token=TOKEN,
        replicate_api_base=f"{fake[1]}/v1",
    )
    async with api_beside_workers(app_settings, settings, database_url) as (app, env):
        env["REELGRAPH_RECONCILE_INTERVAL_SECONDS"] = "1"
        env["REELGRAPH_RECONCILE_STALE_SECONDS"] = "2"
        yield app, env


async def test_killed_worker_resumes_without_paying_twice(
    api: tuple[Starlette, dict[str, str]],
    fake: tuple[FakeReplicate, str],
    workers: list[subprocess.Popen[bytes]],
    samples: Samples,
) -> None:
    app, env = api
    replicate = fake[0]
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://api") as http:
        client = GraphQLClient(http, await issue_key(app.state.runtime))
        campaign = await client.create_campaign(await client.create_client("Ops"), "Resume")
        image = await client.upload_ok(samples.png, "start.png", campaign_id=campaign)
        queued = await launch(client, GENERATE_VIDEO, campaignId=campaign, imageAssetId=image["id"])

        start_worker(env, workers)
        await replicate.wait_for(lambda: len(replicate.predictions) == 1, within=60)
        (prediction_id,) = replicate.predictions
        poll_path = f"/v1/predictions/{prediction_id}"
        await replicate.wait_for(lambda: len(replicate.calls("GET", poll_path)) >= 2, within=30)
        assert (await job(client, queued["id"]))["status"] == "RUNNING"

        workers[0].send_signal(signal.SIGKILL)
        workers[0].wait(timeout=30)
        replicate.finish(prediction_id, "succeeded")
        start_worker(env, workers)

        done = await wait_for_job(client, app, queued["id"], timeout=120)
    assert done["status"] == "SUCCEEDED", (done["error"], done["subJobs"])
    assert len(replicate.calls("POST", f"/v1/models/{VIDEO_MODEL}/predictions")) == 1
    assert done["subJobs"][0]["attempts"] == 1
    assert done["outputAsset"]["kind"] == "VIDEO"


def test_worker_needs_redis_url(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "REELGRAPH_REDIS_URL")}
    result = subprocess.run(
        [sys.executable, "-c", "from gql.cli import main; main()", "worker"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode != 0
    assert "REDIS_URL" in result.stderr
