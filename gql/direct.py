"""A prepared query of one root field whose value completes by a plan, run without
graphql-core's executor around that one field.

A prepared query (gql/prepared.py) still builds graphql-core's executor for each request:
the operation looked up, the root selection collected, an executor of three classes
made, the field executed and its awaitable completed through their layers of wrapping.
For `{ clients(first: 1) { edges { node { id name } } } }` that was some 17 % of the
server's CPU per request, more than the statement on the database (py-spy, PostgreSQL).
What it decides is fixed by the document, except for the variables and the context:

- the operation's root selection, when no directive in the document reads a variable
  (`@include`/`@skip` on a variable change what is collected): one field of the root
  type, with its nodes, its definition and its resolver;
- the plan that completes its value (`PlainExecutionContext.plan`), when every field
  below is plain (gql/execution.py);
- the resolve info, but for the variables and the context.

So `Direct.prepare` asks a real executor, once per prepared query, for all three, and
`Direct.run` then coerces the variables and the arguments with graphql-core's own
functions, calls the resolver with an info of the executor's own type, awaits it, and
completes its value with the plan. What graphql-core would answer with an error (a
variable or an argument refused, the resolver raising or returning an exception) is not
answered here: `run` returns None and the request takes Strawberry's whole path, as a
prepared answer with errors does. A value the plan refuses but the executor may complete
(a list given as a generator) comes back as REFUSED: the executor answers it.
"""

from __future__ import annotations

import asyncio
import enum
from collections.abc import Awaitable, Sequence
from dataclasses import dataclass
from typing import Any

from graphql import (
    DocumentNode,
    GraphQLError,
    GraphQLField,
    GraphQLSchema,
    OperationDefinitionNode,
)
from graphql.execution.collect_fields import collect_fields
from graphql.execution.values import get_argument_values, get_variable_values
from graphql.pyutils import Path, gather_with_cancel
from graphql.type.definition import GraphQLResolveInfoHelpers
from strawberry.execution import optimized_is_awaitable

from gql.execution import PlainExecutionContext, Plan, _Fallback, _switches


