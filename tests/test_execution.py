"""The short path for plain leaf fields answers, and fails, as graphql-core's own does."""

from __future__ import annotations

import enum
from typing import Any

import strawberry

from gql.execution import LeafFastExecutionContext


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
    context = LeafFastExecutionContext if fast else None
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
