"""A shorter path through graphql-core for plain parts of a result: fields that Strawberry
itself would resolve with `getattr`.

graphql-core runs every field the same way: it builds a resolve info and a path, calls
the resolver (Strawberry's `getattr` for a field without one), then completes the value
through the non-null, list, leaf, abstract and object cases. A page of 1,000 assets is
some 8,000 such fields under one connection.

A field is *plain* when Strawberry resolves it with `getattr` (no resolver, no field
extension, no argument) and its type is a scalar, an enum, an object type whose selected
fields are all plain, or a list or non-null of those. `PlainExecutionContext`:

- reads a plain leaf and coerces it directly (`execute_field`);
- completes a value whose whole selection below is plain with a plan compiled once per
  selection of a parsed document (`complete_value`, `plan`): the selection is collected
  by graphql-core's own `collect_subfields` (fragments, `@include`/`@skip`, aliases,
  merging and order exactly as it does), then each object is one dict built from
  `getattr`s.

Anything unusual (a null for a non-null field, a value a scalar refuses, an object that
is not of its type, an exception, an abstract type, `@defer`, a middleware) falls back
to graphql-core's own path for that value, so errors read and sit exactly as before and
the data is the same, byte for byte (`VerifiedExecutionContext` proves it: it runs both
paths and compares; the test suite runs under it).
"""

from __future__ import annotations

import enum
import keyword
import logging
import math
from collections import OrderedDict
from collections.abc import Callable
from typing import Any, NamedTuple
from weakref import WeakKeyDictionary

import orjson
from graphql import (
    GRAPHQL_MAX_INT,
    GRAPHQL_MIN_INT,
    DirectiveNode,
    FragmentDefinitionNode,
    GraphQLBoolean,
    GraphQLEnumType,
    GraphQLFloat,
    GraphQLID,
    GraphQLInt,
    GraphQLLeafType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLOutputType,
    GraphQLResolveInfo,
    GraphQLScalarType,
    GraphQLSchema,
    GraphQLString,
    Node,
    OperationDefinitionNode,
    VariableNode,
    Visitor,
    is_leaf_type,
    is_object_type,
    visit,
)
from graphql.execution.collect_fields import FieldDetailsList
from graphql.pyutils import AwaitableOrValue, Path, Undefined, UndefinedType
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext
from strawberry.types.field import StrawberryField

from gql.types.connection import Edge
from gql.types.rows import RowEdges, RowSpec, spec_of

log = logging.getLogger("reelgraph.execution")


class _Plain(NamedTuple):
    attribute: str
    type: GraphQLOutputType


_Fields = dict[tuple[str, str], _Plain]
_plain_fields_of: WeakKeyDictionary[GraphQLSchema, _Fields] = WeakKeyDictionary()


def plain_fields(schema: GraphQLSchema) -> _Fields:
    """(type, field) -> the attribute to read, for every field of the schema's objects
    that Strawberry resolves with a bare `getattr`."""
    found = _plain_fields_of.get(schema)
    if found is not None:
        return found
    found = {}
    for type_ in schema.type_map.values():
        if not is_object_type(type_) or type_.name.startswith("__"):
            continue
        assert isinstance(type_, GraphQLObjectType)
        for name, field in type_.fields.items():
            definition = (field.extensions or {}).get("strawberry-definition")
            if not isinstance(definition, StrawberryField) or field.args:
                continue
            if not definition.is_basic_field or definition.default_resolver is not getattr:
                continue
            if definition.extensions or not definition.python_name:
                continue
            found[(type_.name, name)] = _Plain(definition.python_name, field.type)
    _plain_fields_of[schema] = found
    return found


SHARED_PLANS = 4096
"""Plans kept across requests; each holds its AST nodes, so their ids stay unique."""
_shared_plans: OrderedDict[tuple[Any, ...], tuple[tuple[Node, ...], Plan | None]] = OrderedDict()
_SWITCHES = frozenset({"include", "skip", "defer"})
_switch_names: OrderedDict[int, tuple[Node, tuple[str, ...]]] = OrderedDict()


