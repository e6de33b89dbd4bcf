"""The short path for plain fields and subtrees answers, and fails, as graphql-core's own does."""

from __future__ import annotations

import enum
from typing import Any

import orjson
import pytest
import strawberry
from strawberry.extensions import ParserCache

from gql.execution import PlainExecutionContext, VerifiedExecutionContext


@strawberry.enum
class Colour(enum.Enum):
    RED = "red"


@strawberry.type
class Item:
    name: str
    colour: Colour
    note: str | None
    count: int

    @strawberry.field
    def shout(self) -> str:
        return self.name.upper()


@strawberry.type
class Query:
    @strawberry.field
    def items(self) -> list[Item | None]:
        broken = Item(name="b", colour=Colour.RED, note=None, count=0)
        broken.name = None  # type: ignore[assignment]  # a null where `String!` is promised
        return [Item(name="a", colour=Colour.RED, note=None, count=2), broken]


QUERY = "{ items { name colour note count shout } }"


def run(fast: bool) -> Any:
    context = PlainExecutionContext if fast else None
    schema = strawberry.Schema(query=Query, execution_context_class=context)
    result = schema.execute_sync(QUERY)
    errors = [(e.message, e.path) for e in result.errors or []]
    return result.data, errors


def test_same_data_and_errors_as_graphql_core() -> None:
    assert run(fast=True) == run(fast=False)


def test_a_null_for_a_non_null_field_is_still_an_error() -> None:
    data, errors = run(fast=True)
    assert data == {
        "items": [{"name": "a", "colour": "RED", "note": None, "count": 2, "shout": "A"}, None]
    }
    assert errors == [
        ("Cannot return null for non-nullable field Item.name.", ["items", 1, "name"])
    ]


# Whole plain subtrees: a connection of nodes, as the API's pages are ---------------------


@strawberry.type
class Info_:
    size: int | None
    tags: list[str]


@strawberry.type
class Node:
    id: strawberry.ID
    colour: Colour
    info: Info_
    weight: float | None


@strawberry.type
class NodeEdge:
    node: Node


@strawberry.type
class Page:
    edges: list[NodeEdge]
    total: int


def _nodes(broken: bool) -> Page:
    nodes = [
        Node(id=strawberry.ID(f"n{i}"), colour=Colour.RED, info=Info_(size=i or None,
             tags=["a", "b"][: i % 3]), weight=i / 3)
        for i in range(5)
    ]  # fmt: skip
    if broken:
        nodes[3].info.tags = None  # type: ignore[assignment]  # a null inside `[String!]!`
    return Page(edges=[NodeEdge(node=n) for n in nodes], total=len(nodes))


@strawberry.type
class PageQuery:
    @strawberry.field
    def page(self, broken: bool = False) -> Page:
        return _nodes(broken)


PAGE_QUERIES = [
    "{ page { total edges { node { id colour weight info { size tags } } } } }",
    "{ page { __typename edges { cursor: __typename node { ...N info { size } } } } }"
    " fragment N on Node { id weight info { tags } }",
    "query($a: Boolean!) { page { edges { node { id @include(if: $a) x: colour "
    "... on Node @skip(if: $a) { weight } colour info { s: size size } } } } }",
    "{ page(broken: true) { total edges { node { id info { tags } } } } }",
]


@pytest.mark.parametrize("query", PAGE_QUERIES)
@pytest.mark.parametrize("include", [True, False])
def test_plain_subtrees_answer_byte_for_byte_as_graphql_core(query: str, include: bool) -> None:
    results = []
    for context in (PlainExecutionContext, None):
        schema = strawberry.Schema(query=PageQuery, execution_context_class=context)
        result = schema.execute_sync(query, variable_values={"a": include})
        errors = [(e.message, e.path) for e in result.errors or []]
        results.append((orjson.dumps(result.data), errors))
    assert results[0] == results[1]
    assert b'"edges"' in results[0][0] or results[0][1]


def test_the_verifying_context_compares_plain_subtrees() -> None:
    before = VerifiedExecutionContext.compared
    schema = strawberry.Schema(query=PageQuery, execution_context_class=VerifiedExecutionContext)
    result = schema.execute_sync(PAGE_QUERIES[0])
    assert result.errors is None
    assert VerifiedExecutionContext.compared > before


def test_plans_kept_across_requests_follow_each_requests_directives() -> None:
    """A parsed document is reused (the parser cache), and so are its plans: one request
    whose `@include`/`@skip` say otherwise must not get another's selection."""
    query = PAGE_QUERIES[2]
    expected = {}
    plain_schema = strawberry.Schema(query=PageQuery)
    for include in (True, False):
        result = plain_schema.execute_sync(query, variable_values={"a": include})
        expected[include] = orjson.dumps(result.data)
    assert expected[True] != expected[False]
    schema = strawberry.Schema(
        query=PageQuery,
        execution_context_class=PlainExecutionContext,
        extensions=[lambda: ParserCache(maxsize=8)],
    )
    for include in (True, False, True, False):
        result = schema.execute_sync(query, variable_values={"a": include})
        assert result.errors is None
        assert orjson.dumps(result.data) == expected[include], include
