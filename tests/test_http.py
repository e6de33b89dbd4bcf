"""GraphQL over HTTP: media types, status codes, GET rules, auth, GraphiQL, masking."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from gql.app import create_app
from services.settings import Settings
from tests.client import GraphQLClient
from tests.conftest import issue_key
from tests.rates import UNLIMITED_RATES

GRAPHQL_RESPONSE = "application/graphql-response+json"


async def _post(http: httpx.AsyncClient, key: str | None, body: object, accept: str | None):  # type: ignore[no-untyped-def]
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    if accept:
        headers["Accept"] = accept
    return await http.post("/graphql", json=body, headers=headers)


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ({"query": "{ clients { "}, "Syntax Error"),
        ({"query": "{ noSuchField }"}, "Cannot query field"),
        (
            {
                "query": "query($n: Int!) { clients(first: $n) { totalCount } }",
                "variables": {"n": "x"},
            },
            "Variable '$n'",
        ),
    ],
)
async def test_request_errors_are_400_with_graphql_response_json(
    admin: GraphQLClient, body: dict[str, object], reason: str
) -> None:
    response = await _post(admin.http, admin.key, body, GRAPHQL_RESPONSE)
    assert response.status_code == 400
    assert response.headers["content-type"].startswith(GRAPHQL_RESPONSE)
    payload = response.json()
    assert "data" not in payload
    assert reason in payload["errors"][0]["message"]

    legacy = await _post(admin.http, admin.key, body, "application/json")
    assert legacy.status_code == 200
    assert legacy.headers["content-type"].startswith("application/json")
    assert "data" not in legacy.json()


async def test_content_negotiation(admin: GraphQLClient) -> None:
    query = {"query": "{ viewer { role } }"}
    for accept, expected in [
        (None, "application/json"),
        ("*/*", "application/json"),
        ("application/json", "application/json"),
        (f"{GRAPHQL_RESPONSE}, application/json;q=0.9", GRAPHQL_RESPONSE),
        (f"application/json, {GRAPHQL_RESPONSE};q=0.5", "application/json"),
    ]:
        response = await _post(admin.http, admin.key, query, accept)
        assert response.status_code == 200, accept
        assert response.headers["content-type"].startswith(expected), accept
        assert response.json() == {"data": {"viewer": {"role": "ADMIN"}}}
    refused = await _post(admin.http, admin.key, query, "text/html")
    assert refused.status_code == 406


async def test_get_runs_queries_but_never_mutations(admin: GraphQLClient) -> None:
    headers = {"Authorization": f"Bearer {admin.key}", "Accept": GRAPHQL_RESPONSE}
    ok = await admin.http.get("/graphql", params={"query": "{ viewer { role } }"}, headers=headers)
    assert ok.status_code == 200
    assert ok.json()["data"]["viewer"]["role"] == "ADMIN"

    mutation = 'mutation { createClient(input: {name: "via GET"}) { __typename } }'
    refused = await admin.http.get("/graphql", params={"query": mutation}, headers=headers)
    assert refused.status_code == 405
    assert refused.headers["allow"] == "POST"
    listed = await admin.execute("{ clients(first: 100) { edges { node { name } } } }")
    assert "via GET" not in {e["node"]["name"] for e in listed["clients"]["edges"]}


async def test_a_key_is_required(http: httpx.AsyncClient) -> None:
    for key in (None, "rg_nope_nope", "Basic abc"):
        response = await _post(http, key, {"query": "{ clients { totalCount } }"}, GRAPHQL_RESPONSE)
        assert response.status_code == 200
        body = response.json()
        assert body["data"] is None
        assert body["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    introspection = await _post(http, None, {"query": "{ __schema { queryType { name } } }"}, None)
    assert introspection.json()["data"]["__schema"]["queryType"]["name"] == "Query"


async def test_graphiql_is_served_to_browsers(http: httpx.AsyncClient) -> None:
    response = await http.get("/graphql", headers={"Accept": "text/html"})
    assert response.status_code == 200
    assert "graphiql" in response.text.lower()


async def test_request_id_is_echoed(admin: GraphQLClient) -> None:
    response = await admin.http.get("/healthz", headers={"X-Request-ID": "abc-123"})
    assert response.json() == {"status": "ok"}
    assert response.headers["x-request-id"] == "abc-123"


async def test_internal_errors_are_masked_and_logged(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, database_url: str | None
) -> None:
    if database_url is not None:
        pytest.skip("breaks its own SQLite database on purpose")
    app = create_app(
        Settings(data_dir=tmp_path, **UNLIMITED_RATES)
    )  # embedded: migrates on start-up
    async with app.router.lifespan_context(app):
        runtime = app.state.runtime
        key = await issue_key(runtime)
        async with runtime.engine.begin() as conn:
            from sqlalchemy import text

            await conn.execute(text("DROP TABLE campaigns"))
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
            client = GraphQLClient(http, key)
            gid = await client.create_client("Broken")
            response = await client.post(
                "query($id: ID!) { node(id: $id) { ... on Client { campaigns { totalCount } } } }",
                {"id": gid},
            )
    body = response.json()
    error = body["errors"][0]
    request_id = response.headers["x-request-id"]
    assert error["extensions"] == {"code": "INTERNAL_SERVER_ERROR", "requestId": request_id}
    assert "campaigns" not in error["message"].lower().replace("node.campaigns", "")
    assert "no such table" not in response.text
    assert any(request_id in r.getMessage() and r.exc_info for r in caplog.records)
