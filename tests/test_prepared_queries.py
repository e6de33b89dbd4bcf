"""A query that has run once runs again straight through graphql-core (gql/prepared.py):
the same answers, the same errors and limits, per request tenancy; mutations never."""

from __future__ import annotations

import logging
from typing import Any

import graphql
import httpx
import orjson
import pytest
import strawberry
from starlette.applications import Starlette
from strawberry.extensions import MaxTokensLimiter, SchemaExtension

from gql.prepared import LONGEST, Prepared, PreparedQueries
from gql.schema import build_schema
from services.settings import Settings
from tests.client import GraphQLClient
from tests.conftest import _Records

CLIENTS = "query Clients($n: Int) { clients(first: $n) { edges { node { id name } } } }"
NESTED = """
query Nested($clients: Int!, $campaigns: Int!) {
  clients(first: $clients) {
    edges { node { id name campaigns(first: $campaigns) {
      edges { cursor node { id name status stats { jobCount } } }
      pageInfo { hasNextPage endCursor }
    } } }
  }
}"""
RESULTS = """
query Results($period: PeriodInput) {
  clients(first: 1) { edges { node { id results(period: $period) { views } } } }
}"""
BACKWARDS = {"period": {"start": "2026-02-01", "end": "2026-01-01"}}


def prepared_of(app: Starlette) -> PreparedQueries:
    prepared = app.state.prepared_queries
    assert isinstance(prepared, PreparedQueries)
    return prepared


def client_of(served: Starlette, like: GraphQLClient) -> GraphQLClient:
    transport = httpx.ASGITransport(app=served)
    return GraphQLClient(httpx.AsyncClient(transport=transport, base_url="http://p"), like.key)


async def twice(client: GraphQLClient, query: str, variables: dict[str, Any]) -> list[bytes]:
    return [(await client.post(query, variables)).content for _ in range(2)]


async def test_a_query_that_ran_is_answered_the_prepared_way_with_the_same_bytes(
    serving: Starlette, admin: GraphQLClient, tenant: GraphQLClient
) -> None:
    client = client_of(serving, admin)
    assert tenant.client_id is not None
    await admin.create_campaign(tenant.client_id, "Prepared")
    prepared = prepared_of(serving)
    before = prepared.answered
    first, second = await twice(client, NESTED, {"clients": 3, "campaigns": 2})
    assert prepared.answered == before + 1  # the second request
    assert second == first
    assert b'"errors"' not in first and b'"campaigns"' in first


@pytest.mark.parametrize("accept", [None, "application/graphql-response+json"])
async def test_a_prepared_answer_is_the_same_response_as_strawberrys(
    serving: Starlette, admin: GraphQLClient, accept: str | None
) -> None:
    """Status, headers and body: a query's first answer is Strawberry's, its second the
    prepared one, served without Strawberry's request handling (gql/view.py)."""
    client = client_of(serving, admin)
    prepared = prepared_of(serving)
    headers = {"Authorization": f"Bearer {client.key}", **({"Accept": accept} if accept else {})}
    text = CLIENTS.replace("Clients(", f"Clients{len(accept or '')}(")  # a text not yet kept
    answers = []
    for _ in range(2):
        before = prepared.answered
        response = await client.http.post(
            "/graphql", json={"query": text, "variables": {"n": 2}}, headers=headers
        )
        answers.append((response, prepared.answered - before))
    (first, by_first), (second, by_second) = answers
    assert (by_first, by_second) == (0, 1)
    assert second.status_code == first.status_code == 200
    assert second.content == first.content and b'"clients"' in first.content
    seen = [[(k, v) for k, v in r.headers.items() if k != "x-request-id"] for r in (first, second)]
    assert seen[1] == seen[0]
    assert first.headers["content-type"] == f"{accept or 'application/json'}; charset=utf-8"


async def test_each_request_sees_what_its_own_key_may(
    serving: Starlette, admin: GraphQLClient, tenant: GraphQLClient
) -> None:
    as_admin, as_tenant = client_of(serving, admin), client_of(serving, tenant)
    prepared = prepared_of(serving)
    await as_admin.execute(CLIENTS, {"n": 50})  # prepared under the admin key
    before = prepared.answered
    seen = await as_tenant.execute(CLIENTS, {"n": 50})
    assert prepared.answered == before + 1
    assert [e["node"]["id"] for e in seen["clients"]["edges"]] == [tenant.client_id]


