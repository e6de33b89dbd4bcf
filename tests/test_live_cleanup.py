"""A WebSocket closed by the client, dropped by the network or closed by a server
shutdown leaves no task, generator, hub subscriber or Redis subscription behind."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

import pytest
from starlette.applications import Starlette

from gql.app import create_app
from gql.ids import encode
from services.runtime import Runtime
from services.settings import Settings
from tests.client import GraphQLClient
from tests.fakes.server import serve_app
from tests.live_support import eventually, live_stats, peer_settings, socket_tasks
from tests.scripted import emit, scripted_job
from tests.wsclient import CAMPAIGN_ACTIVITY, JOB_PROGRESS, LEGACY_WS, TRANSPORT_WS, WsClient


@pytest.fixture(scope="module")
async def base_url(app: Starlette) -> AsyncIterator[str]:
    async with serve_app(app, ws="websockets-sansio", lifespan="off") as url:
        yield url


@pytest.fixture
async def watched(app: Starlette, runtime: Runtime, tenant: GraphQLClient) -> tuple[str, str]:
    """(campaign, job) global IDs of a running scripted job."""
    assert tenant.client_id
    campaign = await tenant.create_campaign(tenant.client_id, "Leaks")
    job_id = await scripted_job(runtime, campaign)
    await emit(runtime, app.state.broker, job_id, progress=0.1)
    return campaign, encode("Job", job_id)


async def redis_subscribers(app: Starlette, *channels: str) -> int:
    reply = await app.state.broker.pool.execute_command("PUBSUB", "NUMSUB", *channels)
    return sum(int(n) for n in reply[1::2])


def channels_of(app: Starlette, campaign: str, job: str) -> list[str]:
    from tests.client import decode_gid

    broker = app.state.broker
    return [
        broker.channel("job", decode_gid(job)),
        broker.channel("campaign", decode_gid(campaign)),
    ]


async def open_watchers(
    stack: contextlib.AsyncExitStack, base_url: str, key: str | None, campaign: str, job: str
) -> list[WsClient]:
    clients = []
    for protocol in (TRANSPORT_WS, LEGACY_WS):
        for _ in range(3):
            ws = await stack.enter_async_context(
                WsClient.open(base_url, protocol=protocol, key=key)
            )
            op = await ws.subscribe(JOB_PROGRESS, {"jobId": job})
            assert (await ws.event(op))["seq"] == 1
            await ws.subscribe(CAMPAIGN_ACTIVITY, {"campaignId": campaign})
            clients.append(ws)
    return clients


async def assert_nothing_left(app: Starlette, channels: list[str]) -> None:
    await eventually(lambda: not socket_tasks(), what=f"socket tasks left: {socket_tasks()}")
    await eventually(
        lambda: (
            (live_stats(app).subscribers, live_stats(app).channels, live_stats(app).lanes)
            == (0, 0, 0)
        ),
        what=f"hub still holds {live_stats(app)}",
    )
    assert await redis_subscribers(app, *channels) == 0


@pytest.mark.parametrize("how", ["close", "drop", "stop"])
async def test_a_closed_socket_leaves_nothing_behind(
    how: str, base_url: str, app: Starlette, tenant: GraphQLClient, watched: tuple[str, str]
) -> None:
    campaign, job = watched
    channels = channels_of(app, campaign, job)
    async with contextlib.AsyncExitStack() as stack:
        clients = await open_watchers(stack, base_url, tenant.key, campaign, job)
        await eventually(lambda: live_stats(app).subscribers == 12, what=str(live_stats(app)))
        assert live_stats(app).channels == 2, "one Redis subscription per channel per process"
        assert await redis_subscribers(app, *channels) == 2
        assert live_stats(app).lanes == 2, "one lane per channel and cohort"
        assert live_stats(app).tasks == 1 + 2, "the hub's reader and the lanes"
        for ws in clients:
            if how == "drop":
                ws.drop()
            elif how == "stop":  # complete/stop each operation, keep the socket
                for op in ws.started:
                    await ws.stop(op)
        if how == "stop":
            await eventually(
                lambda: (live_stats(app).subscribers, live_stats(app).lanes) == (0, 0),
                what=str(live_stats(app)),
            )
            await eventually(
                lambda: len(socket_tasks()) == 6 + 3,
                what=f"only the sockets (and legacy keep-alives): {socket_tasks()}",
            )
    await assert_nothing_left(app, channels)
    assert live_stats(app).tasks == 1, "the reader stays for the next subscriber"


async def test_a_server_shutdown_leaves_nothing_behind(
    app: Starlette, settings: Settings, tenant: GraphQLClient, watched: tuple[str, str]
) -> None:
    campaign, job = watched
    channels = channels_of(app, campaign, job)
    peer = create_app(peer_settings(app, settings))
    async with contextlib.AsyncExitStack() as stack:
        async with serve_app(peer, ws="websockets-sansio") as peer_url:
            clients = await open_watchers(stack, peer_url, tenant.key, campaign, job)
            await eventually(lambda: live_stats(peer).subscribers == 12, what=str(live_stats(peer)))
            assert await redis_subscribers(app, *channels) == 2
        for ws in clients:  # the server said goodbye (1012: service restart)
            assert (await ws.closed())[0] in (1001, 1012)
    stats = live_stats(peer)
    assert (stats.subscribers, stats.channels, stats.lanes, stats.tasks) == (0, 0, 0, 0)
    assert not stats.connected
    await eventually(lambda: not socket_tasks(), what=f"socket tasks left: {socket_tasks()}")
    assert await redis_subscribers(app, *channels) == 0
