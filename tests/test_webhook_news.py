"""Replicate webhooks in the production shape (an API process, `reelgraph worker`
processes): news of a running prediction is written by the API itself, at once, with
no worker; a prediction that ended is handed to a worker, which downloads its output."""

from __future__ import annotations

import asyncio
import json
import subprocess
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from arq.constants import job_key_prefix
from arq.jobs import Job as ArqJob
from arq.jobs import JobStatus as ArqStatus
from starlette.applications import Starlette

from services.settings import Settings
from tests.client import GraphQLClient, decode_gid
from tests.conftest import issue_key
from tests.fakes.replicate import FakeModel, FakeReplicate, new_webhook_secret, sign_webhook
from tests.fakes.server import serve_app
from tests.jobs import GENERATE_VIDEO, launch, wait_for_job
from tests.rates import UNLIMITED_RATES
from tests.samples import Samples
from tests.worker_processes import api_beside_workers, start_worker

TOKEN = "r8_news_token"
SECRET = new_webhook_secret()
VIDEO_MODEL = "bytedance/seedance-1-lite"

JOB_WITH_EVENTS = """
query($id: ID!) { node(id: $id) { ... on Job {
  status
  subJobs { id status progress attempts outputAsset { kind } }
  events { seq type status progress subJobId }
} } }"""


@pytest.fixture
async def fake(samples: Samples) -> AsyncIterator[tuple[FakeReplicate, str]]:
    replicate = FakeReplicate(TOKEN, SECRET)
    replicate.add_model(
        VIDEO_MODEL, FakeModel(mode="manual", steps=10, files={"o.mp4": samples.mp4})
    )
    async with serve_app(replicate.app) as base_url:
        yield replicate, base_url
    await replicate.aclose()


@pytest.fixture
async def api(
    tmp_path: Path, database_url: str | None, settings: Settings, fake: tuple[FakeReplicate, str]
) -> AsyncIterator[tuple[Starlette, dict[str, str]]]:
    """The API (no worker inside) and the environment of a `reelgraph worker` beside it."""
    app_settings = Settings(
        **UNLIMITED_RATES,
        data_dir=tmp_path / "data",
        database_url=database_url,
        redis_url=settings.redis_url,
        redis_prefix=f"reelgraph-news-{uuid.uuid4().hex[:8]}",
        run_worker=False,
        generation_provider="replicate",
        replicate_api_token=TOKEN,
        replicate_api_base=f"{fake[1]}/v1",
        replicate_webhook_secret=SECRET,
    )
    async with api_beside_workers(app_settings, settings, database_url) as served:
        yield served


