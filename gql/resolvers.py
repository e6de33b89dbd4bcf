"""Lean resolvers: a field's own function called as Strawberry calls it, without the
wrapping Strawberry builds around every call.

For each call of a field with a resolver, Strawberry's wrapper (`from_resolver` in
strawberry.schema.schema_converter) makes an `Info`, converts every argument (looking
its GraphQL name up through the name converter and walking the type's wrappers each
time), builds closures for the field extensions' chain, then calls the function; an
`async` resolver is wrapped in a second coroutine that awaits it. Measured in a list of
50 objects, a resolver with two scalar arguments cost some 60 µs a call that way, and
some 20 µs called directly; a page of 50 campaigns calls about 110 resolvers
(bench/graph_bench.py).

`install` replaces the wrapper, for every field that has nothing for it to do but the
above, with one built once per field (`_lean`): the names and the argument types are
looked at once, an argument of a scalar or an enum (or its null) is passed as it is
(what Strawberry's `convert_argument` returns for it), any other argument is converted
by Strawberry's own `convert_argument`, and `self`, `root`, `parent` and `info` are
passed as Strawberry passes them. A coroutine is returned to graphql-core, which awaits
it as it awaits Strawberry's.

A field keeps Strawberry's wrapper when it has field extensions (permission classes,
`relay.node()`, connection extensions: they rewrite arguments and results) or is a
subscription, and every field keeps it when the schema has exception handlers.

Verifying (`REELGRAPH_VERIFY_PLAIN_EXECUTION`, as the test suite runs), a lean resolver
calls Strawberry's own wrapper instead wherever `STRAWBERRY` is set: gql.prepared sets
it for the run that checks each query's answer, so every query of the suite is answered
both ways, and a difference is logged as an error.
"""

from __future__ import annotations

import contextvars
import logging
from collections.abc import Callable
from typing import Any, cast

import strawberry
from graphql import GraphQLField, GraphQLObjectType, GraphQLResolveInfo
from strawberry.types.arguments import convert_argument
from strawberry.types.base import StrawberryMaybe, StrawberryOptional
from strawberry.types.enum import StrawberryEnumDefinition, has_enum_definition
from strawberry.types.field import StrawberryField

log = logging.getLogger("reelgraph.execution")

STRAWBERRY: contextvars.ContextVar[bool] = contextvars.ContextVar(
    "reelgraph_strawberry_resolvers", default=False
)
"""Set in a context (when verifying): lean resolvers call Strawberry's wrappers there."""

_SCALARS: tuple[Any, ...] = (int, float, str, bool, strawberry.ID)
"""Argument types whose values Strawberry passes on as graphql-core coerced them."""


def _passes(type_: Any) -> bool:
    """Whether `convert_argument` returns any value of `type_` unchanged (None included)."""
    if isinstance(type_, StrawberryMaybe):  # wrapped in Some(...)
        return False
    if isinstance(type_, StrawberryOptional):
        type_ = type_.of_type
    if isinstance(type_, StrawberryEnumDefinition) or has_enum_definition(type_):
        return True
    return any(type_ is scalar for scalar in _SCALARS)


def _lean(field: StrawberryField, schema: strawberry.Schema) -> Callable[..., Any]:
    resolver = field.base_resolver
    assert resolver is not None
    function = cast("Callable[..., Any]", resolver.wrapped_func)  # callable: _qualifies
    config = schema.config
    registry = schema.schema_converter.scalar_registry
    make_info = config.info_class
    arguments = [
        (config.name_converter.from_argument(a), a.python_name, a.type, _passes(a.type))
        for a in field.arguments
    ]
    takes_self = resolver.self_parameter is not None
    sources = [p.name for p in (resolver.parent_parameter, resolver.root_parameter) if p]
    info_name = resolver.info_parameter.name if resolver.info_parameter else None
    converts = not all(passes for *_, passes in arguments)

    def resolve(source: Any, info: GraphQLResolveInfo[Any], **values: Any) -> Any:
        strawberry_info = make_info(_raw_info=info, _field=field) if info_name or converts else None
        kwargs: dict[str, Any] = {}
        for name, python_name, type_, passes in arguments:
            if name in values:
                value = values[name]
                if not passes:
                    value = convert_argument(
                        value, type_, registry, config, strawberry_info, path=(name,)
                    )
                kwargs[python_name] = value
        for name in sources:
            kwargs[name] = source
        if info_name is not None:
            kwargs[info_name] = strawberry_info
        return function(source, **kwargs) if takes_self else function(**kwargs)

    return resolve


def _verifying(lean: Callable[..., Any], own: Callable[..., Any]) -> Callable[..., Any]:
    def resolve(source: Any, info: GraphQLResolveInfo[Any], **values: Any) -> Any:
        return (own if STRAWBERRY.get() else lean)(source, info, **values)

    return resolve


def install(schema: strawberry.Schema, *, verify: bool = False) -> int:
    """Give every field that qualifies (see the module) a lean resolver; returns how many.
    `verify`: one that calls Strawberry's wrapper where `STRAWBERRY` is set."""
    if getattr(schema.schema_converter, "_exception_handler_specs", ()):
        log.warning("no lean resolvers: the schema has exception handlers")
        return 0
    subscription = schema._schema.subscription_type
    installed = 0
    for type_ in schema._schema.type_map.values():
        if not isinstance(type_, GraphQLObjectType) or type_ is subscription:
            continue
        for graphql_field in type_.fields.values():
            if _qualifies(graphql_field):
                lean = _lean(graphql_field.extensions["strawberry-definition"], schema)
                own = graphql_field.resolve
                assert own is not None
                graphql_field.resolve = _verifying(lean, own) if verify else lean
                installed += 1
    return installed


def _qualifies(graphql_field: GraphQLField) -> bool:
    definition = (graphql_field.extensions or {}).get("strawberry-definition")
    return (
        isinstance(definition, StrawberryField)
        and definition.base_resolver is not None
        and not definition.extensions
        and not definition.is_subscription
        and callable(definition.base_resolver.wrapped_func)
    )
