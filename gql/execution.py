"""A shorter path through graphql-core for the commonest field: a plain attribute of a leaf type.

graphql-core runs every field the same way: it builds a resolve info, calls the
resolver (Strawberry's `getattr` for a field without one), then completes the value
through the non-null, list, leaf, abstract and object cases. A page of 1,000 assets
is some 7,000 such fields. For a field that Strawberry itself resolves with `getattr`
(no resolver, no field extension, no argument) and whose type is a scalar or an enum,
`LeafFastExecutionContext` reads the attribute and coerces it directly. Anything
unusual (a null for a non-null field, a value the scalar refuses, an exception, a
middleware) falls back to graphql-core's own path, so errors read and sit as before.
"""

from __future__ import annotations

from typing import Any, NamedTuple
from weakref import WeakKeyDictionary

from graphql import (
    GraphQLLeafType,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLSchema,
    is_leaf_type,
    is_object_type,
)
from graphql.execution.collect_fields import FieldDetailsList
from graphql.pyutils import AwaitableOrValue, Path, Undefined, UndefinedType
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext
from strawberry.types.field import StrawberryField


class _Plain(NamedTuple):
    attribute: str
    type: GraphQLLeafType
    non_null: bool


_Plans = dict[tuple[str, str], _Plain]
_plans: WeakKeyDictionary[GraphQLSchema, _Plans] = WeakKeyDictionary()


def _plain_fields(schema: GraphQLSchema) -> _Plans:
    """(type, field) -> how to read it, for every plain leaf field of the schema's objects."""
    plans: _Plans = {}
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
            non_null = isinstance(field.type, GraphQLNonNull)
            leaf = field.type.of_type if isinstance(field.type, GraphQLNonNull) else field.type
            if is_leaf_type(leaf) and definition.python_name:
                assert isinstance(leaf, GraphQLLeafType)
                plans[(type_.name, name)] = _Plain(definition.python_name, leaf, non_null)
    return plans


class LeafFastExecutionContext(StrawberryGraphQLCoreExecutionContext):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        plans = _plans.get(self.schema)
        if plans is None:
            plans = _plans[self.schema] = _plain_fields(self.schema)
        middleware = self.middleware_manager
        self._plain = plans if middleware is None or not middleware.middlewares else {}

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
            try:
                value = getattr(source, plain.attribute)
                if value is None:
                    if not plain.non_null:
                        return None
                elif not isinstance(value, Exception):
                    coerced = plain.type.coerce_output_value(value)
                    if coerced is not None and coerced is not Undefined:
                        return coerced
            except Exception:  # noqa: S110 - graphql-core's own path reports it
                pass
        return super().execute_field(
            parent_type, source, field_details_list, path, position_context
        )
