"""Expected failures: each has a stable code, a message for people and the input field."""

from __future__ import annotations

import enum


class ErrorCode(enum.StrEnum):
    INVALID_INPUT = "INVALID_INPUT"
    NOT_FOUND = "NOT_FOUND"
    FORBIDDEN = "FORBIDDEN"
    UNAUTHENTICATED = "UNAUTHENTICATED"
    UNSUPPORTED_FILE = "UNSUPPORTED_FILE"
    FILE_TOO_LARGE = "FILE_TOO_LARGE"
    CONFLICT = "CONFLICT"
    BUDGET_EXCEEDED = "BUDGET_EXCEEDED"
    RATE_LIMITED = "RATE_LIMITED"
    URL_REFUSED = "URL_REFUSED"
    FETCH_FAILED = "FETCH_FAILED"
    WRITER_FAILED = "WRITER_FAILED"


class ServiceError(Exception):
    code: ErrorCode = ErrorCode.INVALID_INPUT

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field

    @property
    def extensions(self) -> dict[str, object]:
        """Read by graphql-core when this surfaces as a GraphQL error (queries)."""
        return {"code": self.code.value, "field": self.field}


class InvalidInput(ServiceError):
    code = ErrorCode.INVALID_INPUT


class NotFound(ServiceError):
    code = ErrorCode.NOT_FOUND


class Forbidden(ServiceError):
    code = ErrorCode.FORBIDDEN


class Unauthenticated(ServiceError):
    code = ErrorCode.UNAUTHENTICATED


class UnsupportedFile(ServiceError):
    code = ErrorCode.UNSUPPORTED_FILE


class FileTooLarge(ServiceError):
    code = ErrorCode.FILE_TOO_LARGE


class Conflict(ServiceError):
    code = ErrorCode.CONFLICT


class BudgetExceeded(ServiceError):
    code = ErrorCode.BUDGET_EXCEEDED


class UrlRefused(ServiceError):
    """A URL the server will not fetch: not http(s), or an address that is not public."""

    code = ErrorCode.URL_REFUSED


class FetchFailed(ServiceError):
    """A URL that could not be fetched: no answer, an HTTP error, a timeout."""

    code = ErrorCode.FETCH_FAILED


class WriterFailed(ServiceError):
    """The writer (the LLM) could not do it: unreachable, refused, or answered nonsense.
    Nothing was written; trying again may help."""

    code = ErrorCode.WRITER_FAILED


class RateLimited(ServiceError):
    code = ErrorCode.RATE_LIMITED

    def __init__(self, message: str, *, retry_after: int, field: str | None = None) -> None:
        super().__init__(message, field=field)
        self.retry_after = retry_after

    @property
    def extensions(self) -> dict[str, object]:
        return {**super().extensions, "retryAfter": self.retry_after}
