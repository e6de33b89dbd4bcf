"""Prepared queries: a query that has run once runs again straight through graphql-core's
executor, without Strawberry's per-request machinery around it.

For every request, Strawberry's `Schema.execute` builds an execution context and runs the
hooks of the schema's six extensions around parsing, validation and execution: about a
fifth of the server's CPU, for a one-row query and for a 1,000-asset page alike
(bench/graph_bench.py). What those hooks decide about a document is fixed by its text:
it is within the token limit, it parses, it passes validation (the spec rules and
gql.limits'), and it is a query. So once a query has produced data, its text and
operation name are remembered with its parsed document (`remember`), and a request with
the same text and name runs graphql-core's `execute` directly (`execute`): the same
schema, executor (gql.execution), context, resolvers and DataLoaders. What depends on the
request is done again: its variables are priced (QUERY_TOO_COSTLY, gql.limits.extension)
and coerced by graphql-core. A query of one root field whose value completes by a plan
does without the executor too (gql/direct.py).

An answer with any error is not served: the request then runs Strawberry's whole path,
so every error is masked, logged and coded as before. A query only reads, so running it
again changes nothing but the cost: an answer with errors pays for its reads twice.

Only the extensions listed in `HONOURED` are known to decide nothing per request but
the price of its variables; a schema with any other extension, with directives or with
incremental delivery gets no prepared queries. (The request's `extensions` member is not
handed on: no resolver reads `info.operation_extensions`.)

With `REELGRAPH_VERIFY_PLAIN_EXECUTION` (the test suite runs with it) nothing is served
this way: every query that produced data runs again here, and an answer that differs
from Strawberry's is logged as an error (`verify`).
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
import json
import logging
from collections import OrderedDict
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any

import orjson
import strawberry
from graphql import (
    DocumentNode,
    ExecutionResult,
    OperationDefinitionNode,
    OperationType,
    execute,
    get_operation_ast,
    parse,
)
from strawberry.execution import optimized_is_awaitable
from strawberry.extensions import AddValidationRules, MaxTokensLimiter
from strawberry.utils.await_maybe import await_maybe

from gql import resolvers
from gql.context import Context
from gql.direct import REFUSED, Direct
from gql.error_masking import MaskUnexpectedErrors
from gql.limits import (
    LimitedParserCache,
    LimitedValidationCache,
    Limits,
    QueryLimitsExtension,
)
from gql.limits.extension import too_costly
from gql.limits.tokens import TOKEN

log = logging.getLogger("reelgraph.execution")

KEPT = 512
"""Prepared queries kept (least recently used first out), as many as the parser cache."""
LONGEST = 64 * 1024
"""Longer texts are not kept (the text is the key)."""
TOKENS = 200_000
"""Tokens kept across all prepared queries, each query at most a tenth of them. A parsed
document takes some 470 bytes a token, locations left out (measured: 4.7 MB for 10,000
tokens, the most a document may have): about 100 MB at most, whatever the texts."""

HONOURED = frozenset(
    {
        MaxTokensLimiter,  # the text: within the limit once, within it always
        LimitedParserCache,  # the text parses
        LimitedValidationCache,  # validation depends on the document and the schema only
        AddValidationRules,
        QueryLimitsExtension,  # the variables' price: `too_costly` on every request
        MaskUnexpectedErrors,  # errors: never served from here
    }
)


@dataclass(slots=True)
class Prepared:
    document: DocumentNode
    operation: OperationDefinitionNode
    tokens: int
    direct: Direct | None = None
    """How the query runs without graphql-core's executor (gql/direct.py), if it can."""
    looked: bool = False
    """Whether `direct` has been looked for (with an executor built for a request)."""


def _limits(schema: strawberry.Schema) -> Limits | None:
    """The limits that the schema's QueryLimitsExtension prices variables with, or None
    when Strawberry would do something per request that this module does not: run an
    extension that `HONOURED` does not know, schema directives (their extension), or
    incremental delivery."""
    if schema.directives or schema.config.enable_experimental_incremental_execution:
        log.warning("no prepared queries: the schema has directives or incremental delivery")
        return None
    limits = None
    for extension in schema.extensions:
        kind = extension.func if isinstance(extension, functools.partial) else extension
        if kind not in HONOURED:
            log.warning("no prepared queries: the schema's extension %r is not known", kind)
            return None
        if kind is QueryLimitsExtension:
            assert isinstance(extension, functools.partial)
            limits = extension.args[0]
    return limits


