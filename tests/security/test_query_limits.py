"""Query limits through the public surface: documents too deep, too aliased, too spread,
too long or too costly are refused before execution with a typed error, over GET and
POST, with a key and without; ordinary documents still run.

No timings: a 40-level fragment bomb answered at all shows the work is not exponential
(the old depth rule walked 2**40 spreads), and `Analysis.visits` counts the walk.
"""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from graphql import GraphQLSyntaxError, OperationDefinitionNode, get_introspection_query, parse
from graphql.validation.rules import overlapping_fields_can_be_merged
from strawberry.extensions.parser_cache import _get_parse_cache
from strawberry.extensions.validation_cache import _get_validate_cache

from gql.app import create_app
from gql.limits import Analysis, Limits, tokens
from gql.limits.rules import OVERLAP_BUDGET
from gql.schema import build_schema
from services.settings import Settings
from tests.client import CREATE_CLIENT, UPLOAD, GraphQLClient

SHARED_REDIS = os.environ.get("REELGRAPH_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
WHO = ["anonymous", "admin"]
CEILING = 2**53 - 1  # counts saturate there, to stay exact in JSON
METHODS = ["GET", "POST"]


def bomb(levels: int) -> str:
    """Each fragment spreads the next twice: 2**levels fields once expanded."""
    fragments = " ".join(
        f"fragment F{i} on Query {{ ...F{i + 1} ...F{i + 1} }}" for i in range(levels)
    )
    return f"{{ ...F0 }} {fragments} fragment F{levels} on Query {{ __typename }}"


CHAIN = ["clients(first: 1)", "nodes"] + ["campaigns(first: 1)", "nodes", "client"] * 5


def nested(depth: int) -> str:
    """A query `depth` selection sets deep (`{ a { b } }` is 1), one item per page."""
    fields = CHAIN[:depth]
    leaf = "totalCount" if fields[-1].startswith(("clients", "campaigns")) else "id"
    return "{ " + " { ".join(fields) + " { " + leaf + " }" * depth + " }"


@pytest.fixture(params=WHO)
def client(
    request: pytest.FixtureRequest, admin: GraphQLClient, http: httpx.AsyncClient
) -> GraphQLClient:
    """Each test twice: without a key and with one."""
    return admin if request.param == "admin" else GraphQLClient(http, None)


async def send(
    client: GraphQLClient, query: str, variables: dict[str, Any] | None = None, method: str = "POST"
) -> httpx.Response:
    if method == "GET":
        params = {"query": query}
        if variables:
            params["variables"] = json.dumps(variables)
        return await client.http.get("/graphql", params=params, headers=client.headers())
    return await client.post(query, variables)


async def refused(
    client: GraphQLClient,
    query: str,
    variables: dict[str, Any] | None = None,
    method: str = "POST",
) -> list[dict[str, Any]]:
    """The errors of a request error: 400, no `data`, every error typed."""
    response = await send(client, query, variables, method)
    body = response.json()
    assert response.status_code == 400, body
    assert "data" not in body, body
    errors: list[dict[str, Any]] = body["errors"]
    assert all("code" in (e.get("extensions") or {}) for e in errors), errors
    return errors


def codes(errors: list[dict[str, Any]]) -> list[str]:
    return [e["extensions"]["code"] for e in errors]


@pytest.mark.parametrize("levels", [20, 40, 900])  # 900: ~9,000 tokens, no recursion
@pytest.mark.parametrize("method", METHODS)
async def test_fragment_bomb_is_refused(client: GraphQLClient, method: str, levels: int) -> None:
    errors = await refused(client, bomb(levels), method=method)
    assert codes(errors) == ["TOO_MANY_FRAGMENT_SPREADS", "QUERY_TOO_COSTLY"]
    spreads, cost = (e["extensions"] for e in errors)
    assert spreads == {
        "code": "TOO_MANY_FRAGMENT_SPREADS",
        "limit": 200,
        "measured": min(2 ** (levels + 1) - 1, CEILING),
    }
    assert cost == {
        "code": "QUERY_TOO_COSTLY",
        "limit": 50_000,
        "measured": min(2**levels, CEILING),
    }


def test_each_fragment_is_walked_once() -> None:
    schema = build_schema()._schema
    limits = Limits.of(Settings.model_construct())
    for levels in (20, 40, 400):
        document = parse(bomb(levels))
        analysis = Analysis(schema, document, limits)
        (operation, *_) = document.definitions
        assert isinstance(operation, OperationDefinitionNode)
        analysis.operation(operation)
        assert analysis.visits == levels + 2  # every selection set once


async def test_fragment_cycles_are_refused(client: GraphQLClient) -> None:
    response = await client.post(
        "{ ...A } fragment A on Query { ...B } fragment B on Query { ...A }"
    )
    assert response.status_code == 400
    assert "within itself" in response.json()["errors"][0]["message"]


@pytest.mark.parametrize("method", METHODS)
async def test_aliases(client: GraphQLClient, method: str) -> None:
    many = "{ " + " ".join(f"a{i}: __typename" for i in range(51)) + " }"
    errors = await refused(client, many, method=method)
    assert [e["extensions"] for e in errors] == [
        {"code": "TOO_MANY_ALIASES", "limit": 50, "measured": 51}
    ]
    # A fragment's aliases count once per spread.
    spread = "{ " + " ".join(f"x{i}: viewer {{ ...V }}" for i in range(6)) + " }"
    fragment = "fragment V on Viewer { " + " ".join(f"r{i}: role" for i in range(8)) + " }"
    errors = await refused(client, f"{spread} {fragment}", method=method)
    assert errors[0]["extensions"] == {"code": "TOO_MANY_ALIASES", "limit": 50, "measured": 54}

    fifty = "{ " + " ".join(f"a{i}: __typename" for i in range(50)) + " }"
    response = await send(client, fifty, method=method)
    assert response.json()["data"]["a49"] == "Query"


async def test_ten_thousand_aliases(client: GraphQLClient) -> None:
    query = "{ " + " ".join(f"a{i}: clients {{ totalCount }}" for i in range(10_000)) + " }"
    errors = await refused(client, query)
    assert [e["extensions"] for e in errors] == [{"code": "TOO_MANY_TOKENS", "limit": 10_000}]

    # With the token limit out of the way, the alias rule refuses it on its own.
    roomy = build_schema(Settings.model_construct(max_query_tokens=1_000_000))
    result = await roomy.execute(query)
    assert result.data is None
    assert [e.extensions for e in result.errors or []] == [
        {"code": "TOO_MANY_ALIASES", "limit": 50, "measured": 10_000},
        {"code": "QUERY_TOO_COSTLY", "limit": 50_000, "measured": 10_000 * 21},
    ]


@pytest.mark.parametrize("method", METHODS)
async def test_depth(client: GraphQLClient, method: str, admin: GraphQLClient) -> None:
    errors = await refused(client, nested(13), method=method)
    assert [e["extensions"] for e in errors] == [
        {"code": "QUERY_TOO_DEEP", "limit": 12, "measured": 13}
    ]
    response = await send(admin, nested(12), method=method)
    assert "errors" not in response.json(), response.json()


async def test_tokens(client: GraphQLClient) -> None:
    expected = [{"code": "TOO_MANY_TOKENS", "limit": 10_000}]
    long = "{ " + "__typename " * 10_000 + "}"
    comments = "# hello\n" * 20_000 + "{ __typename }"
    flood = "{ " + "a " * 450_000 + "}"  # 900 kB, under the request size limit
    for query in (long, long, comments, flood):  # twice: a refusal is never cached as valid
        errors = await refused(client, query)
        assert [e["extensions"] for e in errors] == expected
        assert "locations" not in errors[0]


async def test_the_parser_limit_is_typed_too(
    client: GraphQLClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Past the fast count, graphql-core's own `max_tokens` refusal gets the same code (this
    fails if graphql-core rewords it)."""
    monkeypatch.setattr(tokens, "too_many_tokens", lambda query, limit: False)
    errors = await refused(client, "{ " + "__typename " * 10_000 + "}")
    assert [e["extensions"] for e in errors] == [{"code": "TOO_MANY_TOKENS", "limit": 10_000}]


@pytest.mark.parametrize(
    "document",
    [
        "{ a }",
        "# a comment\n{ a }",
        'query($n: Int = -5, $f: Float = 1.5e3) { a(s: "x#y\\"", b: """bl\\"""ock "" """)'
        " { ...F ... on T { b } } } fragment F on T { c @include(if: true) }",
        get_introspection_query(descriptions=True),
        CREATE_CLIENT,
        UPLOAD,
    ],
)
def test_the_fast_count_agrees_with_the_parser(document: str) -> None:
    count = parse(document).token_count
    assert len(tokens.TOKEN.findall(document)) == count
    assert tokens.too_many_tokens(document, count - 1)
    assert not tokens.too_many_tokens(document, count)