@dataclass(frozen=True, slots=True)
class Direct:
    key: str
    """The root field's response key."""
    field: GraphQLField
    plan: Plan
    template: Any
    """The executor's resolve info for the field (a `GraphQLResolveInfo`, or Strawberry's
    own named tuple like it), without the request's variables and context: what `run`
    fills in."""
    coerced: bool
    """Whether the info holds the coerced variables as a dict (Strawberry's info does) or
    graphql-core's `VariableValues`."""
    filled: tuple[int, int, int]
    """Where the variables, the context and the helpers go in the info: it is made as a
    tuple, where `_replace` cost a fortieth of a one-row query."""
    constant: tuple[Any, dict[str, Any]] | None
    """An operation that declares no variables: its variables (none, whatever a request
    sends) and the field's arguments (immutable values only), coerced once here rather
    than by each request. Coercing them cost some 3 % of a one-row query."""

    @classmethod
    def prepare(
        cls,
        schema: GraphQLSchema,
        document: DocumentNode,
        operation: OperationDefinitionNode,
        executor: Any,
    ) -> Direct | None:
        """What running the operation takes, from `executor` (built for it), or None
        when it is not one root field completed by a plan."""
        if not isinstance(executor, PlainExecutionContext) or executor.middleware_manager:
            return None
        fragments = [f.definition for f in executor.fragments.values()]
        if len(_switches(operation, fragments, {})) != 1:
            return None  # a directive reads a variable: what is collected may change
        root = schema.query_type  # a prepared operation is a query
        if root is None:
            return None
        collected = collect_fields(
            schema, executor.fragments, executor.variable_values, root, operation
        )
        fields = collected.grouped_field_set
        if collected.new_defer_usages or collected.forbidden_directive_instances:
            return None
        if len(fields) != 1:
            return None
        ((key, details),) = fields.items()
        if any(d.defer_usage or d.fragment_variable_values for d in details):
            return None
        field = root.fields.get(details[0].node.name.value)
        if field is None or field.resolve is None:
            return None  # __typename, introspection, or graphql-core's default resolver
        plan = executor.plan(field.type, details)
        if plan is None:
            return None
        info: Any = executor.build_resolve_info(
            field, [d.node for d in details], root, Path(None, key, root.name)
        )
        coerced = info.variable_values is executor.variable_values.coerced
        template = info._replace(variable_values=None, context=None, async_helpers=None)
        names = type(info)._fields
        filled = tuple(names.index(n) for n in ("variable_values", "context", "async_helpers"))
        return cls(key, field, plan, template, coerced, filled, _constant(schema, field, info))

    async def run(
        self, schema: GraphQLSchema, variables: dict[str, Any] | None, context: Any
    ) -> dict[str, Any] | Refused | None:
        """The operation's data; None where graphql-core would report an error (Strawberry's
        path then answers); REFUSED for a value the plan cannot complete but graphql-core
        may (a list given as a generator): the executor's path answers that."""
        template, field = self.template, self.field
        if self.constant is not None:
            values, args = self.constant
        else:
            values, args = _coerce(schema, field, template, variables or {})
            if values is None:
                return None
        items = list(template)
        at_values, at_context, at_helpers = self.filled
        items[at_values] = values.coerced if self.coerced else values
        items[at_context], items[at_helpers] = context, _HELPERS
        info = tuple.__new__(type(template), items)
        assert field.resolve is not None  # prepare checked it
        try:
            result = field.resolve(None, info, **args)
            if template.is_awaitable(result):
                result = await result
        except Exception:  # Strawberry's path reports it
            return None
        if isinstance(result, Exception):  # a field error, returned rather than raised
            return None
        try:
            return {self.key: self.plan(result)}
        except _Fallback:
            return REFUSED


def _coerce(
    schema: GraphQLSchema, field: GraphQLField, template: Any, variables: dict[str, Any]
) -> tuple[Any, dict[str, Any]]:
    """The request's variables and the field's arguments, coerced as graphql-core does;
    (None, {}) where it would report an error."""
    definitions = template.operation.variable_definitions or ()
    values = get_variable_values(schema, definitions, variables)
    if isinstance(values, list):
        return None, {}
    node = template.field_nodes[0]
    try:
        args = get_argument_values(field, node, values) if field.args or node.arguments else {}
    except GraphQLError:
        return None, {}
    return values, args


def _constant(
    schema: GraphQLSchema, field: GraphQLField, template: Any
) -> tuple[Any, dict[str, Any]] | None:
    """`Direct.constant`: None for an operation that declares variables, or whose
    arguments are refused or hold a value a resolver could change (a list, an object)."""
    if template.operation.variable_definitions:
        return None
    values, args = _coerce(schema, field, template, {})
    if values is None or not all(isinstance(v, _IMMUTABLE) for v in args.values()):
        return None
    return values, args


_IMMUTABLE = (str, int, float, bool, type(None), enum.Enum)


class Refused(enum.Enum):
    REFUSED = "refused"


REFUSED = Refused.REFUSED


def _gather(values: Sequence[Awaitable[Any]]) -> Awaitable[list[Any]]:
    return gather_with_cancel(*values)


_settling: set[asyncio.Future[Any]] = set()


def _track(values: Sequence[Any]) -> None:
    """Settle a resolver's tracked work in the background, as the executor does
    (`Executor.track_async_work`): the answer does not wait for it."""
    awaitables = [v for v in values if optimized_is_awaitable(v)]
    if awaitables:
        future = asyncio.gather(*awaitables, return_exceptions=True)
        _settling.add(future)
        future.add_done_callback(_settling.discard)


_HELPERS = GraphQLResolveInfoHelpers(gather=_gather, track=_track)
"""The executor's helpers, as its `gather_async_work` and `track_async_work` do them."""
