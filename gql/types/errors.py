"""One error convention for every mutation: payload unions whose errors carry a stable code."""

from __future__ import annotations

import strawberry

from services.errors import ErrorCode as ServiceErrorCode
from services.errors import RateLimited, ServiceError

ErrorCode = strawberry.enum(ServiceErrorCode, name="ErrorCode")


@strawberry.interface(description="An expected failure: nothing was written.")
class Error:
    code: ServiceErrorCode = strawberry.field(description="Stable, machine-readable reason.")
    message: str
    field: str | None = strawberry.field(
        description="The input field at fault, as a dotted path in the mutation's input."
    )
    retry_after: int | None = strawberry.field(
        default=None, description="RATE_LIMITED: whole seconds to wait before trying again."
    )


@strawberry.type(description="Invalid input, a missing or foreign ID, or an unusable file.")
class UserError(Error):
    @classmethod
    def of(cls, exc: ServiceError) -> UserError:
        retry_after = exc.retry_after if isinstance(exc, RateLimited) else None
        return cls(code=exc.code, message=exc.message, field=exc.field, retry_after=retry_after)