async def test_variables_are_priced_on_every_request(
    serving: Starlette, admin: GraphQLClient
) -> None:
    client = client_of(serving, admin)
    prepared = prepared_of(serving)
    await client.execute(NESTED, {"clients": 1, "campaigns": 1})
    before = prepared.answered
    body = (await client.post(NESTED, {"clients": 100, "campaigns": 100})).json()
    assert body["errors"][0]["extensions"]["code"] == "QUERY_TOO_COSTLY", body
    assert "data" not in body or body["data"] is None
    assert prepared.answered == before


async def test_errors_take_strawberrys_path_and_read_as_before(
    serving: Starlette, admin: GraphQLClient
) -> None:
    client = client_of(serving, admin)
    prepared = prepared_of(serving)
    await client.execute(RESULTS, {"period": None})  # prepared
    before = prepared.answered
    refused = [(await client.post(RESULTS, BACKWARDS)).json() for _ in range(2)]
    assert refused[0] == refused[1] == (await admin.post(RESULTS, BACKWARDS)).json()
    (error,) = refused[0]["errors"]
    assert error["extensions"]["code"] == "INVALID_INPUT", error
    assert error["path"] == ["clients", "edges", 0, "node", "results"]
    assert refused[0]["data"]["clients"]["edges"][0]["node"]["results"] is None
    wrong = {"period": {"start": 5}}
    wrong_type = (await client.post(RESULTS, wrong)).json()
    assert wrong_type == (await admin.post(RESULTS, wrong)).json()  # the suite's app: Strawberry's
    assert wrong_type["errors"][0]["message"].startswith("Variable '$period' has invalid value")
    assert prepared.answered == before


async def test_mutations_are_never_prepared(serving: Starlette, admin: GraphQLClient) -> None:
    client = client_of(serving, admin)
    prepared = prepared_of(serving)
    create = (
        "mutation C($n: String!) { createClient(input: { name: $n }) "
        "{ ... on ClientPayload { client { id } } } }"
    )
    before = prepared.answered
    made = [await client.mutate(create, {"n": "Twice"}) for _ in range(2)]
    ids = {m["client"]["id"] for m in made}
    assert len(ids) == 2
    assert prepared.answered == before


async def test_a_different_answer_is_reported_when_verifying(
    app: Starlette, admin: GraphQLClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The suite's apps verify every query that ran to data (that is how every query in
    the suite is compared): a prepared answer that differs is logged as an error."""
    prepared = prepared_of(app)
    assert prepared.verify
    original = PreparedQueries.execute

    async def altered(self: PreparedQueries, *args: Any) -> dict[str, Any] | None:
        data = await original(self, *args)
        return None if data is None else {**data, "extra": True}

    monkeypatch.setattr(PreparedQueries, "execute", altered)
    logger = logging.getLogger("reelgraph.execution")
    (records,) = [h for h in logger.handlers if isinstance(h, _Records)]  # the autouse check's
    try:
        await admin.execute(CLIENTS, {"n": 1})
    finally:
        monkeypatch.undo()
    differs = [m for m in records.messages if m.startswith("prepared query differs")]
    assert differs, records.messages
    assert '"extra":true' in differs[0]
    records.messages[:] = [m for m in records.messages if m not in differs]  # expected here


async def test_a_long_text_is_answered_but_not_kept(
    serving: Starlette, admin: GraphQLClient
) -> None:
    """Within the token limit a text can be long (a comment is one token): not kept."""
    client = client_of(serving, admin)
    prepared = prepared_of(serving)
    padded = CLIENTS + "\n# " + "x" * (LONGEST + 1)
    before = prepared.answered
    answers = [await client.execute(padded, {"n": 1}) for _ in range(2)]
    assert answers[0] == answers[1] and answers[0]["clients"]["edges"]
    assert prepared.answered == before


def test_a_schema_with_an_extension_it_does_not_know_gets_no_prepared_queries() -> None:
    @strawberry.type
    class Query:
        value: int = 1

    class Unknown(SchemaExtension):
        pass

    known = PreparedQueries(build_schema(Settings.model_construct()))
    assert known.remember("{ viewer { role } }", None) is not None
    for extensions in ([Unknown], [MaxTokensLimiter]):  # no cost limits to price with
        schema = strawberry.Schema(query=Query, extensions=extensions)
        assert PreparedQueries(schema).remember("{ value }", None) is None


def test_kept_queries_stay_within_their_token_budget() -> None:
    """Memory goes with tokens (a parsed document holds a node per token or so): the
    least recently used go first once the budget is spent, and a query over a tenth of it
    is never kept."""
    prepared = PreparedQueries(build_schema(Settings.model_construct()), tokens=300)
    texts = [f"query Q{i} {{ viewer {{ role }} }}" for i in range(40)]  # 8 tokens each
    for text in texts:
        assert prepared.remember(text, None) is not None
    assert 300 - 8 < prepared.tokens <= 300
    assert prepared.find(texts[0], None) is None and prepared.find(texts[-1], None) is not None
    wide = "{ " + " ".join(f"a{i}: viewer {{ role }}" for i in range(5)) + " }"  # 32 tokens
    assert prepared.remember(wide, None) is None


def test_a_mutation_text_is_parsed_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every mutation that runs to data is offered to `remember`: it is not parsed again."""
    import gql.prepared

    parses: list[str] = []
    original = graphql.parse

    def counted(text: str, **options: Any) -> Any:
        parses.append(text)
        return original(text, **options)

    monkeypatch.setattr(gql.prepared, "parse", counted)
    prepared = PreparedQueries(build_schema(Settings.model_construct()))
    mutation = 'mutation { createClient(input: { name: "x" }) { __typename } }'
    assert [prepared.remember(mutation, None) for _ in range(3)] == [None, None, None]
    assert parses == [mutation]
    assert prepared.tokens == 0 and prepared.find(mutation, None) is None


