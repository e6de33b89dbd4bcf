"""Unexpected errors are masked for the client and logged at ERROR with the request id and
their traceback; a client's own errors are logged at INFO, one line each (code, message,
request id). Every error but the masked leaves with a stable code in `extensions.code`,
graphql-core's own included: GRAPHQL_PARSE_FAILED (syntax), GRAPHQL_VALIDATION_FAILED
(a document or its variables that do not fit the schema), VALIDATION_ABORTED
(graphql-core gave up: its error budget, its overlap budget, see gql.limits.rules, or
its recursion guard)."""

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
MAX_LOGGED_MESSAGE = 300  # a client's error message can quote its document


def is_unexpected(error: GraphQLError) -> bool:
    original = error.original_error
    if original is None or isinstance(original, GraphQLError):
        return False  # syntax, validation and variable errors are the client's own
    return not isinstance(original, PUBLIC)


def log_error(error: GraphQLError) -> None:
    """Log one error of an operation, once (Schema.process_errors calls this for each).
    A client's error gets its code here first, so the log line and the response agree even
    where no extension sees the result (a document that does not parse)."""
    request_id = current_request_id()
    where = ".".join(str(p) for p in error.path or []) or "-"
    if is_unexpected(error):
        log.error(
            "unexpected error in %s [request_id=%s]",
            where,
            request_id,
            exc_info=error.original_error,
        )
        return
    code = (with_code(error).extensions or {}).get("code")
    message = " ".join(error.message[:MAX_LOGGED_MESSAGE].split())
    if code == "INTERNAL_SERVER_ERROR":  # a result the schema refused: ours, not the client's
        log.error("%s in %s: %s [request_id=%s]", code, where, message, request_id)
    else:
        log.info("client error %s: %s [request_id=%s]", code, message, request_id)


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
        request_id = current_request_id()  # logged by log_error, with its traceback
        return GraphQLError(
            message=f"Internal server error (request id {request_id}).",
            nodes=error.nodes,
            source=error.source,
            positions=error.positions,
            path=error.path,
            original_error=None,
            extensions={"code": "INTERNAL_SERVER_ERROR", "requestId": request_id},
        )