class PreparedQueries:
    def __init__(
        self, schema: strawberry.Schema, *, verify: bool = False, tokens: int = TOKENS
    ) -> None:
        self.schema = schema
        self.limits = _limits(schema)
        self.verify = verify
        self.budget = tokens
        self.tokens = 0
        """Tokens of the queries kept now."""
        # None: a text that is not a query (a mutation), so it is not parsed again each time
        self._kept: OrderedDict[tuple[str, str | None], Prepared | None] = OrderedDict()
        self.answered = 0
        """Queries answered here (served, or compared when verifying), so a test can tell."""

    def find(self, query: str | None, operation_name: str | None) -> Prepared | None:
        if query is None or self.verify:
            return None
        key = (query, operation_name)
        found = self._kept.get(key)
        if found is not None:
            self._kept.move_to_end(key)
        return found  # None for a text that is not a query

    def remember(self, query: str, operation_name: str | None) -> Prepared | None:
        """Keep a query whose text Strawberry has just parsed, validated and run to data."""
        if self.limits is None or len(query) > LONGEST:
            return None
        key = (query, operation_name)
        if key in self._kept:
            return self._kept[key]
        tokens = sum(1 for _ in TOKEN.finditer(query))
        if tokens > self.budget // 10:
            return None
        document = parse(query, no_location=True)  # errors are never served from here
        operation = get_operation_ast(document, operation_name)
        found = None
        if operation is not None and operation.operation is OperationType.QUERY:
            found = Prepared(document, operation, tokens)
            self.tokens += tokens
        self._kept[key] = found
        while self.tokens > self.budget or len(self._kept) > KEPT:
            dropped = self._kept.popitem(last=False)[1]
            self.tokens -= dropped.tokens if dropped is not None else 0
        return found

    async def execute(
        self, prepared: Prepared, variables: dict[str, Any] | None, context: Context
    ) -> dict[str, Any] | None:
        """The query's data, or None when it has to take Strawberry's path: its variables
        price it over the limit, or some error came up."""
        schema = self.schema._schema
        assert self.limits is not None
        if too_costly(schema, prepared.document, prepared.operation, self.limits, variables):
            return None
        if not prepared.looked:
            self._look_for_direct(prepared, variables, context)
        if prepared.direct is not None:
            data = await prepared.direct.run(schema, variables, context)
            if data is not REFUSED:
                self.answered += data is not None
                return data
            # a value its plan refuses, which the executor completes: the executor answers
            # this query from now on, and this request (its reads run again)
            prepared.direct = None
        result: ExecutionResult = await await_maybe(
            execute(  # as Strawberry's Schema._execute_operation calls it
                schema,
                prepared.document,
                variable_values=variables,
                operation_name=prepared.operation.name.value if prepared.operation.name else None,
                context_value=context,
                is_awaitable=optimized_is_awaitable,  # type: ignore[arg-type]
                executor_class=self.schema.execution_context_class,
            )
        )
        if result.errors or result.data is None:
            return None
        self.answered += 1
        return result.data

    def _look_for_direct(
        self, prepared: Prepared, variables: dict[str, Any] | None, context: Context
    ) -> None:
        """Ask an executor built for this request how the query runs without one."""
        operation = prepared.operation
        executor = self.schema.execution_context_class.build(
            self.schema._schema,
            prepared.document,
            context_value=context,
            raw_variable_values=variables,
            operation_name=operation.name.value if operation.name else None,
            is_awaitable=optimized_is_awaitable,  # type: ignore[arg-type]
        )
        if isinstance(executor, list):
            return  # the variables are refused: looked for again with the next ones
        prepared.direct = Direct.prepare(
            self.schema._schema, prepared.document, operation, executor
        )
        prepared.looked = True

    async def verify_answer(
        self,
        prepared: Prepared,
        variables: dict[str, Any] | None,
        context: Context,
        expected: dict[str, Any],
        again: Callable[[], Coroutine[Any, Any, dict[str, Any] | None]],
    ) -> None:
        """Run the query here, with Strawberry's own resolver wrappers (gql.resolvers), and
        log an error if its answer differs from `expected`: Strawberry's, with the lean
        resolvers. Data that moved in between (a job's progress) is told apart by asking
        Strawberry `again`: a difference counts when Strawberry's two answers agree with
        each other and not with this one's. The runs are the check's, not the request's:
        each has a context of its own, so no request-scoped recording (a test's statement
        count) sees them."""
        fresh = contextvars.Context()
        ours = await asyncio.create_task(self._run(prepared, variables, context), context=fresh)
        expected_bytes = _dump(expected)
        ours_bytes = b"(errors, or refused)" if ours is None else _dump(ours)
        if ours_bytes == expected_bytes:
            return
        repeated = await asyncio.create_task(again(), context=contextvars.Context())
        if repeated is not None and _dump(repeated) == expected_bytes:
            log.error(
                "prepared query differs: %s instead of %s", ours_bytes[:2000], expected_bytes[:2000]
            )

    async def _run(
        self, prepared: Prepared, variables: dict[str, Any] | None, context: Context
    ) -> dict[str, Any] | None:
        await context.release()  # fresh loaders: nothing cached by the first run
        resolvers.STRAWBERRY.set(True)  # in this run's own context (verify_answer)
        try:
            return await self.execute(prepared, variables, context)
        finally:
            await context.release()


def _dump(value: Any) -> bytes:
    try:
        return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS)
    except orjson.JSONEncodeError:  # what the view writes with the stdlib (gql/view.py)
        return json.dumps(value, separators=(",", ":"), default=str).encode()