@pytest.mark.parametrize(
    "document",
    [
        "{ a }",
        "{ a } { b }",
        "query { a } mutation M { b } subscription S { c }",
        "fragment query on Query { a } { ...query }",
        'query Q($i: In = {x: {y: 1}}, $s: String = "}{") { a(o: {k: "{"}) { b } }',
        "# { } {\n{ a } # query {",
        'query A { a } fragment F on Q { b } query B @d(x: {y: 1}) { ...F } """ { """',
        get_introspection_query(),
        CREATE_CLIENT + " " + UPLOAD.replace("mutation", "mutation Upload", 1),
    ],
)
def test_operations_are_counted_without_a_parse(document: str) -> None:
    try:
        definitions = parse(document).definitions
    except GraphQLSyntaxError:
        definitions = parse(document.rsplit('"""', 2)[0]).definitions  # the string is a tail
    expected = sum(isinstance(d, OperationDefinitionNode) for d in definitions)
    assert tokens.count_operations(document) == expected


async def test_several_unnamed_operations_are_refused(admin: GraphQLClient) -> None:
    response = await admin.post("{ __typename } query Q { __typename }")
    assert response.status_code == 400
    (error,) = response.json()["errors"]
    assert error["extensions"]["code"] == "BAD_REQUEST"
    assert "2 operations" in error["message"]


