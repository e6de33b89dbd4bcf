"""Hostile HTTP requests to /graphql: bodies are bounded before they are read, and every
malformed request is a 4xx with a GraphQL error body and a stable code.

Where it matters how much of a body the server pulled, the app is driven over ASGI with
a `receive` that counts the bytes it hands out (`drive`)."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.types import ASGIApp, Message
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed
from websockets.typing import Subprotocol

from gql.app import create_app
from services.settings import Settings
from tests.client import UPLOAD, GraphQLClient
from tests.conftest import issue_key
from tests.fakes.server import serve_app

GRAPHQL_RESPONSE = "application/graphql-response+json"
CHUNK = 64 * 1024
GB = 1024**3
BOUNDARY = "hostile-boundary"
MULTIPART = f"multipart/form-data; boundary={BOUNDARY}"
VIEWER = "{ viewer { role } }"
SUBSCRIPTION = 'subscription { jobProgress(jobId: "Sm9iOjE=") { seq } }'
PREFLIGHT = {"Apollo-Require-Preflight": "true"}
REQUEST_CAP = 64 * 1024  # the strict app's max_request_bytes (also its drain budget)
UPLOAD_CAP = 256 * 1024  # the strict app's max_upload_bytes


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes
    pulled: int  # body bytes the app took from `receive`
    messages: list[Message] = field(default_factory=list)

    def error(self) -> dict[str, Any]:
        """The one GraphQL error of a refusal, after checking the body's shape."""
        assert self.headers["content-type"].startswith("application/"), self.headers
        payload = json.loads(self.body)
        assert set(payload) == {"errors"}, payload
        (error,) = payload["errors"]
        assert isinstance(error["message"], str) and error["message"]
        return dict(error)


def chunks(first: bytes, total: int, filler: bytes = b"\0" * CHUNK) -> Iterator[bytes]:
    """`first`, then filler up to `total` bytes, made as they are asked for."""
    yield first
    sent = len(first)
    while sent < total:
        piece = filler[: total - sent]
        sent += len(piece)
        yield piece


async def drive(
    app: ASGIApp,
    method: str,
    path: str,
    headers: dict[str, str],
    body: Iterator[bytes],
    query_string: bytes = b"",
) -> Answer:
    """Send one request straight to the ASGI app; count the body bytes it pulls."""
    pulled = 0
    pending = next(body, None)

    async def receive() -> Message:
        nonlocal pulled, pending
        if pending is None:
            return {"type": "http.disconnect"}
        chunk, pending = pending, next(body, None)
        pulled += len(chunk)
        return {"type": "http.request", "body": chunk, "more_body": pending is not None}

    if "content-length" not in headers and pending:  # as an HTTP/1.1 server passes it on
        headers = {**headers, "transfer-encoding": "chunked"}
    sent: list[Message] = []

    async def send(message: Message) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.3"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": query_string,
        "root_path": "",
        "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()],
        "client": ("127.0.0.1", 50000),
        "server": ("testserver", 80),
    }
    await app(scope, receive, send)
    start = next(m for m in sent if m["type"] == "http.response.start")
    response_headers = {k.decode(): v.decode() for k, v in start["headers"]}
    content = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return Answer(start["status"], response_headers, content, pulled, sent)


def multipart_head(field_name: str = "0") -> bytes:
    """The start of a multipart body: operations, map, then a file part left open."""
    operations = {"query": UPLOAD, "variables": {"input": {"file": None}}}
    parts = [
        ("operations", json.dumps(operations)),
        ("map", json.dumps({field_name: ["variables.input.file"]})),
    ]
    head = "".join(
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'
        for name, value in parts
    )
    head += (
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="{field_name}"; '
        'filename="big.bin"\r\nContent-Type: application/octet-stream\r\n\r\n'
    )
    return head.encode()