def _switches(
    operation: OperationDefinitionNode,
    fragments: list[FragmentDefinitionNode],
    variables: dict[str, Any],
) -> tuple[Any, ...]:
    """The operation's identity and the values of the variables that its directives
    which change field collection read."""
    found = _switch_names.get(id(operation))
    if found is None or found[0] is not operation:
        names: set[str] = set()

        class Switches(Visitor):
            def enter_directive(self, node: DirectiveNode, *_: Any) -> None:
                if node.name.value in _SWITCHES:
                    for argument in node.arguments or ():
                        if isinstance(argument.value, VariableNode):
                            names.add(argument.value.name.value)

        for node in (operation, *fragments):
            visit(node, Switches())
        found = _switch_names[id(operation)] = (operation, tuple(sorted(names)))
        if len(_switch_names) > SHARED_PLANS:
            _switch_names.popitem(last=False)
    return (id(operation), *(repr(variables.get(name)) for name in found[1]))


class _Fallback(Exception):
    """This value needs graphql-core's own path (it raises or reports something)."""


_NO_INFO: Any = None
Plan = Callable[[Any], Any]
"""A value -> its completed result; raises _Fallback where graphql-core would differ."""


def _leaf(type_: GraphQLLeafType) -> Plan:
    coerce = type_.coerce_output_value
    same = _UNCHANGED.get(type_)
    # an enum's member -> (the member, kept alive so its id stays its own; its name)
    memo: dict[int, tuple[Any, Any]] = {}
    is_enum = isinstance(type_, GraphQLEnumType)

    def complete(value: Any) -> Any:
        if value is None:
            return None
        if same is not None and type(value) is same[0] and (same[1] is None or same[1](value)):
            return value  # what `coerce` returns for it: the value itself
        # An enum's coerce looks its member up by a linear scan, and a member hashes in
        # Python: memoised by identity (a member kept alive keeps its id its own).
        found = memo.get(id(value)) if is_enum else None
        if found is not None:
            return found[1]
        enumerated = is_enum and isinstance(value, enum.Enum)
        try:
            coerced = coerce(value)
        except Exception:
            raise _Fallback from None
        if coerced is None or coerced is Undefined:
            raise _Fallback
        if enumerated:
            memo[id(value)] = (value, coerced)
        return coerced

    if type_ is GraphQLInt:  # the commonest check, inlined

        def complete_int(value: Any) -> Any:
            if type(value) is int and GRAPHQL_MIN_INT <= value <= GRAPHQL_MAX_INT:
                return value
            return complete(value)

        return complete_int
    return complete


_UNCHANGED: dict[GraphQLLeafType, tuple[type, Callable[[Any], bool] | None]] = {
    # graphql-core's built-in scalars hand these values back as they are (None: all of them)
    GraphQLString: (str, None),
    GraphQLID: (str, None),
    GraphQLBoolean: (bool, None),
    GraphQLInt: (int, lambda v: GRAPHQL_MIN_INT <= v <= GRAPHQL_MAX_INT),
    GraphQLFloat: (float, math.isfinite),
}


def _non_null(inner: Plan) -> Plan:
    def complete(value: Any) -> Any:
        completed = None if value is None else inner(value)
        if completed is None:
            raise _Fallback
        return completed

    return complete


def _list(inner: Plan) -> Plan:
    def complete(value: Any) -> Any:
        if value is None:
            return None
        if type(value) is RowEdges:
            value = value.built()
        if not isinstance(value, list | tuple):
            raise _Fallback
        return [inner(item) for item in value]

    return complete


_Field = tuple[str, str | None, Plan | None, type | None]
"""(response key, attribute or None for __typename, plan, type its values pass as is)"""


def _passing(type_: GraphQLOutputType) -> type | None:
    """The Python type all of whose values a leaf field (nullable or not) completes to
    themselves (`_UNCHANGED`): such a field needs no call to its plan for them. `int`
    for an Int, whose values do within its 32 bits (`_item` checks them inline)."""
    named = type_.of_type if isinstance(type_, GraphQLNonNull) else type_
    if named is GraphQLInt:
        return int
    same = _UNCHANGED.get(named) if isinstance(named, GraphQLScalarType) else None
    return same[0] if same is not None and same[1] is None else None


def _item(i: int, key: str, plan: Plan | None, passing: type | None, env: dict[str, Any]) -> str:
    """The item of a dict display that completes `v{i}` with `plan` under `key` (its
    plan and type go into `env`): a value of the `passing` type needs no call."""
    if plan is None:
        return f"{key!r}: v{i}"
    env[f"p{i}"] = plan
    if passing is None:
        return f"{key!r}: p{i}(v{i})"
    if passing is int:  # an Int's range, as `complete_int` checks it, without its call
        bounds = f"{GRAPHQL_MIN_INT} <= v{i} <= {GRAPHQL_MAX_INT}"
        return f"{key!r}: v{i} if type(v{i}) is int and {bounds} else p{i}(v{i})"
    env[f"t{i}"] = passing
    return f"{key!r}: v{i} if type(v{i}) is t{i} else p{i}(v{i})"