@pytest.mark.parametrize("method", METHODS)
async def test_cost(client: GraphQLClient, method: str, admin: GraphQLClient) -> None:
    costly = """{ clients(first: 100) { nodes { campaigns(first: 100) { nodes {
        assets(first: 100) { nodes { id } } } } } } }"""
    errors = await refused(client, costly, method=method)
    assert [e["extensions"] for e in errors] == [
        {"code": "QUERY_TOO_COSTLY", "limit": 50_000, "measured": 2_020_201}
    ]
    # Default pages (20): 16,841.
    ordinary = "{ clients { nodes { campaigns { nodes { assets { nodes { id } } } } } } }"
    response = await send(admin, ordinary, method=method)
    assert "errors" not in response.json(), response.json()


VARIABLE_FIRST = """query($n: Int) { clients(first: $n) { nodes { campaigns(first: 100) {
    nodes { assets(first: 100) { nodes { id } } } } } } }"""


@pytest.mark.parametrize("method", METHODS)
async def test_cost_with_a_variable_first(
    client: GraphQLClient, method: str, admin: GraphQLClient
) -> None:
    # 100.0 is the Int 100 to graphql-core, and is priced so (it once counted as 20)
    for variables in ({"n": 100}, {"n": 3}, {"n": 100.0}):
        errors = await refused(client, VARIABLE_FIRST, variables, method)
        assert errors[0]["extensions"]["code"] == "QUERY_TOO_COSTLY"
        assert errors[0]["extensions"]["measured"] == 1 + variables["n"] * 20_202
    # Not given: the field's default page (20); a variable's own default counts too.
    errors = await refused(client, VARIABLE_FIRST, None, method)
    assert errors[0]["extensions"]["measured"] == 1 + 20 * 20_202
    with_default = VARIABLE_FIRST.replace("$n: Int", "$n: Int = 50")
    errors = await refused(client, with_default, None, method)
    assert errors[0]["extensions"]["measured"] == 1 + 50 * 20_202

    response = await send(admin, VARIABLE_FIRST, {"n": 2}, method)
    assert "errors" not in response.json(), response.json()


