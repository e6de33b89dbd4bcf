"""WebSocket connection rules, on other API instances with tight settings: the key at
connection_init (payload or header), allowed origins, the connection_init deadline and
the cap on subscriptions per connection, for both protocols."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from starlette.applications import Starlette
from websockets.exceptions import InvalidStatus

from db.models import JobStatus
from gql.app import create_app
from gql.ids import encode
from services.runtime import Runtime
from services.settings import Settings
from tests.client import GraphQLClient
from tests.fakes.server import serve_app
from tests.live_support import peer_settings
from tests.scripted import emit, scripted_job
from tests.wsclient import JOB_PROGRESS, LEGACY_WS, TRANSPORT_WS, WsClient

DASHBOARD = "https://dash.example.com"


@pytest.fixture(scope="module")
async def strict_url(app: Starlette, settings: Settings) -> AsyncIterator[str]:
    strict = peer_settings(
        app,
        settings,
        allowed_origins=f"{DASHBOARD}, https://other.example.com:8443",
        ws_max_subscriptions_per_connection=2,
    )
    async with serve_app(create_app(strict), ws="websockets-sansio") as url:
        yield url


@pytest.fixture(scope="module")
async def hasty_url(app: Starlette, settings: Settings) -> AsyncIterator[str]:
    """An instance with a short connection_init deadline, for the deadline test alone: the
    other tests share their event loop with the worker, and may be slower than that."""
    hasty = peer_settings(app, settings, ws_connection_init_timeout_seconds=0.3)
    async with serve_app(create_app(hasty), ws="websockets-sansio") as url:
        yield url


@pytest.fixture
async def job_gid(app: Starlette, runtime: Runtime, tenant: GraphQLClient) -> str:
    assert tenant.client_id
    campaign = await tenant.create_campaign(tenant.client_id, "Rules")
    job_id = await scripted_job(runtime, campaign)
    await emit(runtime, app.state.broker, job_id, progress=0.25)
    await emit(runtime, app.state.broker, job_id, status=JobStatus.SUCCEEDED)
    return encode("Job", job_id)


@pytest.mark.parametrize("protocol", [TRANSPORT_WS, LEGACY_WS])
@pytest.mark.parametrize(
    "how",
    ["Authorization", "authorization", "apiKey", "header", "bare-authorization"],
)
async def test_the_key_is_read_at_connection_init(
    protocol: str, how: str, strict_url: str, tenant: GraphQLClient, job_gid: str
) -> None:
    assert tenant.key
    params: dict[str, str] = {}
    headers: dict[str, str] = {}
    if how == "header":
        headers["Authorization"] = f"Bearer {tenant.key}"
    elif how == "apiKey":
        params["apiKey"] = tenant.key
    elif how == "bare-authorization":
        params["authorization"] = tenant.key
    else:
        params[how] = f"Bearer {tenant.key}"
    async with WsClient.open(strict_url, protocol=protocol, params=params, headers=headers) as ws:
        events = await ws.until_complete(await ws.subscribe(JOB_PROGRESS, {"jobId": job_gid}))
    assert [e["seq"] for e in events] == [1, 2]


@pytest.mark.parametrize("key", [None, "rg_not_a_real_key"])
async def test_no_valid_key_is_refused_at_connection_init(strict_url: str, key: str | None) -> None:
    async with WsClient.open(strict_url, init=False) as ws:
        await ws.send({"type": "connection_init", "payload": {"apiKey": key} if key else {}})
        assert await ws.closed() == (4403, "Forbidden")
    async with WsClient.open(strict_url, protocol=LEGACY_WS, init=False) as ws:
        refused = await ws.init({"apiKey": key} if key else {})
        assert refused["type"] == "connection_error"
        assert refused["payload"]["code"] == "UNAUTHENTICATED"
        assert (await ws.closed())[0] == 1011


@pytest.mark.parametrize("protocol", [TRANSPORT_WS, LEGACY_WS])
async def test_connection_init_must_come_quickly(hasty_url: str, protocol: str) -> None:
    async with WsClient.open(hasty_url, protocol=protocol, init=False) as ws:
        assert await ws.closed() == (4408, "Connection initialisation timeout")


async def test_subscribing_before_connection_init_is_refused(strict_url: str, job_gid: str) -> None:
    async with WsClient.open(strict_url, init=False) as ws:
        await ws.subscribe(JOB_PROGRESS, {"jobId": job_gid})
        assert await ws.closed() == (4401, "Unauthorized")


async def test_only_allowed_origins_may_connect(strict_url: str, tenant: GraphQLClient) -> None:
    for origin in (DASHBOARD, "https://other.example.com:8443", strict_url):  # own origin
        async with WsClient.open(strict_url, key=tenant.key, origin=origin):
            pass
    for origin in ("https://evil.example.com", "https://dash.example.com:444", "null"):
        with pytest.raises(InvalidStatus) as refused:
            async with WsClient.open(strict_url, key=tenant.key, origin=origin):
                pass
        assert refused.value.response.status_code == 403


@pytest.mark.parametrize("protocol", [TRANSPORT_WS, LEGACY_WS])
async def test_subscriptions_per_connection_are_capped(
    protocol: str, strict_url: str, app: Starlette, runtime: Runtime, tenant: GraphQLClient
) -> None:
    assert tenant.client_id
    campaign = await tenant.create_campaign(tenant.client_id, "Cap")
    gid = encode("Job", await scripted_job(runtime, campaign))
    async with WsClient.open(strict_url, protocol=protocol, key=tenant.key) as ws:
        await ws.subscribe(JOB_PROGRESS, {"jobId": gid})
        await ws.subscribe(JOB_PROGRESS, {"jobId": gid})
        third = await ws.message(await ws.subscribe(JOB_PROGRESS, {"jobId": gid}))
    assert third["type"] == "error"
    payload = third["payload"]
    message = payload[0]["message"] if isinstance(payload, list) else payload["message"]
    assert message == "Subscription limit reached"
