"""The validation rules: the limits of gql.limits.measure, and introspection off."""

from __future__ import annotations

from typing import Any

from graphql import (
    ASTValidationRule,
    DocumentNode,
    GraphQLError,
    OperationDefinitionNode,
    ValidationContext,
    ValidationRule,
)
from graphql.language import SKIP, VisitorAction
from graphql.validation import NoSchemaIntrospectionCustomRule
from graphql.validation.rules import overlapping_fields_can_be_merged
from graphql.validation.validate import ValidationAbortedError

from gql.limits.measure import Analysis, Limits, Measure


def limit_error(
    code: str, message: str, limit: int, measured: int | None = None, node: Any = None
) -> GraphQLError:
    extensions: dict[str, Any] = {"code": code, "limit": limit}
    if measured is not None:
        extensions["measured"] = measured
    return GraphQLError(message, node, extensions=extensions)


def refusals(measure: Measure, limits: Limits, node: OperationDefinitionNode) -> list[GraphQLError]:
    name = f"Operation '{node.name.value}'" if node.name else "The operation"
    checks = [
        ("QUERY_TOO_DEEP", "nests {} deep", measure.depth, limits.depth),
        ("TOO_MANY_ALIASES", "has {} aliases", measure.aliases, limits.aliases),
        ("TOO_MANY_FRAGMENT_SPREADS", "spreads {} fragments", measure.spreads, limits.spreads),
        ("QUERY_TOO_COSTLY", "costs {}", measure.cost, limits.cost),
    ]
    return [
        limit_error(code, f"{name} {what.format(value)}; the limit is {limit}.", limit, value, node)
        for code, what, value, limit in checks
        if value > limit
    ]


class _Refused(ValidationAbortedError):
    """A refusal raised to stop the validation; `validate` returns it as its last error."""


def limits_rule(limits: Limits) -> type[ValidationRule]:
    """The rule for `limits`; build it once per schema (the ValidationCache keys on it)."""

    class QueryLimitsRule(ValidationRule):
        def enter_document(self, node: DocumentNode, *_args: Any) -> VisitorAction:
            analysis = Analysis(self.context.schema, node, limits)
            errors = [
                error
                for operation in node.definitions
                if isinstance(operation, OperationDefinitionNode)
                for error in refusals(analysis.operation(operation), limits, operation)
            ]
            if errors:
                *reported, last = errors
                for error in reported:
                    self.report_error(error)
                raise _Refused(last.message, last.nodes, extensions=last.extensions)
            return SKIP

    return QueryLimitsRule


class NoIntrospection(NoSchemaIntrospectionCustomRule):
    """graphql-core's rule, with a code, reporting only its first finding."""

    def __init__(self, context: ValidationContext) -> None:
        super().__init__(context)
        self.reported = False

    def report_error(self, error: GraphQLError) -> None:
        if not self.reported:
            self.reported = True
            code = {"code": "INTROSPECTION_DISABLED"}
            super().report_error(GraphQLError(error.message, error.nodes, extensions=code))


# graphql-core's OverlappingFieldsCanBeMergedRule compares the fields that share a
# response name pairwise (quadratic) and meters it with a budget per document, aborting
# the validation when it runs out. Its default, 500,000 units, is about a second of CPU
# here, spent on a 3 kB document within every limit above (`{ viewer { role } }` 400
# times: 399,000 units). This API's own queries use none of it (GraphiQL's introspection,
# the benchmark page, the suite's documents: 0), so 25,000 (some 50 ms) leaves room. The
# budget is a module attribute that graphql-core documents as the knob and reads when a
# validation starts: one value per process, set when a schema is built.
OVERLAP_BUDGET = 25_000


def validation_rules(limits: Limits) -> list[type[ASTValidationRule]]:
    """The rules a schema adds, built once for it; also sets the overlap budget."""
    overlapping_fields_can_be_merged.MAX_COMPLEXITY_BUDGET = OVERLAP_BUDGET
    rules: list[type[ASTValidationRule]] = [limits_rule(limits)]
    if not limits.introspection:
        rules.append(NoIntrospection)
    return rules
