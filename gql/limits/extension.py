"""The cost of an operation with variables, measured again with their values before it
runs. (graphql-core's own abort of a validation gets its code in gql.error_masking.)"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from graphql import IntValueNode, OperationDefinitionNode, get_operation_ast
from graphql.execution import ExecutionResult as GraphQLExecutionResult
from strawberry.extensions import SchemaExtension

from gql.limits.measure import Analysis, Limits
from gql.limits.rules import refusals


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
            if operation is not None and operation.variable_definitions:
                schema = context.schema._schema
                analysis = Analysis(schema, document, self.limits, self._values(operation))
                errors = [
                    error
                    for error in refusals(analysis.operation(operation), self.limits, operation)
                    if error.extensions and error.extensions["code"] == "QUERY_TOO_COSTLY"
                ]
                if errors:
                    context.result = GraphQLExecutionResult(data=None, errors=errors)
        yield

    def _values(self, operation: OperationDefinitionNode) -> dict[str, Any]:
        values: dict[str, Any] = {}
        for definition in operation.variable_definitions or ():
            if isinstance(definition.default_value, IntValueNode):
                values[definition.variable.name.value] = int(definition.default_value.value)
        values.update(self.execution_context.variables or {})
        return values
