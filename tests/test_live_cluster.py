"""Several API processes behind one Redis: each delivers every event to its own
subscribers; killing one does not disturb the others, and its clients resume on a
survivor with `afterSeq`; a killed Redis connection is recovered without a loss."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

import pytest
from starlette.applications import Starlette

from db.models import JobStatus
from gql.app import create_app
from gql.ids import encode
from services.runtime import Runtime
from services.settings import Settings
from tests.client import GraphQLClient
from tests.fakes.server import serve_app
from tests.live_support import api_process, eventually, live_stats, peer_settings
from tests.scripted import emit, scripted_job
from tests.wsclient import JOB_PROGRESS, LEGACY_WS, TRANSPORT_WS, WsClient


@pytest.fixture(scope="module")
async def base_url(app: Starlette) -> AsyncIterator[str]:
    async with serve_app(app, ws="websockets-sansio", lifespan="off") as url:
        yield url


@pytest.fixture
async def job(app: Starlette, runtime: Runtime, tenant: GraphQLClient) -> tuple[str, str]:
    """(campaign global ID, job global ID) of a fresh running scripted job."""
    assert tenant.client_id
    campaign = await tenant.create_campaign(tenant.client_id, "Cluster")
    return campaign, encode("Job", await scripted_job(runtime, campaign))


def _uuid(gid: str) -> object:
    from tests.client import decode_gid

    return decode_gid(gid)


async def test_two_processes_on_one_redis_both_deliver_everything(
    base_url: str, app: Starlette, settings: Settings, runtime: Runtime, tenant: GraphQLClient,
    job: tuple[str, str],
) -> None:  # fmt: skip
    broker = app.state.broker
    job_gid = job[1]
    peer = create_app(peer_settings(app, settings))
    async with (
        serve_app(peer, ws="websockets-sansio") as peer_url,
        contextlib.AsyncExitStack() as s,
    ):
        watchers = []
        for url in (base_url, peer_url):
            for protocol in (TRANSPORT_WS, LEGACY_WS):
                ws = await s.enter_async_context(
                    WsClient.open(url, protocol=protocol, key=tenant.key)
                )
                watchers.append((ws, await ws.subscribe(JOB_PROGRESS, {"jobId": job_gid})))
        await eventually(
            lambda: live_stats(peer).subscribers == 2 and live_stats(app).subscribers >= 2
        )
        channel = broker.channel("job", _uuid(job_gid))
        numsub = await broker.pool.execute_command("PUBSUB", "NUMSUB", channel)
        assert int(numsub[1]) == 2, "one Redis subscription per process, not per socket"
        for i in range(5):
            await emit(runtime, broker, _uuid(job_gid), progress=i / 5)  # type: ignore[arg-type]
        await emit(runtime, broker, _uuid(job_gid), status=JobStatus.SUCCEEDED)  # type: ignore[arg-type]
        for ws, op in watchers:
            assert [e["seq"] for e in await ws.until_complete(op)] == [1, 2, 3, 4, 5, 6]


async def test_a_killed_api_process_leaves_the_others_delivering(
    base_url: str, app: Starlette, settings: Settings, runtime: Runtime, tenant: GraphQLClient,
    job: tuple[str, str],
) -> None:  # fmt: skip
    broker = app.state.broker
    job_id = _uuid(job[1])
    variables = {"jobId": job[1]}
    async with (
        api_process(peer_settings(app, settings)) as (proc, doomed_url),
        WsClient.open(base_url, key=tenant.key) as survivor,
        WsClient.open(doomed_url, key=tenant.key) as orphan,
    ):
        kept = await survivor.subscribe(JOB_PROGRESS, variables)
        lost = await orphan.subscribe(JOB_PROGRESS, variables)
        for i in range(3):
            await emit(runtime, broker, job_id, progress=i / 10)  # type: ignore[arg-type]
        before = [await orphan.event(lost) for _ in range(3)]
        proc.kill()  # SIGKILL: no goodbye to anyone
        assert await orphan.closed() == (None, None)  # no close frame: the process is gone
        for i in range(3, 6):
            await emit(runtime, broker, job_id, progress=i / 10)  # type: ignore[arg-type]
        async with WsClient.open(base_url, protocol=LEGACY_WS, key=tenant.key) as resumed:
            again = await resumed.subscribe(
                JOB_PROGRESS, {**variables, "afterSeq": before[-1]["seq"]}
            )
            missed = [await resumed.event(again) for _ in range(3)]
            await emit(runtime, broker, job_id, status=JobStatus.SUCCEEDED)  # type: ignore[arg-type]
            tail = await resumed.until_complete(again)
        everything = await survivor.until_complete(kept)
    assert [e["seq"] for e in before] == [1, 2, 3]
    assert [e["seq"] for e in missed + tail] == [4, 5, 6, 7]
    assert [e["seq"] for e in everything] == [1, 2, 3, 4, 5, 6, 7]


async def kill_hub_connection(app: Starlette) -> int:
    """CLIENT KILL the hub's pub/sub connection, found by its client name."""
    pool = app.state.broker.pool
    name = app.state.live.hub.name
    listing = await pool.execute_command("CLIENT", "LIST")
    text = listing.decode() if isinstance(listing, bytes) else str(listing)
    ids = [
        dict(field.split("=", 1) for field in line.split() if "=" in field)["id"]
        for line in text.splitlines()
        if f" name={name} " in f" {line} "
    ]
    assert len(ids) == 1, text
    return int(await pool.execute_command("CLIENT", "KILL", "ID", ids[0]))


async def test_a_killed_redis_connection_loses_nothing(
    base_url: str, app: Starlette, runtime: Runtime, tenant: GraphQLClient, job: tuple[str, str]
) -> None:
    broker = app.state.broker
    job_id = _uuid(job[1])
    reconnects = live_stats(app).reconnects
    async with (
        WsClient.open(base_url, key=tenant.key) as a,
        WsClient.open(base_url, protocol=LEGACY_WS, key=tenant.key) as b,
    ):
        ops = [(a, await a.subscribe(JOB_PROGRESS, {"jobId": job[1]})),
               (b, await b.subscribe(JOB_PROGRESS, {"jobId": job[1]}))]  # fmt: skip
        await emit(runtime, broker, job_id, progress=0.1)  # type: ignore[arg-type]
        for ws, op in ops:
            assert (await ws.event(op))["seq"] == 1
        assert await kill_hub_connection(app) == 1
        # While the hub reconnects these are published to nobody (in this process).
        for i in range(2, 6):
            await emit(runtime, broker, job_id, progress=i / 10)  # type: ignore[arg-type]
        await emit(runtime, broker, job_id, status=JobStatus.SUCCEEDED)  # type: ignore[arg-type]
        for ws, op in ops:
            assert [e["seq"] for e in await ws.until_complete(op)] == [2, 3, 4, 5, 6]
    assert live_stats(app).reconnects == reconnects + 1
    assert live_stats(app).connected
