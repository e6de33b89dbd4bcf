"""API keys are checked once per few seconds per process, and a revocation still
reaches every API process (over Redis) within a second."""

from __future__ import annotations

import asyncio
import contextlib
import os
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.applications import Starlette

from gql import ids
from gql.app import create_app
from services import api_keys
from services.key_cache import KeyCache
from services.runtime import Runtime
from services.settings import Settings
from tests.client import GraphQLClient
from tests.conftest import issue_key
from tests.live_support import ROOT, peer_settings
from tests.rates import unlimited_env

WHO = "query Who { viewer { role } }"  # reads nothing but the key


@contextlib.contextmanager
def key_lookups(engine: AsyncEngine) -> Iterator[list[str]]:
    """The statements on api_keys that `engine` sends meanwhile."""
    seen: list[str] = []

    def statement(*args: Any) -> None:
        if "api_keys" in str(args[2]):
            seen.append(str(args[2]))

    event.listen(engine.sync_engine, "before_cursor_execute", statement)
    try:
        yield seen
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", statement)


def engine_of(app: Starlette) -> AsyncEngine:
    engine: AsyncEngine = app.state.runtime.engine
    return engine


@contextlib.asynccontextmanager
async def serving(settings: Settings) -> AsyncIterator[tuple[Starlette, httpx.AsyncClient]]:
    """Another API instance (its own engine, key cache and Redis subscription)."""
    app = create_app(settings)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://peer") as http,
    ):
        yield app, http


async def accepted(client: GraphQLClient) -> bool:
    body = (await client.post(WHO)).json()
    if body.get("data"):
        assert body["data"] == {"viewer": {"role": "ADMIN"}}, body
        return True
    assert body["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED", body
    return False


async def refused_within(client: GraphQLClient, seconds: float) -> None:
    """Wait (polling, with a deadline) until the key is refused."""
    async with asyncio.timeout(seconds):
        while await accepted(client):  # noqa: ASYNC110 - only a request can tell
            await asyncio.sleep(0.01)


async def revoke_by_cli(app: Starlette, settings: Settings, prefix: str) -> str:
    """`reelgraph keys revoke` in its own process, on the app's data and Redis (on the
    embedded default, the CLI finds the running server's Redis socket in the data dir).
    Waited for in a thread: the app's loop keeps running meanwhile, so a write it has
    begun on the shared SQLite file commits instead of holding the CLI's write off."""
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    env.update(unlimited_env())
    env["REELGRAPH_DATA_DIR"] = str(settings.data_dir)
    env["REELGRAPH_REDIS_PREFIX"] = settings.redis_prefix
    if settings.database_url:
        env["DATABASE_URL"] = settings.database_url
    if settings.redis_url:
        env["REDIS_URL"] = settings.redis_url
    done = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "gql.cli", "keys", "revoke", prefix],
        capture_output=True, text=True, env=env, cwd=ROOT, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    return done.stderr


async def test_a_key_is_looked_up_once_then_remembered(app: Starlette, runtime: Runtime) -> None:
    http = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t")
    async with http:
        client = GraphQLClient(http, await issue_key(runtime))
        with key_lookups(engine_of(app)) as lookups:
            for _ in range(5):
                assert await accepted(client)
        assert len(lookups) == 1, "the key's SELECT is saved after the first request"


async def test_a_wrong_secret_for_a_remembered_prefix_is_refused(
    app: Starlette, runtime: Runtime
) -> None:
    http = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t")
    async with http:
        key = await issue_key(runtime)
        assert await accepted(GraphQLClient(http, key))
        tag, prefix, secret = key.split("_", 2)
        for forged in (f"{tag}_{prefix}_{secret[:-1]}x", f"{tag}_{prefix}_{secret}x", key[:-1]):
            assert forged != key
            assert not await accepted(GraphQLClient(http, forged))
        assert await accepted(GraphQLClient(http, key)), "the real key still works"


async def test_unknown_keys_are_looked_up_every_time(app: Starlette) -> None:
    http = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t")
    async with http:
        unknown = GraphQLClient(http, "rg_unknown123_" + "k" * 43)
        with key_lookups(engine_of(app)) as lookups:
            for _ in range(3):
                assert not await accepted(unknown)
        assert len(lookups) == 3, "nothing invalid is remembered"


async def test_a_cli_revocation_reaches_every_api_process_within_a_second(
    app: Starlette, settings: Settings, runtime: Runtime
) -> None:
    # An hour of caching: only the revocation message can make these instances let go.
    peers = peer_settings(app, settings, key_cache_seconds=3600)
    async with serving(peers) as (one, http_one), serving(peers) as (two, http_two):
        key = await issue_key(runtime)
        clients = [GraphQLClient(http_one, key), GraphQLClient(http_two, key)]
        for instance, client in zip((one, two), clients, strict=True):
            with key_lookups(engine_of(instance)) as lookups:
                assert await accepted(client)
                assert await accepted(client)
            assert len(lookups) == 1, "remembered by this instance"

        stderr = await revoke_by_cli(app, settings, key.split("_")[1])
        assert "warning" not in stderr, stderr

        for client in clients:
            await refused_within(client, 1.0)
        with key_lookups(engine_of(one)) as lookups:
            assert not await accepted(clients[0])
        assert len(lookups) == 1, "a revoked key is not remembered: it is looked up again"


