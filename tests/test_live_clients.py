"""Third-party clients following real jobs run by a real worker on the local provider:
the `graphql-ws` npm client from Node (graphql-transport-ws) and aiogqlc from Python
(the legacy graphql-ws protocol). Every event arrives once, in order, ffmpeg's progress
included, and the stream completes with the job."""

from __future__ import annotations

import asyncio
import json
import shutil
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from starlette.applications import Starlette

from tests.client import GraphQLClient
from tests.fakes.server import serve_app
from tests.jobs import GENERATE_IMAGE, GENERATE_VIDEO, job, launch
from tests.live_support import eventually, live_stats
from tests.wsclient import JOB_PROGRESS, ws_url

NODE_DIR = Path(__file__).resolve().parent / "node"


@pytest.fixture(scope="module")
async def base_url(app: Starlette) -> AsyncIterator[str]:
    async with serve_app(app, ws="websockets-sansio", lifespan="off") as url:
        yield url


@pytest.fixture(scope="module")
def node_client() -> Path:
    """The Node subscriber script, its packages installed (`npm ci` in tests/node)."""
    npm = shutil.which("npm")
    assert shutil.which("node") and npm, "node and npm are needed for the graphql-ws client"
    if not (NODE_DIR / "node_modules" / "graphql-ws").is_dir():
        subprocess.run(
            [npm, "ci", "--no-audit", "--no-fund", "--loglevel=error"], cwd=NODE_DIR, check=True
        )
    return NODE_DIR / "subscribe.mjs"


@pytest.fixture
async def campaign(tenant: GraphQLClient) -> str:
    assert tenant.client_id
    return await tenant.create_campaign(tenant.client_id, "Clients", budgetUsd="50")


def assert_whole_log(events: list[dict[str, Any]], last_seq: int) -> None:
    assert [e["seq"] for e in events] == list(range(1, last_seq + 1))
    final = events[-1]
    assert (final["type"], final["status"]) == ("job.status", "succeeded")
    assert final["outputAssetId"]


async def test_node_graphql_ws_client_follows_a_video_job(
    base_url: str, app: Starlette, tenant: GraphQLClient, campaign: str, node_client: Path
) -> None:
    queued = await launch(
        tenant, GENERATE_VIDEO, campaignId=campaign, prompt="A sneaker on a track", duration=3,
        resolution="480p",
    )  # fmt: skip
    before = live_stats(app).subscribers
    node = await asyncio.create_subprocess_exec(
        "node", str(node_client), ws_url(base_url), str(tenant.key), queued["id"], campaign,
        stdout=asyncio.subprocess.PIPE,
    )  # fmt: skip
    lines: list[dict[str, Any]] = []
    assert node.stdout is not None
    async with asyncio.timeout(120):
        async for raw in node.stdout:
            lines.append(json.loads(raw))
        assert await node.wait() == 0
    assert not [line for line in lines if "error" in line or line.get("errors")], lines
    job_events = [line["event"] for line in lines if line["op"] == "job" and "event" in line]
    campaign_events = [
        line["event"] for line in lines if line["op"] == "campaign" and "event" in line
    ]
    assert {"op": "job", "complete": True} in lines
    done = await job(tenant, queued["id"])
    assert done["status"] == "SUCCEEDED"
    assert_whole_log(job_events, done["lastSeq"])
    for index in (0, 1):  # ffmpeg's progress reaches subscribers, never going backwards
        ticks = [
            e["progress"]
            for e in job_events
            if e["type"] == "subjob.progress" and e["subJobIndex"] == index
        ]
        assert ticks == sorted(ticks) and all(0 < p <= 1 for p in ticks), ticks
    video_ticks = [e["progress"] for e in job_events if e["type"] == "subjob.progress"]
    assert any(0 < p < 1 for p in video_ticks), video_ticks
    statuses = [(e["subJobIndex"], e["status"]) for e in job_events if e["type"] == "subjob.status"]
    assert (0, "succeeded") in statuses and (1, "succeeded") in statuses
    # The campaign stream joined mid-job: a contiguous tail of the same log, each once.
    seqs = [e["seq"] for e in campaign_events if e["jobId"] == queued["id"]]
    assert seqs and seqs == list(range(seqs[0], seqs[0] + len(seqs))), seqs
    await eventually(lambda: live_stats(app).subscribers == before, what="node's subscriptions end")


async def test_aiogqlc_legacy_client_follows_image_jobs_with_an_eta(
    base_url: str, tenant: GraphQLClient, campaign: str
) -> None:
    aiohttp = pytest.importorskip("aiohttp", reason="install the test extras (aiogqlc)")
    aiogqlc = pytest.importorskip("aiogqlc", reason="install the test extras (aiogqlc)")

    async def follow(job_id: str) -> list[dict[str, Any]]:
        async with aiohttp.ClientSession() as session:
            client = aiogqlc.GraphQLClient(ws_url(base_url), session=session)
            params = {"Authorization": f"Bearer {tenant.key}"}
            async with client.connect(params=params) as connection:
                return [
                    payload["data"]["jobProgress"]
                    async for payload in connection.subscribe(JOB_PROGRESS, {"jobId": job_id})
                ]

    first = await launch(tenant, GENERATE_IMAGE, campaignId=campaign, prompt="A red sneaker")
    first_events = await asyncio.wait_for(follow(first["id"]), 120)
    assert_whole_log(first_events, (await job(tenant, first["id"]))["lastSeq"])
    second = await launch(tenant, GENERATE_IMAGE, campaignId=campaign, prompt="A blue sneaker")
    events = await asyncio.wait_for(follow(second["id"]), 120)
    assert_whole_log(events, (await job(tenant, second["id"]))["lastSeq"])
    running = [e for e in events if e["status"] in ("submitted", "processing", "downloading")]
    assert running, events
    for event in running:  # the model ran before: it has an expected run time
        assert event["expectedSeconds"] is not None and event["expectedSeconds"] > 0
        # A countdown, which may pass the expected run time when this run is slower than
        # the first (a store slower than the render, say): tests/test_eta.py pins that.
        assert event["etaSeconds"] >= 0
    done = [e for e in events if e["type"] == "subjob.status" and e["status"] == "succeeded"]
    assert done and done[0]["etaSeconds"] is None and done[0]["costUsd"]