def _object(type_: GraphQLObjectType, fields: list[_Field]) -> Plan:
    """An object's plan, written out as one function for its selection: attribute reads
    and a dict display, where a loop over the fields costs a tuple unpack, a `getattr`
    by name and tests per field per object (a page completes some 8,000 fields)."""
    env: dict[str, Any] = {
        "_Fallback": _Fallback,
        "is_type_of": type_.is_type_of,
        "name": type_.name,
        "_NO_INFO": _NO_INFO,
    }
    reads: list[str] = []
    items: list[str] = []
    for i, (key, attribute, plan, passing) in enumerate(fields):
        if attribute is None:  # __typename
            items.append(f"{key!r}: name")
            continue
        if attribute.isidentifier() and not keyword.iskeyword(attribute):
            reads.append(f"        v{i} = value.{attribute}")
        else:
            env[f"a{i}"] = attribute
            reads.append(f"        v{i} = getattr(value, a{i})")
        items.append(_item(i, key, plan, passing, env))
    lines = ["def complete(value):", "    if value is None:", "        return None"]
    if type_.is_type_of is not None:
        # Strawberry's is_type_of reads no info (an isinstance check); a plan has none.
        lines += ["    if is_type_of(value, _NO_INFO) is not True:", "        raise _Fallback"]
    if reads:
        lines += ["    try:", *reads, "    except Exception:", "        raise _Fallback from None"]
    lines.append("    return {" + ", ".join(items) + "}")
    exec(compile("\n".join(lines), f"<plan of {type_.name}>", "exec"), env)  # noqa: S102
    complete: Plan = env["complete"]
    return complete


