"""`reelgraph watch` and `reelgraph demo` as subprocesses: `watch` against the served app
while a real job runs on the in-process worker (and against no server at all), `demo` end
to end on its own data dir, stopping its server or serving on until Ctrl-C."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import socket
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from starlette.applications import Starlette

from services.media.probe import probe
from tests.client import GraphQLClient
from tests.fakes.relay import cuttable
from tests.fakes.server import serve_app
from tests.jobs import APPROVE, CANCEL, PAIR_VIDEO, job, launch
from tests.samples import Samples

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
async def base_url(app: Starlette) -> AsyncIterator[str]:
    async with serve_app(app, ws="websockets-sansio", lifespan="off") as url:
        yield url


@pytest.fixture
async def campaign(tenant: GraphQLClient, samples: Samples) -> str:
    assert tenant.client_id
    campaign = await tenant.create_campaign(tenant.client_id, "Watch", budgetUsd="5")
    for i in range(4):
        content = samples.png if i % 2 == 0 else samples.jpeg
        await tenant.upload_ok(content + bytes([i]), f"img{i}.png", campaign_id=campaign)
    return campaign


def _env(**extra: str) -> dict[str, str]:
    """The test's environment less anything that points the CLI at another setup."""
    drop = ("REELGRAPH_", "DATABASE_URL", "REDIS_URL", "GENERATION_PROVIDER")
    env = {k: v for k, v in os.environ.items() if not k.startswith(drop)}
    return {**env, "COLUMNS": "200", **extra}


async def cli(*args: str, env: dict[str, str] | None = None) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable, "-m", "gql.cli", *args,
        cwd=ROOT, env=env or _env(), stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip


async def finish(process: asyncio.subprocess.Process, timeout: float = 120) -> tuple[int, str]:
    async with asyncio.timeout(timeout):
        out, _ = await process.communicate()
    assert process.returncode is not None
    return process.returncode, out.decode()


async def read_until(process: asyncio.subprocess.Process, pattern: str) -> str:
    """Lines of the process's output up to the first that matches `pattern`."""
    assert process.stdout is not None
    seen = ""
    async with asyncio.timeout(60):
        while not re.search(pattern, seen):
            line = await process.stdout.readline()
            assert line, f"output ended before {pattern!r}:\n{seen}"
            seen += line.decode()
    return seen


def last_line(output: str, label: str) -> str:
    lines = [line for line in output.splitlines() if line.startswith(f"{label}: ")]
    assert lines, output
    return lines[-1].removeprefix(f"{label}: ").strip()


async def test_watch_follows_a_pair_video_to_its_url(
    base_url: str, tenant: GraphQLClient, campaign: str
) -> None:
    # Held at the storyboard until `watch` is on, so it sees the whole run live.
    queued = await launch(
        tenant, PAIR_VIDEO, campaignId=campaign, numPairs=2, clipDuration=2,
        resolution="480p", requireApproval=True,
    )  # fmt: skip
    # the key from the environment, the URL as an option
    process = await cli(
        "watch", queued["id"], "--url", base_url, env=_env(REELGRAPH_API_KEY=str(tenant.key))
    )
    head = await read_until(process, r"job \S+: pair_video")
    approved = await tenant.mutate(APPROVE, {"input": {"jobId": queued["id"]}})
    assert approved["__typename"] == "JobPayload", approved
    code, rest = await finish(process)
    output = head + rest
    assert code == 0, output
    done = await job(tenant, queued["id"])
    assert done["status"] == "SUCCEEDED"
    for sub in done["subJobs"]:
        assert sub["id"] in output, output  # each sub-job drawn
        assert re.search(rf"#{sub['index']} seedance-1-lite succeeded \(\$0\.036\)", output)
    assert "job running" in output and "job combining" in output
    assert "job succeeded ($0.072)" in output
    assert "succeeded: cost $0.072 (estimate $0.072)" in output
    url = last_line(output, "video")
    assert url.startswith(base_url)
    assert httpx.URL(url).path == httpx.URL(done["outputAsset"]["url"]).path
    assert output.rstrip().endswith(url)
    async with httpx.AsyncClient() as http:
        response = await http.get(url)
    assert response.status_code == 200
    assert response.headers["content-type"] == "video/mp4"


async def test_watch_resumes_after_a_dropped_connection(
    base_url: str, tenant: GraphQLClient, campaign: str
) -> None:
    queued = await launch(
        tenant, PAIR_VIDEO, campaignId=campaign, numPairs=2, clipDuration=2,
        resolution="480p", requireApproval=True,
    )  # fmt: skip
    async with cuttable(base_url) as (relay_url, cut):
        process = await cli("watch", queued["id"], "--url", relay_url, "--key", str(tenant.key))
        head = await read_until(process, r"live: following events after \d+")
        assert cut() >= 2  # the WebSocket, both ways
        # The job runs while the watcher is away: it must get those events on its return.
        await tenant.mutate(APPROVE, {"input": {"jobId": queued["id"]}})
        code, rest = await finish(process)
    output = head + rest
    assert code == 0, output
    assert "reconnecting, resuming after event" in output
    assert output.count("live: following events after") == 2, output
    for line in ("job running", "job combining", "job succeeded ($0.072)"):
        assert output.count(line) == 1, output  # nothing lost, nothing twice
    assert output.count("seedance-1-lite succeeded ($0.036)") == 2, output
    assert last_line(output, "video").startswith(relay_url)