async def test_a_revocation_by_the_service_reaches_another_runtime(
    app: Starlette, settings: Settings
) -> None:
    """The service function from another process's Runtime, publishing with its broker."""
    peers = peer_settings(app, settings, key_cache_seconds=3600)
    async with serving(peers) as (peer, http):
        key = await issue_key(peer.state.runtime)
        client = GraphQLClient(http, key)
        assert await accepted(client)
        other = Runtime.open(settings)
        try:
            async with other.transaction() as session:
                await api_keys.revoke_key(session, key, broker=app.state.broker)
        finally:
            await other.close()
        await refused_within(client, 1.0)


DELETE_CLIENT = """mutation($id: ID!) { deleteClient(input: {id: $id}) {
  __typename ... on DeletePayload { deletedId }
} }"""


async def test_deleting_a_client_refuses_its_keys_in_every_process_within_a_second(
    app: Starlette, settings: Settings, admin: GraphQLClient
) -> None:
    """Its keys go with it (the database cascades): a process that cached one must hear
    of it as of a revocation, not keep it for the cache's hour."""
    peers = peer_settings(app, settings, key_cache_seconds=3600)
    async with serving(peers) as (peer, http):
        doomed = await admin.create_client("Leaving")
        key = await issue_key(peer.state.runtime, ids.decode(doomed, "Client", "id"))
        client = GraphQLClient(http, key)
        for _ in range(2):
            assert (await client.execute(WHO)) == {"viewer": {"role": "CLIENT"}}
        data = await admin.execute(DELETE_CLIENT, {"id": doomed})
        assert data["deleteClient"] == {"__typename": "DeletePayload", "deletedId": doomed}
        async with asyncio.timeout(1.0):
            while (await client.post(WHO)).json().get("data"):  # noqa: ASYNC110
                await asyncio.sleep(0.01)
        body = (await client.post(WHO)).json()
        assert body["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED", body


async def test_a_zero_ttl_looks_every_key_up(app: Starlette, settings: Settings) -> None:
    async with serving(peer_settings(app, settings, key_cache_seconds=0)) as (peer, http):
        client = GraphQLClient(http, await issue_key(peer.state.runtime))
        with key_lookups(engine_of(peer)) as lookups:
            for _ in range(3):
                assert await accepted(client)
        assert len(lookups) == 3


def test_revoking_without_redis_warns_and_still_revokes(
    tmp_path: Path, database_url: str | None
) -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    env["REELGRAPH_DATA_DIR"] = str(tmp_path / "data")
    if database_url:
        env["DATABASE_URL"] = database_url
    cli = [sys.executable, "-m", "gql.cli", "keys"]
    created = subprocess.run(
        [*cli, "create", "--admin"], capture_output=True, text=True, env=env, check=True
    )
    prefix = created.stdout.strip().splitlines()[-1].split("_")[1]
    env["REDIS_URL"] = "redis://127.0.0.1:1/0"  # nothing listens there
    revoked = subprocess.run(
        [*cli, "revoke", prefix], capture_output=True, text=True, env=env, check=False
    )
    assert revoked.returncode == 0, revoked.stderr
    assert revoked.stdout == f"revoked key {prefix}\n"
    assert revoked.stderr.startswith("warning: Redis did not answer"), revoked.stderr
    assert "for up to 5 s more" in revoked.stderr
    listed = subprocess.run([*cli, "list"], capture_output=True, text=True, env=env, check=True)
    assert "\trevoked\t" in next(r for r in listed.stdout.splitlines() if r.startswith(prefix))


async def test_the_least_recently_used_key_goes_first(runtime: Runtime) -> None:
    """The cache alone (a subscription that never speaks): bounded, LRU."""
    cache = KeyCache(runtime.session_factory, ttl=3600, size=2)

    class Silent:
        async def get(self) -> object:
            await asyncio.Event().wait()
            return None

    @contextlib.asynccontextmanager
    async def subscribed() -> AsyncIterator[Silent]:
        yield Silent()

    first, second, third = [await issue_key(runtime) for _ in range(3)]
    async with cache.following(subscribed()):
        with key_lookups(runtime.engine) as lookups:
            for key in (first, second, first, third):  # `third` pushes out `second`
                assert await cache.authenticate(key) is not None
            assert len(lookups) == 3
            assert len(cache) == 2
            assert await cache.authenticate(first) is not None
            assert await cache.authenticate(third) is not None
            assert len(lookups) == 3
            assert await cache.authenticate(second) is not None
            assert len(lookups) == 4
    assert len(cache) == 0, "nothing is remembered once revocations are not heard"
