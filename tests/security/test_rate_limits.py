"""Rate limits through the public surface: launches and uploads per key (a RATE_LIMITED
payload with retryAfter), whole requests per key or client address (429, Retry-After),
counted in Redis so that two API processes share them.

Each test starts its own app on the session's database with the defaults or small
limits (`3/hour`, so no window rolls over during a test) and a Redis prefix of its own,
on the shared Redis (REDIS_URL, else redis://127.0.0.1:6379/0): the session app's
embedded Redis is its own, and its limits are raised for the rest of the suite.
"""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import HTTPConnection
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus
from websockets.typing import Subprotocol

from gql.app import create_app
from gql.rate_limit import client_address, identify
from services.rate_limits import Limit, RateLimiter
from services.runtime import Runtime
from services.settings import Settings
from tests.client import GraphQLClient, decode_gid
from tests.conftest import issue_key
from tests.fakes.server import serve_app
from tests.rates import UNLIMITED_RATES
from tests.samples import Samples

SHARED_REDIS = os.environ.get("REELGRAPH_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
DEFAULTS = {name: Settings.model_fields[name].default for name in UNLIMITED_RATES}


def _mutation(name: str, input_type: str, payload: str = "JobPayload { job { id } }") -> str:
    return f"""mutation($input: {input_type}!) {{ {name}(input: $input) {{ __typename
        ... on {payload} ... on Error {{ code message retryAfter }} }} }}"""


IMAGE = _mutation("generateImage", "GenerateImageInput", "JobPayload { job { id subJobs { id } } }")
VIDEO = _mutation("generateVideo", "GenerateVideoInput")
PAIRS = _mutation("createVideoFromImagePairs", "CreateVideoFromImagePairsInput")
CANCEL = _mutation("cancelJob", "JobInput")
REGENERATE = _mutation("regenerateSubJob", "SubJobInput")
UPLOAD = _mutation("uploadAsset", "UploadAssetInput", "AssetPayload { asset { id } }")


def _settings(base: Settings, prefix: str, **overrides: Any) -> Settings:
    """`base` (its database) with the default limits, a shared Redis and no worker."""
    update: dict[str, Any] = {
        **DEFAULTS,
        "redis_url": base.redis_url or SHARED_REDIS,
        "redis_prefix": prefix,
        "run_worker": False,  # launches stay queued; each test cancels its own
        **overrides,
    }
    return base.model_copy(update=update)


@asynccontextmanager
async def _serving(settings: Settings) -> AsyncIterator[tuple[Starlette, httpx.AsyncClient]]:
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
            yield app, http


@asynccontextmanager
async def limited(
    base: Settings, **overrides: Any
) -> AsyncIterator[tuple[Starlette, httpx.AsyncClient]]:
    async with _serving(_settings(base, f"rl-{uuid.uuid4().hex[:10]}", **overrides)) as served:
        yield served


@pytest.fixture
async def campaign(tenant: GraphQLClient) -> str:
    """A campaign without a budget, so only the rate limits refuse launches."""
    assert tenant.client_id
    return await tenant.create_campaign(tenant.client_id, "Rate limits")


async def _run(client: GraphQLClient, mutation: str, **input: Any) -> dict[str, Any]:
    return await client.mutate(mutation, {"input": input})


async def _upload(client: GraphQLClient, content: bytes, client_id: str) -> dict[str, Any]:
    operations = {"query": UPLOAD, "variables": {"input": {"file": None, "clientId": client_id}}}
    response = await client.http.post(
        "/graphql",
        data={
            "operations": json.dumps(operations),
            "map": json.dumps({"0": ["variables.input.file"]}),
        },
        files={"0": ("a.png", content, "application/octet-stream")},
        headers=client.headers(**{"Apollo-Require-Preflight": "true"}),
    )
    assert response.status_code == 200, response.text
    payload: dict[str, Any] = response.json()["data"]["uploadAsset"]
    return payload


async def _cancel_all(client: GraphQLClient, payloads: list[dict[str, Any]]) -> None:
    """No worker ran these launches: end them, so no reconciler picks them up later."""
    for payload in payloads:
        if payload["__typename"] == "JobPayload":
            await _run(client, CANCEL, jobId=payload["job"]["id"])


def _assert_limited(payload: dict[str, Any], window: int = 60) -> None:
    assert payload["__typename"] == "UserError", payload
    assert payload["code"] == "RATE_LIMITED"
    assert 0 < payload["retryAfter"] <= window


async def test_eleventh_image_launch_in_a_minute_is_refused(
    settings: Settings, runtime: Runtime, tenant: GraphQLClient, campaign: str
) -> None:
    async with limited(settings) as (_, http):
        client = GraphQLClient(http, tenant.key)
        launched = [await _run(client, IMAGE, campaignId=campaign, prompt="x") for _ in range(11)]
        assert [p["__typename"] for p in launched[:10]] == ["JobPayload"] * 10
        _assert_limited(launched[10])
        assert "image launches" in launched[10]["message"]

        # Other media have their own budget, and other keys their own count.
        video = await _run(client, VIDEO, campaignId=campaign, prompt="x")
        assert tenant.client_id
        other = GraphQLClient(http, await issue_key(runtime, decode_gid(tenant.client_id)))
        image = await _run(other, IMAGE, campaignId=campaign, prompt="x")
        assert (video["__typename"], image["__typename"]) == ("JobPayload", "JobPayload")
        await _cancel_all(client, [*launched, video, image])


async def test_sixth_video_launch_is_refused_and_pair_videos_count(
    settings: Settings, tenant: GraphQLClient, campaign: str
) -> None:
    async with limited(settings) as (_, http):
        client = GraphQLClient(http, tenant.key)
        # The campaign has no images to pair: refused by the service, but still a launch.
        pairs = await _run(client, PAIRS, campaignId=campaign)
        assert pairs["__typename"] == "JobPayload" or pairs["code"] != "RATE_LIMITED", pairs
        videos = [await _run(client, VIDEO, campaignId=campaign, prompt="x") for _ in range(5)]
        assert [p["__typename"] for p in videos[:4]] == ["JobPayload"] * 4
        _assert_limited(videos[4])
        _assert_limited(await _run(client, PAIRS, campaignId=campaign))
        await _cancel_all(client, [pairs, *videos])


async def test_a_regenerated_sub_job_counts_as_a_launch_of_its_medium(
    settings: Settings, tenant: GraphQLClient, campaign: str
) -> None:
    async with limited(settings, rate_limit_images="2/hour") as (_, http):
        client = GraphQLClient(http, tenant.key)
        launched = await _run(client, IMAGE, campaignId=campaign, prompt="x")
        await _cancel_all(client, [launched])
        (sub,) = launched["job"]["subJobs"]
        # Counted, then refused by the service (the job is canceled): still a launch.
        assert (await _run(client, REGENERATE, subJobId=sub["id"]))["code"] == "CONFLICT"
        _assert_limited(await _run(client, REGENERATE, subJobId=sub["id"]), window=3600)
        video = await _run(client, VIDEO, campaignId=campaign, prompt="x")
        assert video["__typename"] == "JobPayload", "an image rerun spends no video launch"
        await _cancel_all(client, [video])


async def test_a_redis_outage_lets_calls_through(settings: Settings) -> None:
    dead = RateLimiter.connect(settings.model_copy(update=DEFAULTS), "redis://127.0.0.1:1/0")
    try:
        assert await dead.hit(Limit.IMAGES, "someone") is None
    finally:
        await dead.aclose()


async def test_uploads_are_limited_per_key(
    settings: Settings, tenant: GraphQLClient, samples: Samples
) -> None:
    async with limited(settings, rate_limit_uploads="2/hour") as (_, http):
        client = GraphQLClient(http, tenant.key)
        assert tenant.client_id
        uploads = [await _upload(client, samples.png, tenant.client_id) for _ in range(3)]
        assert [p["__typename"] for p in uploads[:2]] == ["AssetPayload"] * 2
        _assert_limited(uploads[2], window=3600)


async def test_keyless_flood_gets_429_with_retry_after(
    settings: Settings, tenant: GraphQLClient
) -> None:
    async with limited(settings, rate_limit_anonymous="3/hour") as (_, http):
        anonymous = GraphQLClient(http, None)
        malformed = GraphQLClient(http, "not-a-key")  # counts as keyless
        statuses = [(await c.post("{ __typename }")).status_code for c in (anonymous,) * 2]
        assert statuses == [200, 200]
        assert (await malformed.post("{ __typename }")).status_code == 200

        refused = await anonymous.post("{ __typename }")
        assert refused.status_code == 429
        retry_after = int(refused.headers["retry-after"])
        assert 0 < retry_after <= 3600
        assert refused.headers["content-type"].startswith("application/json")
        assert refused.headers["x-request-id"], "refused requests keep their request id"
        (error,) = refused.json()["errors"]
        assert error["extensions"] == {"code": "RATE_LIMITED", "retryAfter": retry_after}
        assert (await malformed.post("{ __typename }")).status_code == 429
        get = await http.get("/graphql", params={"query": "{ __typename }"})
        assert get.status_code == 429

        # A keyed client at the same address is counted under its key, not the address.
        keyed = GraphQLClient(http, tenant.key)
        assert (await keyed.execute("{ viewer { role } }"))["viewer"]["role"] == "CLIENT"
        assert (await http.get("/healthz")).status_code == 200, "only /graphql is counted"


async def test_a_second_key_is_unaffected_by_the_firsts_exhaustion(
    settings: Settings, runtime: Runtime, tenant: GraphQLClient
) -> None:
    assert tenant.client_id
    second = await issue_key(runtime, decode_gid(tenant.client_id))
    async with limited(settings, rate_limit_requests="3/hour") as (_, http):
        first, other = GraphQLClient(http, tenant.key), GraphQLClient(http, second)
        for _ in range(3):
            await first.execute("{ viewer { role } }")
        refused = await first.post("{ viewer { role } }")
        assert refused.status_code == 429
        assert refused.json()["errors"][0]["extensions"]["code"] == "RATE_LIMITED"
        for _ in range(3):
            await other.execute("{ viewer { role } }")


async def test_two_app_instances_share_the_count(
    settings: Settings, tenant: GraphQLClient, campaign: str
) -> None:
    shared = _settings(
        settings,
        f"rl-shared-{uuid.uuid4().hex[:10]}",
        rate_limit_images="3/hour",
        rate_limit_anonymous="2/hour",
    )
    async with _serving(shared) as (_, one), _serving(shared) as (_, two):
        a, b = GraphQLClient(one, tenant.key), GraphQLClient(two, tenant.key)
        launched = [
            await _run(a, IMAGE, campaignId=campaign, prompt="x"),
            await _run(b, IMAGE, campaignId=campaign, prompt="x"),
            await _run(a, IMAGE, campaignId=campaign, prompt="x"),
        ]
        assert [p["__typename"] for p in launched] == ["JobPayload"] * 3
        _assert_limited(await _run(b, IMAGE, campaignId=campaign, prompt="x"), window=3600)
        _assert_limited(await _run(a, IMAGE, campaignId=campaign, prompt="x"), window=3600)

        assert (await GraphQLClient(one, None).post("{ __typename }")).status_code == 200
        assert (await GraphQLClient(two, None).post("{ __typename }")).status_code == 200
        assert (await GraphQLClient(one, None).post("{ __typename }")).status_code == 429
        await _cancel_all(a, launched)


async def test_nothing_is_limited_when_rate_limits_are_off(
    settings: Settings, tenant: GraphQLClient, samples: Samples
) -> None:
    off = {"rate_limits": False, "rate_limit_anonymous": "1/hour", "rate_limit_uploads": "1/hour"}
    async with limited(settings, **off) as (app, http):
        assert app.state.rate_limiter is None
        for _ in range(3):
            assert (await GraphQLClient(http, None).post("{ __typename }")).status_code == 200
            await GraphQLClient(http, tenant.key).upload_ok(
                samples.png, "a.png", client_id=tenant.client_id
            )


async def test_websocket_connects_are_counted(settings: Settings) -> None:
    app = create_app(
        _settings(settings, f"rl-ws-{uuid.uuid4().hex[:10]}", rate_limit_anonymous="1/hour")
    )
    async with serve_app(app, ws="websockets-sansio") as base_url:
        url = base_url.replace("http://", "ws://", 1) + "/graphql"
        async with connect(url, subprotocols=[Subprotocol("graphql-transport-ws")]):
            pass
        with pytest.raises(InvalidStatus) as refused:
            async with connect(url, subprotocols=[Subprotocol("graphql-transport-ws")]):
                pass
    response = refused.value.response
    assert response.status_code == 429
    assert 0 < int(response.headers["Retry-After"]) <= 3600
    assert json.loads(response.body)["errors"][0]["extensions"]["code"] == "RATE_LIMITED"


@pytest.mark.parametrize(
    ("client", "authorization", "expected"),
    [
        (("203.0.113.7", 1), None, (Limit.ANONYMOUS, "203.0.113.7")),
        (("2001:db8:1:2:3:4:5:6", 1), None, (Limit.ANONYMOUS, "2001:db8:1:2::/64")),
        (("::ffff:203.0.113.7", 1), None, (Limit.ANONYMOUS, "203.0.113.7")),
        (None, "Bearer nope", (Limit.ANONYMOUS, "unknown")),
        (("203.0.113.7", 1), "Basic rg_abc_" + "x" * 43, (Limit.ANONYMOUS, "203.0.113.7")),
    ],
)
def test_who_is_counted_without_a_key(
    client: tuple[str, int] | None, authorization: str | None, expected: tuple[Limit, str]
) -> None:
    headers = [(b"authorization", authorization.encode())] if authorization else []
    scope = {"type": "http", "path": "/graphql", "headers": headers, "client": client}
    assert identify(HTTPConnection(scope)) == expected
    assert client_address(HTTPConnection(scope)) == expected[1]


def test_a_key_is_counted_under_a_hash_whatever_its_address() -> None:
    key = "rg_abcdefghij_" + "s" * 43
    names = set()
    for host in ("203.0.113.7", "198.51.100.1"):
        headers = [(b"authorization", f"Bearer {key}".encode())]
        scope = {"type": "http", "path": "/graphql", "headers": headers, "client": (host, 1)}
        limit, name = identify(HTTPConnection(scope))
        assert limit is Limit.REQUESTS
        assert key not in name and "abcdefghij" not in name, "the key is not stored in Redis"
        names.add(name)
    assert len(names) == 1


async def test_made_up_keys_count_against_the_address(settings: Settings) -> None:
    """Rotating well-formed but unknown keys is no way around the keyless limit."""
    async with limited(settings, rate_limit_anonymous="3/hour") as (_, http):
        statuses = []
        for n in range(4):
            fake = GraphQLClient(http, f"rg_fake{n:05d}_" + "k" * 43)
            statuses.append((await fake.post("{ __typename }")).status_code)
        assert statuses == [200, 200, 200, 429]
        refused = await GraphQLClient(http, "rg_other00000_" + "k" * 43).post("{ __typename }")
        assert refused.status_code == 429
        assert 0 < int(refused.headers["retry-after"]) <= 3600
        (error,) = refused.json()["errors"]
        assert error["extensions"]["code"] == "RATE_LIMITED"
        assert error["extensions"]["retryAfter"] == int(refused.headers["retry-after"])
        assert (await GraphQLClient(http, None).post("{ __typename }")).status_code == 429