async def stop(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    await asyncio.to_thread(proc.wait, 30)


async def deliver(http: httpx.AsyncClient, body: dict[str, Any]) -> tuple[str, httpx.Response]:
    """POST `body` as Replicate would: signed, with a webhook-id of its own."""
    raw = json.dumps(body).encode()
    msg_id = f"msg_{uuid.uuid4().hex}"
    headers = sign_webhook(SECRET, msg_id, int(time.time()), raw)
    response = await http.post(
        "/webhooks/replicate",
        content=raw,
        headers={**headers, "content-type": "application/json"},
    )
    return msg_id, response


async def as_replicate_says(base_url: str, prediction_id: str) -> dict[str, Any]:
    """The prediction's JSON from the fake's API: a webhook carries the same object."""
    async with httpx.AsyncClient(base_url=base_url) as http:
        response = await http.get(
            f"/v1/predictions/{prediction_id}", headers={"Authorization": f"Bearer {TOKEN}"}
        )
    response.raise_for_status()
    body: dict[str, Any] = response.json()
    return body


async def test_running_news_is_applied_by_the_api_and_an_ending_waits_for_a_worker(
    api: tuple[Starlette, dict[str, str]],
    fake: tuple[FakeReplicate, str],
    workers: list[subprocess.Popen[bytes]],
    samples: Samples,
) -> None:
    app, env = api
    replicate, fake_url = fake
    broker = app.state.broker
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://api") as http:
        client = GraphQLClient(http, await issue_key(app.state.runtime))
        campaign = await client.create_campaign(await client.create_client("News"), "Hooks")
        image = await client.upload_ok(samples.png, "start.png", campaign_id=campaign)
        queued = await launch(client, GENERATE_VIDEO, campaignId=campaign, imageAssetId=image["id"])

        # A worker creates the prediction and stores its id; its first poll comes after
        # that commit. Then no worker runs.
        start_worker(env, workers)
        await replicate.wait_for(lambda: len(replicate.predictions) == 1, within=60)
        (prediction_id,) = replicate.predictions
        poll_path = f"/v1/predictions/{prediction_id}"
        await replicate.wait_for(lambda: len(replicate.calls("GET", poll_path)) >= 1, within=30)
        await stop(workers[0])
        before = (await client.execute(JOB_WITH_EVENTS, {"id": queued["id"]}))["node"]
        assert before["status"] == "RUNNING"
        (sub,) = before["subJobs"]
        assert (sub["status"], sub["progress"]) == ("SUBMITTED", None)
        sub_id = decode_gid(sub["id"])
        last_seq = max(e["seq"] for e in before["events"])

        # The model starts and gets halfway: " 50%|#####     | 5/10 ..." is its last line.
        for _ in range(6):
            replicate.advance(prediction_id)
        running = await as_replicate_says(fake_url, prediction_id)
        assert running["status"] == "processing"
        assert " 50%|#####     | 5/10" in running["logs"].splitlines()[-1]
        delivery, response = await deliver(http, running)
        assert (response.status_code, response.json()) == (200, {"status": "accepted"})
        assert not await broker.pool.exists(f"{job_key_prefix}hook:{sub_id}:{delivery}")

        now = (await client.execute(JOB_WITH_EVENTS, {"id": queued["id"]}))["node"]
        assert workers[0].poll() is not None, "no worker ran meanwhile"
        assert now["status"] == "RUNNING"
        (sub,) = now["subJobs"]
        assert (sub["status"], sub["progress"]) == ("PROCESSING", 0.5)
        news = [
            (e["type"], e["status"], e["progress"], e["subJobId"])
            for e in now["events"]
            if e["seq"] > last_seq
        ]
        assert news == [
            ("subjob.status", "processing", None, sub["id"]),
            ("subjob.progress", "processing", 0.5, sub["id"]),
        ]

        # It ends: the API only hands that to a worker, and none runs yet.
        replicate.finish(prediction_id, "succeeded")
        ended = await as_replicate_says(fake_url, prediction_id)
        assert ended["status"] == "succeeded" and ended["output"]
        delivery, response = await deliver(http, ended)
        assert (response.status_code, response.json()) == (200, {"status": "accepted"})
        hook_task = f"hook:{sub_id}:{delivery}"
        assert await broker.pool.zscore(broker.queue_name, hook_task) is not None
        waiting = (await client.execute(JOB_WITH_EVENTS, {"id": queued["id"]}))["node"]
        assert waiting["status"] == "RUNNING"
        (sub,) = waiting["subJobs"]
        assert (sub["status"], sub["progress"]) == ("PROCESSING", 0.5)
        assert max(e["seq"] for e in waiting["events"]) == max(e["seq"] for e in now["events"])

        start_worker(env, workers)
        done = await wait_for_job(client, app, queued["id"], timeout=120)
        assert done["status"] == "SUCCEEDED", (done["error"], done["subJobs"])
        (sub,) = done["subJobs"]
        assert (sub["status"], sub["progress"], sub["attempts"]) == ("SUCCEEDED", 1.0, 1)
        assert done["outputAsset"]["kind"] == "VIDEO"
        # A worker takes the hook task (the poll it also resumed may have finished the job
        # first; arq keeps a task in its queue until the task ends).
        hook = ArqJob(hook_task, broker.pool, _queue_name=broker.queue_name)
        async with asyncio.timeout(30):
            while await hook.status() not in (ArqStatus.complete, ArqStatus.not_found):  # noqa: ASYNC110
                await asyncio.sleep(0.02)
        assert await broker.pool.zscore(broker.queue_name, hook_task) is None, "a worker took it"
    assert len(replicate.calls("POST", f"/v1/models/{VIDEO_MODEL}/predictions")) == 1
