"""The cost of an operation with variables, measured again with their values before it
runs. (graphql-core's own abort of a validation gets its code in gql.error_masking.)"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from graphql import (
    DocumentNode,
    GraphQLError,
    GraphQLSchema,
    IntValueNode,
    OperationDefinitionNode,
    get_operation_ast,
)
from graphql.execution import ExecutionResult as GraphQLExecutionResult
from strawberry.extensions import SchemaExtension

from gql.limits.measure import Analysis, Limits
from gql.limits.rules import refusals


def too_costly(
    schema: GraphQLSchema,
    document: DocumentNode,
    operation: OperationDefinitionNode,
    limits: Limits,
    variables: Mapping[str, Any] | None,
) -> list[GraphQLError]:
    """QUERY_TOO_COSTLY refusals of an operation that declares variables, priced with
    their values (a `first: $n` counts as a page of 1 in validation); none otherwise."""
    if not operation.variable_definitions:
        return []
    values: dict[str, Any] = {}
    for definition in operation.variable_definitions:
        if isinstance(definition.default_value, IntValueNode):
            values[definition.variable.name.value] = int(definition.default_value.value)
    values.update(variables or {})
    analysis = Analysis(schema, document, limits, values)
    return [
        error
        for error in refusals(analysis.operation(operation), limits, operation)
        if error.extensions and error.extensions["code"] == "QUERY_TOO_COSTLY"
    ]


class QueryLimitsExtension(SchemaExtension):
    """Prices an operation that declares variables again, with their values, before it runs."""

    def __init__(self, limits: Limits) -> None:
        super().__init__()
        self.limits = limits

    def on_execute(self) -> Iterator[None]:
        context = self.execution_context
        document = context.graphql_document
        if document is not None and context.result is None:
            operation = get_operation_ast(document, context.operation_name)
            if operation is not None:
                schema = context.schema._schema
                errors = too_costly(schema, document, operation, self.limits, context.variables)
                if errors:
                    context.result = GraphQLExecutionResult(data=None, errors=errors)
        yield
