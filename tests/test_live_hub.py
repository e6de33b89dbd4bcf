"""The hub against a Redis of its own: fan-out, one subscription per channel, a real
Redis restart (subscribers are told to resync), slow subscribers, and shutdown."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import redis.asyncio as aioredis

from gql.live.hub import Hub
from gql.live.inbox import HubClosed, Signal
from services.queue.embedded_redis import EmbeddedRedis
from tests.live_support import eventually


@pytest.fixture
async def redis_server(tmp_path: Path) -> AsyncIterator[EmbeddedRedis]:
    server = EmbeddedRedis(tmp_path / "redis")
    await server.start()
    yield server
    await server.stop()


@pytest.fixture
async def client(redis_server: EmbeddedRedis) -> AsyncIterator[aioredis.Redis]:
    redis = aioredis.Redis(unix_socket_path=str(redis_server.socket))
    yield redis
    await redis.aclose()


@pytest.fixture
async def hub(client: aioredis.Redis) -> AsyncIterator[Hub[str]]:
    hub: Hub[str] = Hub(client, bytes.decode, inbox_limit=3, ping_interval=0.5)
    await hub.start()
    yield hub
    await hub.stop()


async def numsub(client: aioredis.Redis, channel: str) -> int:
    reply = await client.execute_command("PUBSUB", "NUMSUB", channel)  # type: ignore[no-untyped-call]
    return int(reply[1])


async def test_fans_out_on_one_subscription_and_releases_it(
    hub: Hub[str], client: aioredis.Redis
) -> None:
    async with hub.listen("a") as one, hub.listen("a") as two, hub.listen("b") as other:
        assert await numsub(client, "a") == 1
        await client.publish("a", "hello")
        assert await one.get() == "hello"
        assert await two.get() == "hello"
        assert len(other) == 0
        assert (hub.stats().channels, hub.stats().subscribers) == (2, 3)
    await eventually(lambda: hub.stats().channels == 0)
    assert await numsub(client, "a") == 0
    async with hub.listen("a") as again:  # subscribing anew works
        await client.publish("a", "back")
        assert await again.get() == "back"


async def test_rejoining_while_unsubscribing(hub: Hub[str], client: aioredis.Redis) -> None:
    for _ in range(20):
        async with hub.listen("x"):
            pass
        async with hub.listen("x") as inbox:  # its UNSUBSCRIBE may still be on its way
            await client.publish("x", "still here")
            assert await inbox.get() == "still here"
    await eventually(lambda: hub.stats().channels == 0)


async def test_a_redis_restart_asks_subscribers_to_resync(
    hub: Hub[str], client: aioredis.Redis, redis_server: EmbeddedRedis
) -> None:
    async with hub.listen("jobs") as inbox:
        await client.publish("jobs", "before")
        assert await inbox.get() == "before"
        await redis_server.stop()
        await eventually(lambda: not hub.stats().connected, what="noticed the loss")
        await redis_server.start()
        assert await inbox.get(timeout=20) is Signal.RESYNC  # what was lost is in the log
        assert hub.stats().reconnects == 1
        assert await numsub(client, "jobs") == 1
        await client.publish("jobs", "after")
        assert await inbox.get() == "after"


async def test_a_slow_subscriber_resyncs_instead_of_growing(
    hub: Hub[str], client: aioredis.Redis
) -> None:
    async with hub.listen("busy") as slow, hub.listen("busy") as fast:
        for i in range(5):
            await client.publish("busy", str(i))
            assert await fast.get() == str(i)
        await eventually(lambda: slow.overflows == 1)
        assert await slow.get() is Signal.RESYNC
        assert len(slow) <= 3


async def test_idle_and_stop(hub: Hub[str]) -> None:
    async with hub.listen("quiet") as inbox:
        assert await inbox.get(timeout=0.05) is Signal.IDLE
        waiting = asyncio.create_task(inbox.get())
        await hub.stop()
        with pytest.raises(HubClosed):
            await waiting
    assert hub.stats().tasks == 0
    with pytest.raises(HubClosed):
        async with hub.listen("late"):
            pass
