"""Lean resolvers (gql/resolvers.py) call each field's function with what Strawberry's own
wrapper would pass it, so answers and errors are the same; the suite's apps check every
query both ways."""

from __future__ import annotations

import enum
import logging
from typing import Any

import pytest
import strawberry
from graphql import GraphQLObjectType
from starlette.applications import Starlette
from strawberry import relay

from gql import resolvers
from gql.execution import PlainExecutionContext
from gql.schema import build_schema
from services.settings import Settings
from tests.client import GraphQLClient
from tests.conftest import _Records
from tests.test_prepared_queries import NESTED, prepared_of


@strawberry.enum
class Size(enum.Enum):
    SMALL = "s"
    LARGE = "l"


@strawberry.input
class Window:
    start: int
    end: int = 10
    label: str | None = None


@strawberry.type
class Thing:
    n: int

    @strawberry.field
    def plus(self, by: int = 1) -> int:
        return self.n + by

    @strawberry.field
    async def later(self, info: strawberry.Info, size: Size | None = None) -> str:
        return f"{self.n}:{size}:{info.field_name}"

    @strawberry.field
    def parent_n(self, root: Thing) -> int:
        return root.n * 10


@strawberry.type
class Query:
    @strawberry.field
    def things(self, count: int = 2, sizes: list[Size] | None = None) -> list[Thing]:
        return [Thing(n=i + len(sizes or ())) for i in range(count)]

    @strawberry.field
    def window(self, window: Window | None = None, windows: list[Window] | None = None) -> str:
        return repr((window, windows))

    @strawberry.field
    def node_of(self, id: relay.GlobalID) -> str:
        return f"{id.type_name}/{id.node_id}"

    @strawberry.field
    def maybe(self, value: strawberry.Maybe[int | None] = None) -> str:
        return repr(value)

    @strawberry.field
    def failing(self, text: str) -> str:
        raise ValueError(text)

    @strawberry.field
    async def echo(self, text: str = "default", number: float | None = None) -> str:
        return f"{text}/{number}"


QUERIES = [
    "{ things { n plus } }",
    "{ things(count: 3, sizes: [SMALL, LARGE]) { n plus(by: 5) later later2: later(size: LARGE) parentN } }",  # noqa: E501
    "query($c: Int!, $s: [Size!]) { things(count: $c, sizes: $s) { plus(by: $c) } }",
    "{ window }",
    '{ window(window: {start: 1}, windows: [{start: 2, end: 3, label: "x"}]) }',
    "query($w: Window) { window(window: $w) }",
    '{ nodeOf(id: "VGhpbmc6NDI=") }',
    '{ nodeOf(id: "not a global id") }',
    "{ maybe }",
    "{ maybe(value: null) }",
    "{ maybe(value: 3) }",
    '{ failing(text: "boom") echo }',
    "query($t: String!, $f: Float) { echo(text: $t, number: $f) }",
]
VARIABLES: dict[str, Any] = {"c": 2, "s": ["LARGE"], "w": {"start": 4}, "t": "hi", "f": 1.5}


async def answers(lean: bool) -> list[Any]:
    schema = strawberry.Schema(query=Query, execution_context_class=PlainExecutionContext)
    if lean:
        assert resolvers.install(schema) == 9
    found = []
    for query in QUERIES:
        result = await schema.execute(query, VARIABLES)
        errors = [(e.message, e.path) for e in result.errors or []]
        found.append((result.data, errors))
    return found


async def test_same_answers_and_errors_as_strawberrys_wrappers() -> None:
    own, lean = await answers(lean=False), await answers(lean=True)
    assert lean == own
    assert own[1][0]["things"][2]["later2"] == "4:Size.LARGE:later"  # arguments did arrive
    assert own[7][1] and own[11][1]  # and errors did happen


def test_every_field_with_a_resolver_but_subscriptions_is_lean() -> None:
    schema = build_schema(Settings.model_construct())
    kinds: dict[bool, list[str]] = {True: [], False: []}
    for type_ in schema._schema.type_map.values():
        if not isinstance(type_, GraphQLObjectType):
            continue
        for name, field in type_.fields.items():
            definition = (field.extensions or {}).get("strawberry-definition")
            if definition is None or definition.base_resolver is None:
                continue
            lean = "_lean.<locals>" in getattr(field.resolve, "__qualname__", "")
            kinds[lean].append(f"{type_.name}.{name}")
    assert "Client.campaigns" in kinds[True] and "Mutation.createClient" in kinds[True]
    assert sorted(kinds[False]) == ["Subscription.campaignActivity", "Subscription.jobProgress"]


async def test_a_lean_resolver_answering_differently_is_reported(
    app: Starlette, admin: GraphQLClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The suite's apps answer each query with lean resolvers, then check it with
    Strawberry's own (gql.prepared): a lean resolver that differs is logged as an error."""
    await admin.execute(
        "mutation($i: CreateClientInput!) { createClient(input: $i) { __typename } }",
        {"i": {"name": "Lean"}},
    )
    schema = prepared_of(app).schema
    assert isinstance(schema, strawberry.Schema)
    edge = schema._schema.type_map["CampaignEdge"]
    assert isinstance(edge, GraphQLObjectType)
    field = edge.fields["cursor"]
    verifying = field.resolve
    assert verifying is not None

    def altered(source: Any, info: Any, **values: Any) -> Any:
        found = verifying(source, info, **values)
        return found if resolvers.STRAWBERRY.get() else "altered"

    monkeypatch.setattr(field, "resolve", altered)
    logger = logging.getLogger("reelgraph.execution")
    (records,) = [h for h in logger.handlers if isinstance(h, _Records)]  # the autouse check's
    await admin.execute(
        "mutation($i: CreateCampaignInput!) { createCampaign(input: $i) { __typename } }",
        {"i": {"clientId": await _client_id(admin), "name": "C", "goal": "g", "budgetUsd": 5}},
    )
    data = await admin.execute(NESTED, {"clients": 1, "campaigns": 1})
    monkeypatch.undo()
    edge = data["clients"]["edges"][0]["node"]["campaigns"]["edges"][0]
    assert edge["cursor"] == "altered"
    differs = [m for m in records.messages if m.startswith("prepared query differs")]
    assert differs and '"altered"' in differs[0], records.messages
    records.messages[:] = [m for m in records.messages if m not in differs]  # expected here


async def _client_id(admin: GraphQLClient) -> str:
    data = await admin.execute("{ clients(first: 1) { edges { node { id } } } }", {})
    found: str = data["clients"]["edges"][0]["node"]["id"]
    return found