async def test_watch_exits_1_when_the_job_is_canceled(
    base_url: str, tenant: GraphQLClient, campaign: str
) -> None:
    queued = await launch(
        tenant, PAIR_VIDEO, campaignId=campaign, numPairs=2, clipDuration=2,
        resolution="480p", requireApproval=True,
    )  # fmt: skip
    process = await cli("watch", queued["id"], "--url", base_url, "--key", str(tenant.key))
    head = await read_until(process, r"job \S+: pair_video")
    payload = await tenant.mutate(CANCEL, {"input": {"jobId": queued["id"]}})
    assert payload["__typename"] == "JobPayload"
    code, rest = await finish(process)
    output = head + rest
    assert code == 1, output
    assert "job canceled" in output
    assert "canceled: cost $0.000" in output
    assert "video:" not in output


async def test_watch_refuses_a_bad_key_or_job(base_url: str, tenant: GraphQLClient) -> None:
    code, output = await finish(await cli("watch", "Sm9iOng=", "--url", base_url, "--key", "nope"))
    assert code == 2 and "error:" in output and "API key" in output, output
    code, output = await finish(
        await cli("watch", "Sm9iOng=", "--url", base_url, "--key", str(tenant.key))
    )
    assert code == 2 and "no such job: Sm9iOng=" in output, output
    code, output = await finish(await cli("watch", "x", "--url", base_url, env=_env()))
    assert code == 2 and "REELGRAPH_API_KEY" in output, output


async def test_watch_names_the_url_it_cannot_reach() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))  # bound and never listening: connections are refused
        url = f"http://127.0.0.1:{sock.getsockname()[1]}"
        code, output = await finish(await cli("watch", "Sm9iOng=", "--url", url, "--key", "k"))
    assert code == 2, output
    assert f"error: cannot reach a reelgraph server at {url} (" in output, output
    assert "`reelgraph serve`" in output and "--url or REELGRAPH_URL" in output, output
    assert "Traceback" not in output


async def test_demo_runs_the_whole_loop_offline(tmp_path: Path) -> None:
    data_dir = tmp_path / "demo"
    code, output = await finish(await cli("demo", "--data-dir", str(data_dir)), timeout=240)
    assert code == 0, output
    assert "seeded client, campaign" in output
    assert len(re.findall(r"^sub-job #\d seedance-1-lite: ", output, re.M)) == 2, output
    assert "succeeded: cost $0.072 (estimate $0.072)" in output
    video = Path(last_line(output, "file"))
    assert video.is_file() and video.is_relative_to(data_dir.resolve())
    info = await probe(video)
    assert info.duration_seconds is not None
    assert abs(info.duration_seconds - (2 * 2 - 0.5)) <= 1 / 24 + 1e-3, info
    assert (info.width, info.height) == (852, 480), info  # 16:9 at 480p, even width
    # The server stops with the demo, which says so and links to nothing it no longer serves.
    base = last_line(output, "reelgraph demo").removeprefix("serving on ").split()[0]
    assert base.startswith("http://127.0.0.1:"), output
    stopped = output.index("The demo's server has stopped.")
    assert "video:" not in output and "http://" not in output[output.index("\n") :], output
    assert f"--data-dir {data_dir.resolve()}" in output[stopped:], output
    async with httpx.AsyncClient() as http:
        with pytest.raises(httpx.ConnectError):
            await http.get(f"{base}/healthz")


def _listening_port() -> socket.socket:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen()
    return sock


async def test_demo_keeps_serving_on_its_port_until_ctrl_c(tmp_path: Path) -> None:
    with _listening_port() as taken:  # a port in use: refused before any work
        port = taken.getsockname()[1]
        code, output = await finish(
            await cli("demo", "--data-dir", str(tmp_path), "--port", str(port))
        )
    assert code == 2, output
    assert f"error: cannot listen on 127.0.0.1:{port} (" in output, output

    process = await cli("demo", "--data-dir", str(tmp_path), "--port", str(port), "--keep-serving")
    try:
        output = await read_until(process, r"serving on \S+ until Ctrl-C")
        base = f"http://127.0.0.1:{port}"
        assert f"reelgraph demo: serving on {base} (" in output, output
        key = last_line(output, "admin key")
        links = [
            last_line(output, label).split()[0] for label in ("video", "GraphiQL", "dashboard")
        ]
        assert links[1:] == [f"{base}/graphql", f"{base}/dashboard"], output
        async with httpx.AsyncClient() as http:
            video = await http.get(links[0])
            assert (video.status_code, video.headers["content-type"]) == (200, "video/mp4")
            graphiql = await http.get(links[1], headers={"Accept": "text/html"})
            assert "graphiql" in graphiql.text.lower()
            assert (await http.get(links[2])).status_code == 200
            viewer = await http.post(
                links[1],
                json={"query": "{ viewer { role } }"},
                headers={"Authorization": f"Bearer {key}"},
            )
            assert viewer.json() == {"data": {"viewer": {"role": "ADMIN"}}}
        process.send_signal(signal.SIGINT)
        code, rest = await finish(process)
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    assert code == 130, output + rest
    assert "stopped" in rest
    async with httpx.AsyncClient() as http:
        with pytest.raises(httpx.ConnectError):
            await http.get(f"{base}/healthz")
