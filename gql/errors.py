"""Unexpected errors are masked for the client and logged with the request id; every
other error leaves with a stable code in `extensions.code`, graphql-core's own
included: GRAPHQL_PARSE_FAILED (syntax), GRAPHQL_VALIDATION_FAILED (a document or its
variables that do not fit the schema), VALIDATION_ABORTED (graphql-core gave up: its
error budget, its overlap budget, see gql.limits.rules, or its recursion guard)."""

from __future__ import annotations

import logging

from graphql.error import GraphQLError, GraphQLSyntaxError
from graphql.validation.validate import ValidationAbortedError
from strawberry.exceptions import StrawberryGraphQLError
from strawberry.extensions import MaskErrors

from gql.request_id import current_request_id
from services.errors import ServiceError

log = logging.getLogger("reelgraph.errors")

PUBLIC = (ServiceError, StrawberryGraphQLError)


def is_unexpected(error: GraphQLError) -> bool:
    original = error.original_error
    if original is None or isinstance(original, GraphQLError):
        return False  # syntax, validation and variable errors are the client's own
    return not isinstance(original, PUBLIC)


def with_code(error: GraphQLError) -> GraphQLError:
    """`error` with a code: its own, or one for what graphql-core leaves uncoded."""
    if error.extensions and "code" in error.extensions:
        return error
    if isinstance(error, GraphQLSyntaxError):
        code = "GRAPHQL_PARSE_FAILED"
    elif isinstance(error, ValidationAbortedError):  # its error or overlap budget, see gql.limits
        code = "VALIDATION_ABORTED"
    elif error.path is None:
        code = "GRAPHQL_VALIDATION_FAILED"
    else:  # raised while executing, not by a resolver: a result the schema refused
        code = "INTERNAL_SERVER_ERROR"
    error.extensions = {**(error.extensions or {}), "code": code}
    return error


class MaskUnexpectedErrors(MaskErrors):
    def __init__(self) -> None:
        super().__init__(should_mask_error=is_unexpected, error_message="Internal server error.")

    def _process_errors(self, errors: list[GraphQLError]) -> list[GraphQLError]:
        return [with_code(error) for error in super()._process_errors(errors)]

    def anonymise_error(self, error: GraphQLError) -> GraphQLError:
        request_id = current_request_id()
        log.error(
            "unexpected error in %s [request_id=%s]",
            ".".join(str(p) for p in error.path or []),
            request_id,
            exc_info=error.original_error,
        )
        return GraphQLError(
            message=f"Internal server error (request id {request_id}).",
            nodes=error.nodes,
            source=error.source,
            positions=error.positions,
            path=error.path,
            original_error=None,
            extensions={"code": "INTERNAL_SERVER_ERROR", "requestId": request_id},
        )
