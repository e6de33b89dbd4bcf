"""Run a mutation as one unit of work; expected failures become `UserError` payloads."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated, TypeAlias, TypeVar

import strawberry
from sqlalchemy.ext.asyncio import AsyncSession

from gql.context import Info
from gql.types.errors import UserError
from services.creative.writer import CreativeWriter
from services.errors import ServiceError, WriterFailed
from services.llm import LlmError
from services.rate_limits import Limit
from services.uow import unit_of_work
from services.viewer import Viewer

T = TypeVar("T")

Work: TypeAlias = Callable[[AsyncSession, Viewer], Awaitable[T]]
"""A mutation's unit of work: it calls services with the session and the viewer and
returns the success payload. It never commits; a `ServiceError` it raises rolls back
everything it wrote and becomes the mutation's `UserError`."""


async def mutate(info: Info, work: Work[T]) -> T | UserError:
    viewer = info.context.require_viewer()
    try:
        # Not runtime.transaction(): an upload stages and probes its file inside this unit
        # of work, and on SQLite the write lock is only taken at its first write. So a
        # check that must read under that lock begins with a write: a budget check locks
        # its campaign with a no-op UPDATE (services.generation.budget.lock_campaign).
        async with unit_of_work(info.context.runtime.session_factory) as session:
            return await work(session, viewer)
    except ServiceError as exc:
        return UserError.of(exc)


P = TypeVar("P")
R = TypeVar("R")


async def mutate_with_writer(
    info: Info,
    prepare: Work[P],
    write: Callable[[CreativeWriter, P], Awaitable[R]],
    store: Callable[[AsyncSession, Viewer, P, R], Awaitable[T]],
) -> T | UserError:
    """A mutation that asks the writer (an LLM: seconds, sometimes a minute) between a
    read and a write, holding no connection while it waits: `prepare` reads and checks
    in a session of its own, `write` calls the writer, `store` writes as one unit of
    work (checking again what may have changed meanwhile)."""
    viewer = info.context.require_viewer()
    runtime = info.context.runtime
    try:
        await info.context.check_rate(Limit.WRITING)
        async with runtime.session_factory() as session:
            prepared = await prepare(session, viewer)
        try:
            written = await write(runtime.writer, prepared)
        except LlmError as exc:
            again = " (try again)" if exc.retryable else ""
            raise WriterFailed(f"the writer failed: {exc.message}{again}") from exc
    except ServiceError as exc:
        return UserError.of(exc)
    return await mutate(info, lambda session, viewer: store(session, viewer, prepared, written))


@strawberry.type(description="The row a `delete*` mutation removed.")
class DeletePayload:
    deleted_id: strawberry.ID


DeleteResult = Annotated[DeletePayload | UserError, strawberry.union("DeleteResult")]