AFTER = "query After($a: String) { clients(first: 2, after: $a) { edges { node { id } } } }"


def kept(served: Starlette, text: str) -> Prepared:
    found = prepared_of(served).find(text, None)
    assert found is not None and found.looked, text
    return found


async def test_a_one_field_query_runs_without_the_executor_with_the_same_bytes(
    serving: Starlette, admin: GraphQLClient, tenant: GraphQLClient
) -> None:
    """gql/direct.py: one root field whose value completes by a plan is run from what an
    executor found once; its answers are Strawberry's, byte for byte, key by key."""
    prepared = prepared_of(serving)
    text = CLIENTS.replace("Clients(", "DirectClients(")
    for client in (admin, tenant):
        ours = client_of(serving, client)
        before = prepared.answered
        answers = [(await ours.post(text, {"n": n})).content for n in (3, 3, 1)]
        assert kept(serving, text).direct is not None
        assert prepared.answered == before + (2 if client is admin else 3)
        expected = [(await client.post(text, {"n": n})).content for n in (3, 3, 1)]
        assert answers == expected and b'"errors"' not in answers[0]
    tenant_view = orjson.loads(answers[0])["data"]["clients"]["edges"]
    assert [e["node"]["id"] for e in tenant_view] == [tenant.client_id]


@pytest.mark.parametrize(
    "text",
    [
        "query Two { viewer { role } clients(first: 1) { edges { node { id } } } }",
        "query Switch($v: Boolean!) { clients(first: 1) { edges { node { id "
        "name @include(if: $v) } } } }",
        NESTED,
        "query Name { __typename }",
    ],
    ids=["two-root-fields", "a-directive-reads-a-variable", "a-field-with-a-resolver", "typename"],
)
async def test_what_only_the_executor_can_run_still_runs_prepared(
    serving: Starlette, admin: GraphQLClient, text: str
) -> None:
    client = client_of(serving, admin)
    variables = {"v": True, "clients": 2, "campaigns": 2}
    answers = [(await client.post(text, variables)).content for _ in range(2)]
    assert kept(serving, text).direct is None
    assert answers[0] == answers[1] == (await admin.post(text, variables)).content
    assert b'"errors"' not in answers[0]


async def test_a_direct_query_s_errors_read_as_strawberry_s(
    serving: Starlette, admin: GraphQLClient
) -> None:
    """A resolver that raises, an argument or a variable refused: not answered directly,
    so the request takes Strawberry's path and reads exactly as the suite's app answers."""
    client = client_of(serving, admin)
    prepared = prepared_of(serving)
    await client.execute(AFTER, {"a": None})
    await client.execute(AFTER, {"a": None})
    assert kept(serving, AFTER).direct is not None
    before = prepared.answered
    for variables in ({"a": "not-a-cursor"}, {"a": 5}, {"a": ["x"]}):
        ours = (await client.post(AFTER, variables)).json()
        assert ours == (await admin.post(AFTER, variables)).json()
        assert ours["errors"], ours
    assert prepared.answered == before
    (error,) = (await client.post(AFTER, {"a": "not-a-cursor"})).json()["errors"]
    assert error["extensions"]["code"] == "INVALID_INPUT" and error["path"] == ["clients"]