@pytest.fixture(scope="module")
async def strict(
    settings: Settings, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[tuple[Starlette, str]]:
    """An app with small caps and GraphiQL off, and an admin key for it."""
    app = create_app(
        settings.model_copy(
            update={
                "data_dir": tmp_path_factory.mktemp("strict-http"),
                "redis_prefix": f"reelgraph-strict-{uuid.uuid4().hex[:8]}",
                "run_worker": False,
                "graphiql": False,
                "max_request_bytes": REQUEST_CAP,
                "max_upload_bytes": UPLOAD_CAP,
            }
        )
    )
    async with app.router.lifespan_context(app):
        yield app, await issue_key(app.state.runtime)


# -- bodies are bounded before they are read ------------------------------------------


@pytest.mark.parametrize("key", [None, "rg_nope_nope", "Basic abc"])
async def test_a_keyless_upload_is_refused_before_its_body_is_read(
    app: Starlette, key: str | None
) -> None:
    headers = {"content-type": MULTIPART, "content-length": str(3 * GB // 2), **PREFLIGHT}
    if key:
        headers["authorization"] = f"Bearer {key}"
    answer = await drive(app, "POST", "/graphql", headers, chunks(multipart_head(), 3 * GB // 2))
    assert (answer.status, answer.pulled) == (401, 0)
    assert answer.error()["extensions"]["code"] == "UNAUTHENTICATED"
    assert answer.headers["www-authenticate"] == "Bearer"
    assert answer.headers["connection"] == "close"  # the rest is left unread


async def test_a_keyless_chunked_upload_is_dropped_within_the_drain_budget(
    app: Starlette, settings: Settings
) -> None:
    """No declared length: up to `max_request_bytes` of it is dropped (for a client that
    reads the answer only once it has sent its body), then the connection is closed."""
    headers = {"content-type": MULTIPART, **PREFLIGHT}
    answer = await drive(app, "POST", "/graphql", headers, chunks(multipart_head(), 3 * GB // 2))
    assert answer.status == 401
    assert answer.pulled <= settings.max_request_bytes + 2 * CHUNK
    assert answer.headers["connection"] == "close"


async def test_a_client_waiting_for_100_continue_sends_nothing(app: Starlette) -> None:
    """`Expect: 100-continue` (curl sends it for bodies over 1 MB): the refusal comes
    before the server asks for the body, so none of it is read or even sent."""
    headers = {"content-type": MULTIPART, "expect": "100-continue", **PREFLIGHT}
    answer = await drive(app, "POST", "/graphql", headers, chunks(multipart_head(), 3 * GB // 2))
    assert (answer.status, answer.pulled) == (401, 0)
    assert answer.error()["extensions"]["code"] == "UNAUTHENTICATED"
    assert answer.headers["connection"] == "close"


async def test_a_small_keyless_upload_keeps_its_connection(app: Starlette) -> None:
    """A short body is read and dropped, so the client can read the 401 it is sent."""
    total = 10_000
    for headers in ({"content-length": str(total)}, {}):
        headers = {"content-type": MULTIPART, **PREFLIGHT, **headers}
        answer = await drive(app, "POST", "/graphql", headers, chunks(multipart_head(), total))
        assert (answer.status, answer.pulled) == (401, total)
        assert "connection" not in answer.headers


async def test_a_declared_length_over_the_cap_is_refused_at_once(
    strict: tuple[Starlette, str],
) -> None:
    app, key = strict
    auth = {"authorization": f"Bearer {key}"}
    for content_type, length in [
        ("application/json", REQUEST_CAP + 1),
        (MULTIPART, UPLOAD_CAP + REQUEST_CAP + 1),
        (MULTIPART, 3 * GB // 2),
    ]:
        headers = {"content-type": content_type, "content-length": str(length), **PREFLIGHT}
        answer = await drive(
            app, "POST", "/graphql", {**headers, **auth}, chunks(b"{", length, b" " * CHUNK)
        )
        assert (answer.status, answer.pulled) == (413, 0), content_type
        assert answer.error()["extensions"]["code"] == "REQUEST_TOO_LARGE"
        assert answer.headers["connection"] == "close"  # over the drain budget: left unread


async def test_a_json_body_over_the_cap_stops_mid_stream(strict: tuple[Starlette, str]) -> None:
    app, key = strict
    headers = {"content-type": "application/json", "authorization": f"Bearer {key}"}
    body = chunks(b'{"query": "{ viewer { role } }", "pad": "', GB, b"x" * CHUNK)
    answer = await drive(app, "POST", "/graphql", headers, body)
    assert answer.status == 413
    assert answer.error()["extensions"]["code"] == "REQUEST_TOO_LARGE"
    assert REQUEST_CAP < answer.pulled <= 2 * REQUEST_CAP + 2 * CHUNK
    assert answer.headers["connection"] == "close"


async def test_an_upload_over_the_cap_stops_mid_stream(strict: tuple[Starlette, str]) -> None:
    app, key = strict
    headers = {"content-type": MULTIPART, "authorization": f"Bearer {key}", **PREFLIGHT}
    answer = await drive(app, "POST", "/graphql", headers, chunks(multipart_head(), 3 * GB // 2))
    assert answer.status == 413
    assert answer.error()["extensions"]["code"] == "REQUEST_TOO_LARGE"
    cap = UPLOAD_CAP + REQUEST_CAP  # the files, and `operations` as big as a request
    assert cap < answer.pulled <= cap + REQUEST_CAP + 2 * CHUNK
    assert answer.headers["connection"] == "close"


async def test_a_long_query_string_is_refused(strict: tuple[Starlette, str]) -> None:
    app, key = strict
    answer = await drive(
        app,
        "GET",
        "/graphql",
        {"authorization": f"Bearer {key}"},
        iter([b""]),
        query_string=b"query=%7B%20viewer%20%7B%20role%20%7D%20%7D&pad=" + b"x" * REQUEST_CAP,
    )
    assert answer.status == 414
    assert answer.error()["extensions"]["code"] == "REQUEST_TOO_LARGE"


async def test_an_upload_within_the_caps_still_works(strict: tuple[Starlette, str]) -> None:
    app, key = strict
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://strict") as http:
        client = GraphQLClient(http, key)
        campaign = await client.create_campaign(await client.create_client("Caps"))
        response = await client.upload(b"\0" * (UPLOAD_CAP + 1), "big.bin", campaign_id=campaign)
    assert response.status_code == 200  # the whole file, over the limit only by a byte
    assert response.json()["data"]["uploadAsset"]["code"] == "FILE_TOO_LARGE"


# -- malformed requests: 4xx with a GraphQL error body --------------------------------

OPERATIONS = json.dumps({"query": UPLOAD, "variables": {"input": {"file": None}}})

MALFORMED_JSON: list[tuple[str, Any, str]] = [
    ("no query", {"variables": {}}, "BAD_REQUEST"),
    ("null query", {"query": None}, "BAD_REQUEST"),
    ("query not a string", {"query": ["{ viewer { role } }"]}, "BAD_REQUEST"),
    ("operationName object", {"query": VIEWER, "operationName": {}}, "BAD_REQUEST"),
    ("operationName number", {"query": VIEWER, "operationName": 1}, "BAD_REQUEST"),
    ("operationName boolean", {"query": VIEWER, "operationName": True}, "BAD_REQUEST"),
    ("operationName array", {"query": VIEWER, "operationName": ["A"]}, "BAD_REQUEST"),
    ("operationName unknown", {"query": "query A " + VIEWER, "operationName": "B"}, "BAD_REQUEST"),
    ("variables array", {"query": VIEWER, "variables": [1]}, "BAD_REQUEST"),
    ("extensions string", {"query": VIEWER, "extensions": "x"}, "BAD_REQUEST"),
    ("a batch", [{"query": VIEWER}], "BAD_REQUEST"),
    ("a number", 3, "BAD_REQUEST"),
    ("a subscription", {"query": SUBSCRIPTION}, "BAD_REQUEST"),
    ("only fragments", {"query": "fragment F on Query { viewer { role } }"}, "BAD_REQUEST"),
]


@pytest.mark.parametrize(
    ("body", "code"), [(b, c) for _, b, c in MALFORMED_JSON], ids=[n for n, _, _ in MALFORMED_JSON]
)
async def test_malformed_json_requests(admin: GraphQLClient, body: Any, code: str) -> None:
    response = await admin.http.post("/graphql", json=body, headers=admin.headers())
    assert response.status_code == 400
    assert response.headers["content-type"].startswith(GRAPHQL_RESPONSE)
    assert response.json()["errors"][0]["extensions"]["code"] == code
    assert "data" not in response.json()


@pytest.mark.parametrize(
    "raw",
    [
        b"[" * 100_000 + b"]" * 100_000,
        b'{"query": "{ viewer { role } }", "variables": {"a": '
        + b"[" * 20_000
        + b"]" * 20_000
        + b"}}",
        b"{",
        b'{"query": "\xff"}',
        b"",
    ],
    ids=["nested 100000 deep", "deep variables", "truncated", "not UTF-8", "empty"],
)
async def test_bodies_that_are_not_json_we_take(admin: GraphQLClient, raw: bytes) -> None:
    headers = admin.headers(**{"Content-Type": "application/json"})
    response = await admin.http.post("/graphql", content=raw, headers=headers)
    assert response.status_code == 400
    assert response.json()["errors"][0]["extensions"]["code"] == "BAD_REQUEST"


async def test_brackets_inside_strings_are_not_depth(admin: GraphQLClient) -> None:
    """Past the depth limit in brackets, but all of them inside strings (a long query
    text has braces enough): the JSON is one level deep, and it is answered."""
    fields = " ".join(f"a{i}: viewer {{ role }}" for i in range(40))
    body = {"query": "{ " + fields + " }", "variables": {"note": "[" * 200}}
    assert str(body).count("{") + str(body).count("[") > 64
    response = await admin.http.post("/graphql", json=body, headers=admin.headers())
    assert response.status_code == 200, response.text
    assert response.json()["data"]["a39"] == {"role": "ADMIN"}


async def test_two_operations_without_a_name_run_neither(admin: GraphQLClient) -> None:
    name = f"ambiguous-{uuid.uuid4().hex[:8]}"
    document = (
        f'mutation A {{ createClient(input: {{name: "{name}"}}) {{ __typename }} }} '
        "query B { viewer { role } }"
    )
    response = await admin.http.post("/graphql", json={"query": document}, headers=admin.headers())
    assert response.status_code == 400
    assert "operationName" in response.json()["errors"][0]["message"]
    clients = await admin.execute("{ clients(first: 100) { edges { node { name } } } }")
    assert name not in {e["node"]["name"] for e in clients["clients"]["edges"]}
    named = {"query": document, "operationName": "B"}
    response = await admin.http.post("/graphql", json=named, headers=admin.headers())
    assert response.json() == {"data": {"viewer": {"role": "ADMIN"}}}


@pytest.mark.parametrize(
    ("params", "status", "code"),
    [
        ({"foo": "bar"}, 400, "BAD_REQUEST"),
        ({"query": SUBSCRIPTION}, 400, "BAD_REQUEST"),
        ({"query": VIEWER, "variables": "{"}, 400, "BAD_REQUEST"),
        ({"query": VIEWER, "variables": "[1]"}, 400, "BAD_REQUEST"),
        ({"query": VIEWER, "extensions": "[" * 1000}, 400, "BAD_REQUEST"),
        ({"query": 'mutation { createClient(input: {name: "x"}) { __typename } }'}, 405, None),
    ],
    ids=["foreign params", "subscription", "bad variables", "array variables", "deep", "mutation"],
)
async def test_malformed_get_requests(
    admin: GraphQLClient, params: dict[str, str], status: int, code: str | None
) -> None:
    response = await admin.http.get("/graphql", params=params, headers=admin.headers())
    assert response.status_code == status
    assert response.headers["content-type"].startswith(GRAPHQL_RESPONSE)
    error = response.json()["errors"][0]
    assert error["extensions"]["code"] == (code or "METHOD_NOT_ALLOWED")
    if status == 405:
        assert response.headers["allow"] == "POST"


@pytest.mark.parametrize(
    ("operations", "files_map"),
    [
        (OPERATIONS, "[1, 2]"),
        (OPERATIONS, '{"0": [1]}'),
        (OPERATIONS, '{"0": "variables.input.file"}'),
        (OPERATIONS, '{"0": []}'),
        (OPERATIONS, '{"0": ["variables.input.file.a.b"]}'),
        (OPERATIONS, '{"0": ["variables.input.nothing"]}'),
        (OPERATIONS, '{"0": ["query"]}'),
        (OPERATIONS, '{"0": ["variables.input"]}'),
        (OPERATIONS, '{"1": ["variables.input.file"]}'),
        (OPERATIONS, "{"),
        ("[1]", '{"0": ["variables.input.file"]}'),
        ('"x"', '{"0": ["variables.input.file"]}'),
        ("3", '{"0": ["variables.input.file"]}'),
        ("null", '{"0": ["variables.input.file"]}'),
        ('{"variables": {"input": {"file": null}}}', '{"0": ["variables.input.file"]}'),
        (None, '{"0": ["variables.input.file"]}'),
        (OPERATIONS, None),
    ],
)
async def test_malformed_multipart_requests(
    admin: GraphQLClient, operations: str | None, files_map: str | None
) -> None:
    data = {k: v for k, v in [("operations", operations), ("map", files_map)] if v is not None}
    response = await admin.http.post(
        "/graphql",
        data=data,
        files={"0": ("a.bin", b"bytes", "application/octet-stream")},
        headers=admin.headers(**PREFLIGHT),
    )
    assert response.status_code == 400, response.text
    assert response.json()["errors"][0]["extensions"]["code"] == "BAD_REQUEST"


async def test_operations_sent_as_a_file_part(admin: GraphQLClient) -> None:
    response = await admin.http.post(
        "/graphql",
        data={"map": '{"0": ["variables.input.file"]}'},
        files={"operations": ("o.json", OPERATIONS.encode()), "0": ("a.bin", b"x")},
        headers=admin.headers(**PREFLIGHT),
    )
    assert response.status_code == 400
    assert response.json()["errors"][0]["extensions"]["code"] == "BAD_REQUEST"


async def test_refusals_of_the_http_layer_are_graphql_errors(admin: GraphQLClient) -> None:
    auth = {"Authorization": f"Bearer {admin.key}"}
    not_acceptable = await admin.http.post(
        "/graphql", json={"query": VIEWER}, headers={**auth, "Accept": "text/html"}
    )
    assert not_acceptable.status_code == 406
    assert not_acceptable.headers["content-type"].startswith("application/json")
    assert not_acceptable.json()["errors"][0]["extensions"]["code"] == "NOT_ACCEPTABLE"

    csrf = await admin.upload(b"x", "x.bin", preflight=False)
    assert csrf.status_code == 400
    assert csrf.json()["errors"][0]["extensions"]["code"] == "BAD_REQUEST"
    assert "Apollo-Require-Preflight" in csrf.json()["errors"][0]["message"]

    head = await admin.http.head("/graphql", headers=auth)
    assert head.status_code == 405
    assert head.headers["allow"] == "GET, POST"

    plain = await admin.http.post(
        "/graphql", content=b"{ viewer { role } }", headers={**auth, "Content-Type": "text/plain"}
    )
    assert plain.status_code == 415
    assert plain.json()["errors"][0]["extensions"]["code"] == "UNSUPPORTED_MEDIA_TYPE"


@pytest.mark.parametrize("length", ["two", "-1"])
async def test_a_malformed_content_length(
    app: Starlette, admin: GraphQLClient, length: str
) -> None:
    headers = {"content-type": "application/json", "content-length": length}
    headers["authorization"] = f"Bearer {admin.key}"
    answer = await drive(app, "POST", "/graphql", headers, iter([b"{}"]))
    assert answer.status == 400
    assert answer.error()["extensions"]["code"] == "BAD_REQUEST"


async def test_a_keyless_upload_over_http_is_401(anonymous: GraphQLClient) -> None:
    response = await anonymous.upload(b"x", "x.bin")
    assert response.status_code == 401
    assert response.headers["content-type"].startswith(GRAPHQL_RESPONSE)
    assert response.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


# -- GraphiQL ---------------------------------------------------------------------------


async def test_graphiql_can_be_switched_off(strict: tuple[Starlette, str]) -> None:
    app, key = strict
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://strict") as http:
        browser = await http.get("/graphql", headers={"Accept": "text/html"})
        query = await http.get(
            "/graphql",
            params={"query": VIEWER},
            headers={"Accept": "application/json", "Authorization": f"Bearer {key}"},
        )
    assert browser.status_code == 404
    assert "graphiql" not in browser.text.lower()
    assert browser.json()["errors"][0]["extensions"]["code"] == "NOT_FOUND"
    assert query.json() == {"data": {"viewer": {"role": "ADMIN"}}}


async def test_a_request_read_to_its_end_keeps_its_connection(admin: GraphQLClient) -> None:
    refused = await admin.http.post("/graphql", json={"query": VIEWER, "operationName": 1})
    taken = await admin.post(VIEWER)
    assert "connection" not in refused.headers
    assert "connection" not in taken.headers


@pytest.mark.parametrize(
    "message",
    ["[" * 100_000 + "]" * 100_000, "not json", '{"type": "connection_init", "payload": [}'],
)
async def test_malformed_websocket_messages_close_with_4400(app: Starlette, message: str) -> None:
    """graphql-transport-ws: a message that is not JSON (or nests too deep to decode)
    closes the socket with 4400, and the server goes on serving."""
    async with serve_app(app, ws="websockets-sansio", lifespan="off") as base_url:
        url = base_url.replace("http://", "ws://", 1) + "/graphql"
        async with connect(url, subprotocols=[Subprotocol("graphql-transport-ws")]) as ws:
            await ws.send(message)
            with pytest.raises(ConnectionClosed) as closed:
                await ws.recv()
        assert closed.value.rcvd is not None
        assert closed.value.rcvd.code == 4400
        async with httpx.AsyncClient(base_url=base_url) as http:
            assert (await http.post("/graphql", json={"query": "{ __typename }"})).json() == {
                "data": {"__typename": "Query"}
            }
