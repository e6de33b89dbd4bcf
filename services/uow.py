"""One unit of work per request or task: the wrapper commits, then runs after-commit hooks."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager, nullcontext

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

Hook = Callable[[], Awaitable[None]]
log = logging.getLogger(__name__)


def after_commit(session: AsyncSession, hook: Hook) -> None:
    """Run `hook` once the transaction has committed (publishing, deleting files)."""
    session.info.setdefault("after_commit", []).append(hook)


def on_rollback(session: AsyncSession, hook: Hook) -> None:
    """Run `hook` if the transaction is rolled back (removing files written for it)."""
    session.info.setdefault("on_rollback", []).append(hook)


@asynccontextmanager
async def unit_of_work(
    factory: async_sessionmaker[AsyncSession],
    *,
    lock: AbstractAsyncContextManager[object] | None = None,
) -> AsyncIterator[AsyncSession]:
    """`lock`, when given, is held from the first statement to the commit or rollback,
    not while the hooks run."""
    async with factory() as session:
        try:
            async with lock if lock is not None else nullcontext():
                try:
                    yield session
                    await session.commit()
                except BaseException:
                    await session.rollback()
                    raise
        except BaseException:
            for hook in session.info.pop("on_rollback", []):
                await _safely(hook)
            raise
        for hook in session.info.pop("after_commit", []):
            await _safely(hook)


async def _safely(hook: Hook) -> None:
    try:
        await hook()
    except Exception:
        log.exception("after-transaction hook failed")
