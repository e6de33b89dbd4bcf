"""Errors as a client meets them: one wording per code whatever path refused the ID, and
logs that keep a client's mistakes to one INFO line and an unexpected error to one ERROR
with its traceback, each with the request id."""

from __future__ import annotations

import base64
import logging
import re
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette

import services.clients
from tests.client import GraphQLClient
from tests.fakes.server import serve_app
from tests.wsclient import JOB_PROGRESS, WsClient

ERROR = "... on Error { code field message }"
UPDATE_CLIENT = (
    f"mutation($input: UpdateClientInput!) {{ updateClient(input: $input) {{ {ERROR} }} }}"
)
CREATE_CAMPAIGN = (
    f"mutation($input: CreateCampaignInput!) {{ createCampaign(input: $input) {{ {ERROR} }} }}"
)
DELETE_ASSET = f"mutation($input: DeleteInput!) {{ deleteAsset(input: $input) {{ {ERROR} }} }}"
CANCEL_JOB = f"mutation($input: JobInput!) {{ cancelJob(input: $input) {{ {ERROR} }} }}"
RETRY_SUB_JOB = f"mutation($input: SubJobInput!) {{ retrySubJob(input: $input) {{ {ERROR} }} }}"


def gid(type_name: str, node_id: object) -> str:
    return base64.b64encode(f"{type_name}:{node_id}".encode()).decode()


def wrong_ids(type_name: str, other: str) -> list[str]:
    """IDs that name no `type_name` a key can see: malformed, of another type, missing."""
    return [
        "nope",
        "",
        gid(type_name, "123"),
        gid(other, uuid.uuid4()),
        gid(type_name, uuid.uuid4()),
    ]


async def refusal(client: GraphQLClient, query: str, input: dict[str, Any]) -> dict[str, Any]:
    return await client.mutate(query, {"input": input})


async def test_not_found_has_one_wording_per_kind_of_row(
    admin: GraphQLClient, tenant: GraphQLClient
) -> None:
    other_client = await admin.create_client("Someone else")  # exists, but not the tenant's
    cases: list[tuple[str, str, str, list[str], str]] = [
        (UPDATE_CLIENT, "id", "Client", [other_client], "no such client"),
        (CREATE_CAMPAIGN, "clientId", "Client", [other_client], "no such client"),
        (DELETE_ASSET, "id", "Asset", [], "no such asset"),
        (CANCEL_JOB, "jobId", "Job", [], "no such job"),
        (RETRY_SUB_JOB, "subJobId", "SubJob", [], "no such sub-job"),
    ]
    for query, field, type_name, hidden, message in cases:
        for bad in [*wrong_ids(type_name, "Campaign"), *hidden]:
            extra = {"name": "x"} if query is CREATE_CAMPAIGN else {}
            payload = await refusal(tenant, query, {field: bad, **extra})
            assert payload == {"code": "NOT_FOUND", "field": field, "message": message}, (
                query,
                bad,
            )
    assert tenant.client_id
    logo = await refusal(
        tenant,
        UPDATE_CLIENT,
        {"id": tenant.client_id, "brandGuidelines": {"logoAssetId": gid("Asset", uuid.uuid4())}},
    )
    assert logo == {
        "code": "NOT_FOUND",
        "field": "brandGuidelines.logoAssetId",
        "message": "no such asset",
    }


async def _send(http: httpx.AsyncClient, query: str, key: str | None, request_id: str) -> Any:
    headers = {"X-Request-ID": request_id, "Accept": "application/json"}
    if key:
        headers["Authorization"] = f"Bearer {key}"
    response = await http.post("/graphql", json={"query": query}, headers=headers)
    assert response.headers["x-request-id"] == request_id
    return response.json()


async def test_client_errors_are_logged_at_info_in_one_line(
    admin: GraphQLClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    cases = [
        ("{ clients { totalCount ", admin.key, "GRAPHQL_PARSE_FAILED"),
        ("{ nope }", admin.key, "GRAPHQL_VALIDATION_FAILED"),
        ("{ viewer { role } }", None, "UNAUTHENTICATED"),
        ("{ clients(first: -1) { totalCount } }", admin.key, "INVALID_INPUT"),
    ]
    for i, (query, key, code) in enumerate(cases):
        request_id = f"client-mistake-{i}"
        caplog.clear()
        body = await _send(admin.http, query, key, request_id)
        assert [e["extensions"]["code"] for e in body["errors"]] == [code], body
        message = body["errors"][0]["message"]
        logged = [r for r in caplog.records if request_id in r.getMessage()]
        assert len(logged) == 1, [r.getMessage() for r in caplog.records]
        (record,) = logged
        assert (record.name, record.levelno, record.exc_info) == (
            "reelgraph.errors",
            logging.INFO,
            None,
        )
        assert record.getMessage() == f"client error {code}: {message} [request_id={request_id}]"
        assert "\n" not in record.getMessage()
        loud = [r for r in caplog.records if r.levelno >= logging.WARNING]
        assert loud == [], [f"{r.name}: {r.getMessage()}" for r in loud]


@pytest.fixture(scope="module")
async def base_url(app: Starlette) -> AsyncIterator[str]:
    async with serve_app(app, ws="websockets-sansio", lifespan="off") as url:
        yield url


async def test_a_refused_subscription_is_logged_at_info_too(
    base_url: str, tenant: GraphQLClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    headers = {"X-Request-ID": "socket-mistake-1"}
    async with WsClient.open(base_url, key=tenant.key, headers=headers) as ws:
        message = await ws.message(await ws.subscribe(JOB_PROGRESS, {"jobId": "nope"}))
    assert message["type"] == "error", message
    assert [e["message"] for e in message["payload"]] == ["no such job"], message
    logged = [r for r in caplog.records if r.name == "reelgraph.errors"]
    assert [(r.levelno, r.getMessage(), r.exc_info) for r in logged] == [
        (logging.INFO, "client error NOT_FOUND: no such job [request_id=socket-mistake-1]", None)
    ]
    loud = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert loud == [], [f"{r.name}: {r.getMessage()}" for r in loud]


async def test_an_unexpected_error_is_logged_once_with_its_traceback(
    admin: GraphQLClient, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def broken(*args: object) -> int:
        raise RuntimeError("the database fell over")

    monkeypatch.setattr(services.clients, "count_clients", broken)
    caplog.set_level(logging.DEBUG)
    body = await _send(admin.http, "{ clients { totalCount } }", admin.key, "server-fault-1")
    (error,) = body["errors"]
    assert error["extensions"] == {"code": "INTERNAL_SERVER_ERROR", "requestId": "server-fault-1"}
    assert "fell over" not in str(body)
    loud = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(loud) == 1, [f"{r.name}: {r.getMessage()}" for r in loud]
    (record,) = loud
    assert record.levelno == logging.ERROR and record.name == "reelgraph.errors"
    assert (
        record.getMessage() == "unexpected error in clients.totalCount [request_id=server-fault-1]"
    )
    assert record.exc_info and isinstance(record.exc_info[1], RuntimeError)


async def test_a_request_without_an_id_gets_one_of_its_own(admin: GraphQLClient) -> None:
    """Made when not given (or not valid): 32 hex digits, a different one each request."""
    made = []
    for given in (None, "not valid!"):
        headers = admin.headers(**({"X-Request-ID": given} if given else {}))
        response = await admin.http.post(
            "/graphql", json={"query": "{ viewer { role } }"}, headers=headers
        )
        assert response.status_code == 200
        made.append(response.headers["x-request-id"])
    assert all(re.fullmatch(r"[0-9a-f]{32}", m) for m in made), made
    assert made[0] != made[1]
