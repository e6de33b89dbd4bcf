"""gql/direct.py against graphql-core's executor, on root fields the product's schema does
not have (yet): whatever such a field does, the direct run answers what the executor
would, or hands the request back (None: Strawberry's path; REFUSED: the executor's)."""

from __future__ import annotations

import asyncio
import decimal
from collections.abc import Iterator
from typing import Any

import strawberry
from graphql import ExecutionResult, execute, get_operation_ast, parse
from strawberry.execution import optimized_is_awaitable
from strawberry.scalars import JSON
from strawberry.utils.await_maybe import await_maybe

from gql.direct import REFUSED, Direct
from gql.execution import PlainExecutionContext

TRACKED: list[str] = []
SETTLED = asyncio.Event()


@strawberry.type
class Named:
    name: str


async def _work(label: str, fail: bool) -> None:
    await asyncio.sleep(0)
    TRACKED.append(label)
    SETTLED.set()
    if fail:
        raise RuntimeError(label)


@strawberry.type
class Query:
    @strawberry.field
    def price(self) -> decimal.Decimal | None:
        return ValueError("internal: not for clients")  # type: ignore[return-value]

    @strawberry.field
    def blob(self) -> JSON | None:
        return ValueError("internal: not for clients")  # type: ignore[return-value]

    @strawberry.field
    def generated(self) -> list[Named]:
        def names() -> Iterator[Named]:
            yield Named(name="a")
            yield Named(name="b")

        return names()  # type: ignore[return-value]

    @strawberry.field
    async def tracked(self, info: strawberry.Info, fail: bool = False) -> list[Named]:
        info._raw_info.async_helpers.track([_work("tracked", fail)])
        return [Named(name="now")]

    @strawberry.field
    def echo(self, word: str = "plain", words: list[str] | None = None) -> str:
        if words is not None:
            words.append("seen")  # a resolver that changes its argument
            return ",".join(words)
        return word


SCHEMA = strawberry.Schema(query=Query, execution_context_class=PlainExecutionContext)


def prepare(text: str, variables: dict[str, Any] | None = None) -> Direct:
    core = SCHEMA._schema
    document = parse(text)
    operation = get_operation_ast(document)
    assert operation is not None
    executor = PlainExecutionContext.build(
        core,
        document,
        raw_variable_values=variables,
        is_awaitable=optimized_is_awaitable,  # type: ignore[arg-type]
    )
    assert isinstance(executor, PlainExecutionContext), executor
    direct = Direct.prepare(core, document, operation, executor)
    assert direct is not None, text
    return direct


async def both(text: str) -> tuple[ExecutionResult, Any]:
    core = SCHEMA._schema
    document = parse(text)
    direct = prepare(text)
    result = await await_maybe(
        execute(
            core,
            document,
            is_awaitable=optimized_is_awaitable,  # type: ignore[arg-type]
            executor_class=PlainExecutionContext,
        )
    )
    return result, await direct.run(core, None, None)


async def test_a_returned_exception_is_an_error_not_data() -> None:
    """A resolver may return an exception instead of raising it: graphql-core makes it the
    field's error. A scalar that takes anything (Decimal's str, JSON) would otherwise
    serve its message past the error masking."""
    for text in ("{ price }", "{ blob }"):
        expected, ours = await both(text)
        assert expected.errors and expected.data == {text[2:-2]: None}, expected
        assert ours is None, ours


async def test_a_value_the_plan_refuses_goes_back_to_the_executor() -> None:
    expected, ours = await both("{ generated { name } }")
    assert expected.data == {"generated": [{"name": "a"}, {"name": "b"}]} and not expected.errors
    assert ours is REFUSED


async def test_tracked_work_settles_in_the_background_as_the_executor_settles_it() -> None:
    """`info.async_helpers.track`: the answer does not wait for the work, the work still
    runs, and its failure is not the answer's."""
    for fail in (False, True):
        TRACKED.clear()
        SETTLED.clear()
        expected, ours = await both(f"{{ tracked(fail: {str(fail).lower()}) {{ name }} }}")
        assert expected.data == ours == {"tracked": [{"name": "now"}]}, (expected, ours)
        assert not expected.errors
        await asyncio.wait_for(SETTLED.wait(), 5)
        while len(TRACKED) < 2:  # the executor's run and ours
            SETTLED.clear()
            await asyncio.wait_for(SETTLED.wait(), 5)
        assert TRACKED == ["tracked", "tracked"]


async def test_an_operation_without_variables_is_coerced_once() -> None:
    """An operation that declares no variables has its arguments coerced when it is
    prepared. Each run answers as the executor does, whatever variables a request sends;
    a list argument, which a resolver may change, is coerced again for each run."""
    for text, answer, once in (
        ('{ echo(word: "hi") }', "hi", True),
        ("{ echo }", "plain", True),
        ('{ echo(words: ["a"]) }', "a,seen", False),
        ("query Q($w: String!) { echo(word: $w) }", "sent", False),
    ):
        direct = prepare(text, {"w": "sent"})
        assert (direct.constant is not None) is once, text
        for variables in ({"w": "sent"}, {"w": "sent", "stray": [1]}):
            expected = await await_maybe(
                execute(
                    SCHEMA._schema,
                    parse(text),
                    variable_values=variables,
                    is_awaitable=optimized_is_awaitable,  # type: ignore[arg-type]
                    executor_class=PlainExecutionContext,
                )
            )
            ours = await direct.run(SCHEMA._schema, variables, None)
            assert expected.data == ours == {"echo": answer}, (text, expected, ours)
