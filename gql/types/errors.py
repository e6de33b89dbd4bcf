"""One error convention for every mutation: payload unions whose errors carry a stable code."""

from __future__ import annotations

import strawberry

from services.errors import ErrorCode as ServiceErrorCode
from services.errors import ServiceError

ErrorCode = strawberry.enum(ServiceErrorCode, name="ErrorCode")


@strawberry.interface(description="An expected failure: nothing was written.")
class Error:
    code: ServiceErrorCode = strawberry.field(description="Stable, machine-readable reason.")
    message: str
    field: str | None = strawberry.field(
        description="The input field at fault, as a dotted path in the mutation's input."
    )


@strawberry.type(description="Invalid input, a missing or foreign ID, or an unusable file.")
class UserError(Error):
    @classmethod
    def of(cls, exc: ServiceError) -> UserError:
        return cls(code=exc.code, message=exc.message, field=exc.field)