async def test_overlapping_fields_have_a_small_budget(client: GraphQLClient) -> None:
    """graphql-core compares fields sharing a response name pairwise, within a budget that
    gql.limits lowers (this fails if graphql-core stops reading the attribute)."""
    assert overlapping_fields_can_be_merged.MAX_COMPLEXITY_BUDGET == OVERLAP_BUDGET
    repeated = "{" + " viewer { role }" * 300 + " }"  # 1,200 tokens, 299,000 units
    errors = await refused(client, repeated)
    assert [e["extensions"] for e in errors] == [{"code": "VALIDATION_ABORTED"}]
    response = await send(
        client, "{ viewer { role } viewer { role } ...V } fragment V on Query { viewer { role } }"
    )
    assert response.status_code == 200


async def test_ordinary_documents_still_run(admin: GraphQLClient) -> None:
    data = await admin.execute(
        """query Home($n: Int = 5) { me: viewer { role } ...Lists }
        fragment Lists on Query { clients(first: $n) { totalCount nodes { ...C } } }
        fragment C on Client { id name campaigns(first: 10) { totalCount } }"""
    )
    assert data["me"] == {"role": "ADMIN"}


async def test_rules_are_built_once_so_validation_is_cached(admin: GraphQLClient) -> None:
    query = f"{{ viewer {{ role }} t{uuid.uuid4().hex}: __typename }}"
    cache: Any = _get_validate_cache(512)  # an lru_cache
    await admin.execute(query)
    hits = cache.cache_info().hits
    await admin.execute(query)
    assert cache.cache_info().hits == hits + 1


async def test_long_documents_are_kept_by_neither_cache(admin: GraphQLClient) -> None:
    """A document over CACHED_TOKENS is parsed and validated afresh (a parsed document
    takes some 600 bytes a token, and each cache keeps 512 whatever their size)."""
    alias = f"t{uuid.uuid4().hex}"
    short = f"{{ viewer {{ role }} {alias}: __typename }}"
    long = short + "\n#" * (tokens.CACHED_TOKENS + 1)  # a comment is a token
    caches: list[Any] = [_get_parse_cache(512), _get_validate_cache(512)]  # lru_caches
    for query, kept in ((long, False), (short, True)):
        await admin.execute(query)
        before = [c.cache_info() for c in caches]
        assert await admin.execute(query) == {"viewer": {"role": "ADMIN"}, alias: "Query"}
        after = [c.cache_info() for c in caches]
        hits = [a.hits - b.hits for a, b in zip(after, before, strict=True)]
        assert hits == ([1, 1] if kept else [0, 0]), (query[:60], hits)
        assert [a.currsize for a in after] == [b.currsize for b in before]


@pytest.fixture(scope="module")
async def closed(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    """An app with introspection off, on the session's database and a Redis prefix of its own."""
    update = {
        "introspection": False,
        "redis_url": settings.redis_url or SHARED_REDIS,
        "redis_prefix": f"limits-{uuid.uuid4().hex[:10]}",
        "run_worker": False,
    }
    app = create_app(settings.model_copy(update=update))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
            yield http


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("key", [False, True])
async def test_introspection_can_be_disabled(
    closed: httpx.AsyncClient, admin: GraphQLClient, key: bool, method: str
) -> None:
    client = GraphQLClient(closed, admin.key if key else None)
    for query in (
        "{ __schema { types { name fields { name } } } }",
        '{ __type(name: "Query") { name } }',
        "query { ...I } fragment I on Query { __schema { queryType { name } } }",
    ):
        errors = await refused(client, query, method=method)
        assert codes(errors) == ["INTROSPECTION_DISABLED"]
    response = await send(client, "{ __typename }", method=method)
    assert response.json() == {"data": {"__typename": "Query"}}


async def test_refusals_are_not_logged_as_errors(
    client: GraphQLClient, caplog: pytest.LogCaptureFixture
) -> None:
    """A flood of refused documents must not become a flood of ERROR lines."""
    with caplog.at_level("DEBUG"):
        assert codes(await refused(client, nested(13))) == ["QUERY_TOO_DEEP"]
        assert codes(await refused(client, "{ nope }"))
    errors = [r for r in caplog.records if r.levelname == "ERROR"]
    assert errors == [], [r.getMessage() for r in errors]
    assert any("client error" in r.getMessage() for r in caplog.records)