class PlainExecutionContext(StrawberryGraphQLCoreExecutionContext):
    verify_rows = False
    """Complete a page from its rows both ways (`_edges_from_rows`), and log differences."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        middleware = self.middleware_manager
        plain = middleware is None or not middleware.middlewares
        self._plain = plain_fields(self.schema) if plain else {}
        # (type, id(field details)) -> (those details, kept alive; the plan or None)
        self._plans: dict[tuple[Any, int], tuple[FieldDetailsList, Plan | None]] = {}
        self._switches: tuple[Any, ...] | None = None

    def execute_field(
        self,
        parent_type: GraphQLObjectType,
        source: Any,
        field_details_list: FieldDetailsList,
        path: Path,
        position_context: Any,
    ) -> AwaitableOrValue[Any] | UndefinedType:
        plain = self._plain.get((parent_type.name, field_details_list[0].node.name.value))
        if plain is not None:
            plan = self.plan(plain.type, field_details_list)
            if plan is not None:
                try:
                    return plan(getattr(source, plain.attribute))
                except Exception:  # noqa: S110 - graphql-core's own path reports it
                    pass
        return super().execute_field(
            parent_type, source, field_details_list, path, position_context
        )

    def complete_value(
        self,
        return_type: GraphQLOutputType,
        field_details_list: FieldDetailsList,
        info: GraphQLResolveInfo[Any],
        path: Path,
        result: Any,
        position_context: Any,
    ) -> AwaitableOrValue[Any]:
        if self._plain and not isinstance(result, Exception):
            plan = self.plan(return_type, field_details_list)
            if plan is not None:
                try:
                    return plan(result)
                except _Fallback:
                    pass
        return super().complete_value(
            return_type, field_details_list, info, path, result, position_context
        )

    def plan(self, type_: GraphQLOutputType, details: FieldDetailsList) -> Plan | None:
        """How to complete a value of `type_` selected by `details`; None when some
        field below is not plain. Compiled once per selection of a parsed document (the
        parser cache keeps its nodes), and per value of the variables its `@include`,
        `@skip` and `@defer` read: those are all that can change what it collects."""
        key = (type_, id(details))
        cached = self._plans.get(key)
        if cached is not None:
            return cached[1]
        if self._switches is None:
            self._switches = _switches(
                self.operation,
                [f.definition for f in self.fragments.values()],
                self.variable_values.coerced,
            )
        nodes = tuple(d.node for d in details)
        shared = (id(self._plain), self.verify_rows, type_, tuple(map(id, nodes)), self._switches)
        found = _shared_plans.get(shared)
        if found is None:
            found = (nodes, self._compile(type_, details))
            _shared_plans[shared] = found
            if len(_shared_plans) > SHARED_PLANS:
                _shared_plans.popitem(last=False)
        self._plans[key] = (details, found[1])
        return found[1]

    def _compile(self, type_: GraphQLOutputType, details: FieldDetailsList) -> Plan | None:
        if isinstance(type_, GraphQLNonNull):
            inner = self.plan(type_.of_type, details)
            return None if inner is None else _non_null(inner)
        if isinstance(type_, GraphQLList):
            inner = self.plan(type_.of_type, details)
            if inner is None:
                return None
            rows = self._rows_plan(type_.of_type, details)
            if rows is None:
                return _list(inner)
            return _edges_from_rows(rows, _list(inner), verify=self.verify_rows)
        if is_leaf_type(type_):
            assert isinstance(type_, GraphQLLeafType)
            return _leaf(type_)
        if not isinstance(type_, GraphQLObjectType):
            return None  # an interface or a union: graphql-core resolves the type
        selected = self._selected(type_, details)
        if selected is None:
            return None
        fields: list[_Field] = []
        for key, name, group in selected:
            if name == "__typename":
                fields.append((key, None, None, None))
                continue
            plain = self._plain.get((type_.name, name))
            if plain is None:
                return None
            plan = self.plan(plain.type, group)
            if plan is None:
                return None
            fields.append((key, plain.attribute, plan, _passing(plain.type)))
        return _object(type_, fields)

    def _rows_plan(self, type_: GraphQLOutputType, details: FieldDetailsList) -> _Rows | None:
        """For a list of edges (`type_`) whose node type has a `RowSpec`, and whose
        selection reads nothing but plain fields of the node that the spec computes: what
        `_edges_from_rows` needs to complete a page straight from its rows."""
        edge = type_.of_type if isinstance(type_, GraphQLNonNull) else type_
        if not isinstance(edge, GraphQLObjectType) or _origin(edge) is not Edge:
            return None
        edge_fields = self._selected(edge, details)
        if edge_fields is None:
            return None
        node_group = None
        edge_items: list[tuple[str, bool]] = []
        for key, name, group in edge_fields:
            if name == "node":
                node_group = group
            elif name != "__typename":
                return None
            edge_items.append((key, name == "__typename"))
        plain = self._plain.get((edge.name, "node"))
        if node_group is None or plain is None:
            return None
        node = plain.type.of_type if isinstance(plain.type, GraphQLNonNull) else plain.type
        if not isinstance(node, GraphQLObjectType):
            return None
        spec = spec_of(_origin(node))
        node_fields = self._selected(node, node_group) if spec is not None else None
        if spec is None or node_fields is None:
            return None
        reads: list[tuple[str, str | None, Plan | None, type | None]] = []
        for key, name, group in node_fields:
            if name == "__typename":
                reads.append((key, None, None, None))
                continue
            field = self._plain.get((node.name, name))
            expression = spec.values.get(field.attribute) if field is not None else None
            if field is None or expression is None:
                return None
            plan = self.plan(field.type, group)
            if plan is None:
                return None
            reads.append((key, expression, plan, _passing(field.type)))
        return _Rows(spec, edge.name, node.name, edge_items, reads)

    def _selected(
        self, type_: GraphQLObjectType, details: FieldDetailsList
    ) -> list[tuple[str, str, FieldDetailsList]] | None:
        """(response key, field name, its details) of the selection, in graphql-core's
        order; None where something (@defer) makes it more than plain fields."""
        collected = self.collect_subfields(type_, details)
        if collected.new_defer_usages or collected.forbidden_directive_instances:
            return None
        found = []
        for key, group in collected.grouped_field_set.items():
            if any(d.defer_usage or d.fragment_variable_values for d in group):
                return None
            found.append((key, group[0].node.name.value, group))
        return found


def _origin(type_: GraphQLObjectType) -> type | None:
    """The Python class a Strawberry object type (or a specialisation of a generic one)
    was declared as."""
    definition = (type_.extensions or {}).get("strawberry-definition")
    if definition is None:
        return None
    generic = definition.concrete_of
    origin: type = (generic if generic is not None else definition).origin
    return origin


class _Rows(NamedTuple):
    spec: RowSpec
    edge_name: str
    node_name: str
    edge: list[tuple[str, bool]]
    """(response key, whether it is __typename; else it is the node)"""
    node: list[tuple[str, str | None, Plan | None, type | None]]
    """(response key, the spec's expression or None for __typename, plan, passing type)"""


def _edges_from_rows(rows: _Rows, otherwise: Plan, *, verify: bool = False) -> Plan:
    """A list of edges completed from a `RowEdges`' rows, written out as one function
    for its selection as `_object` writes an object's; any other value, `otherwise`.
    No node or edge object is made: their types are the spec's by construction (what
    their is_type_of checks), and any value that a plan refuses falls back whole."""
    spec = rows.spec
    env: dict[str, Any] = {
        **spec.names,
        "_Fallback": _Fallback,
        "RowEdges": RowEdges,
        "spec": spec,
        "otherwise": otherwise,
    }
    reads: list[str] = []
    node_items: list[str] = []
    for i, (key, expression, plan, passing) in enumerate(rows.node):
        if expression is None:
            node_items.append(f"{key!r}: {rows.node_name!r}")
            continue
        reads.append(f"            v{i} = {expression}")
        node_items.append(_item(i, key, plan, passing, env))
    node = "{" + ", ".join(node_items) + "}"
    edge_items = [
        f"{key!r}: {rows.edge_name!r}" if typename else f"{key!r}: {node}"
        for key, typename in rows.edge
    ]
    context = ", ".join(spec.context)
    lines = [
        "def complete(value):",
        "    if type(value) is not RowEdges or value.maker.spec is not spec:",
        "        return otherwise(value)",
        *([f"    {context}, = value.maker.context"] if context else []),
        "    out = []",
        "    append = out.append",
        "    try:",
        "        for row in value.rows:",
        *spec.source("            "),
        *reads,
        "            append({" + ", ".join(edge_items) + "})",
        "    except _Fallback:",
        "        raise",
        "    except Exception:",
        "        raise _Fallback from None",
        "    return out",
    ]
    exec(compile("\n".join(lines), f"<rows plan of {rows.edge_name}>", "exec"), env)  # noqa: S102
    complete: Plan = env["complete"]
    return _rows_verified(complete, otherwise) if verify else complete


def _rows_verified(complete: Plan, otherwise: Plan) -> Plan:
    """`complete`, checked against `otherwise` on the page's edges as objects (the path
    `Connection.of` took before `RowEdges`): the answer is the latter's."""

    def checked(value: Any) -> Any:
        if type(value) is not RowEdges:
            return otherwise(value)
        try:
            fast = complete(value)
        except _Fallback:
            fast = _Fallback
        try:
            expected = otherwise(value.built())
        except _Fallback:
            expected = _Fallback
        VerifiedExecutionContext.rows_compared += 1
        # falling back where the objects complete costs time only; anything else differs
        if fast is not _Fallback and (expected is _Fallback or _dump(fast) != _dump(expected)):
            log.error(
                "page from rows differs: %s instead of %s",
                _dump(fast)[:2000],
                "<falls back>" if expected is _Fallback else _dump(expected)[:2000],
            )
        if expected is _Fallback:
            raise _Fallback
        return expected

    return checked


class VerifiedExecutionContext(PlainExecutionContext):
    """Completes every plain value both ways, graphql-core's own and the plan, and logs
    an error when they differ (the answer is then graphql-core's). Slow: for tests and
    for checking a deployment (`REELGRAPH_VERIFY_PLAIN_EXECUTION`)."""

    verify_rows = True
    compared = 0
    """Values compared in this process, so a test can tell that comparing happened."""
    rows_compared = 0
    """Pages completed from rows and compared (`_rows_verified`)."""

    def complete_value(
        self,
        return_type: GraphQLOutputType,
        field_details_list: FieldDetailsList,
        info: GraphQLResolveInfo[Any],
        path: Path,
        result: Any,
        position_context: Any,
    ) -> AwaitableOrValue[Any]:
        own = StrawberryGraphQLCoreExecutionContext.complete_value
        plan = None if isinstance(result, Exception) else self.plan(return_type, field_details_list)
        if plan is None:
            return own(self, return_type, field_details_list, info, path, result, position_context)
        errors = len(self.collected_errors.errors)
        expected = own(self, return_type, field_details_list, info, path, result, position_context)
        try:
            fast = plan(result)
        except _Fallback:
            return expected
        VerifiedExecutionContext.compared += 1
        added = len(self.collected_errors.errors) - errors
        if self.is_awaitable(expected) or added or _dump(fast) != _dump(expected):
            log.error(
                "plain execution differs at %s: %s instead of %s (%d errors)",
                path.as_list(), _dump(fast), "<awaitable>" if self.is_awaitable(expected)
                else _dump(expected), added,
            )  # fmt: skip
        return expected


def _dump(value: Any) -> bytes:
    return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS)
