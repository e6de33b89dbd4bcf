"""One connection for the reads of one request.

A GraphQL page reads at every level of its query: the root resolver, then one batch per
DataLoader per level. With a session per batch, each statement paid for a pool checkout,
a `BEGIN`, a `ROLLBACK` and (with pre-ping) a ping: four round trips on PostgreSQL for
one statement. `ReadSession` opens one session on first use and keeps it until the
request ends; on PostgreSQL it runs in autocommit, so each statement is one round trip
and sees what has committed (as a new session per batch did). Statements take turns:
one session runs one statement at a time, and a request's batches at one level run one
after another anyway on one connection.

On an SQLite file, a `ReadSession`'s Core statements (`core_rows`) run instead in
`ThreadedReads`: SQLAlchemy's synchronous engine over the stdlib driver, one statement a
call in a small pool of threads. Through the aiosqlite adapter each statement crossed
from the event loop to the driver's thread and back five times (a cursor, the execute,
the fetch, closing it, the rollback when the connection went back); each crossing wakes
the loop, and together they cost more than the statement: 0.63 ms for a one-row select,
against 0.22 ms as one call in a thread (measured in-process, CPU per statement). The
rows are read and processed (the same column types) in the thread and handed back as a
list. SQLite readers in WAL mode wait for no writer, and each statement
sees what has committed, as a read on the async engine did.

On either database a Core statement then runs on the driver itself, SQLAlchemy
compiling it and converting its values (services/driver_reads.py), unless something
listens to the engine's statements.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import functools
import queue
import sqlite3
import threading
import warnings
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any, Protocol, TypeVarTuple, cast
from weakref import WeakKeyDictionary

import orjson
from sqlalchemy import Connection, Engine, Result, Row, event
from sqlalchemy.engine.interfaces import Dialect
from sqlalchemy.exc import MissingGreenlet
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from sqlalchemy.orm import Session
from sqlalchemy.pool import Pool, PoolProxiedConnection, QueuePool
from sqlalchemy.sql.selectable import TypedReturnsRows
from sqlalchemy.util import greenlet_spawn

from services.driver_reads import UNUSABLE, Compiled, DriverStatements, convert, instrumented


class Sessions(Protocol):
    """Where a reader gets a session from: a factory's call, or a request's `ReadSession`."""

    def __call__(self) -> AbstractAsyncContextManager[AsyncSession]: ...


@functools.cache
def _reading(engine: AsyncEngine) -> AsyncEngine:
    """The engine, in autocommit on PostgreSQL: no BEGIN/ROLLBACK around a read. (SQLite's
    driver opens no transaction for a SELECT.)"""
    if engine.dialect.name == "postgresql":
        return engine.execution_options(isolation_level="AUTOCOMMIT")
    return engine


class ThreadedReads:
    """Core statements on an SQLite file, each one call in a thread of their own (as many
    as the engine has connections): checkout, execute on the driver
    (services/driver_reads.py), every row, checkin.

    The threads take statements from one queue and hand each result back to the caller's
    loop with `call_soon_threadsafe`: a crossing cost 70 us of CPU, against 115 us through
    `loop.run_in_executor` and a `ThreadPoolExecutor` (its concurrent future, wrapped in
    an asyncio one, and the executor's own bookkeeping), measured round trip for a call
    that does nothing. A one-row query crosses once."""

    def __init__(self, engine: Engine, threads: int) -> None:
        self.engine = engine
        self._jobs: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        self._threads = [
            threading.Thread(target=self._work, name=f"reelgraph-reads_{i}", daemon=True)
            for i in range(threads)
        ]
        for thread in self._threads:
            thread.start()

    async def execute(
        self, statement: TypedReturnsRows[*Ts], params: dict[str, Any] | None = None
    ) -> Sequence[tuple[*Ts]]:
        future: asyncio.Future[Sequence[tuple[*Ts]]] = asyncio.get_running_loop().create_future()
        # the caller's context goes along: statement recorders (tests, benchmarks) read it
        self._jobs.put((future, contextvars.copy_context(), statement, params))
        return await future

    def _work(self) -> None:
        while (job := self._jobs.get()) is not None:
            future, context, statement, params = job
            try:
                rows = context.run(self._execute, statement, params)
            except BaseException as exc:  # the caller's to raise
                _hand_back(future, _fail, exc)
            else:
                _hand_back(future, _settle, rows)

    def _execute(
        self, statement: TypedReturnsRows[*Ts], params: dict[str, Any] | None
    ) -> Sequence[tuple[*Ts]]:
        if instrumented(self.engine):
            bound = None
        else:
            bound = _statements(self.engine.dialect).bind(statement, params)
        if bound is not None:
            rows = self._on_driver(*bound)
            if rows is not None:
                return rows
        with self.engine.connect() as connection:
            return _tuples(connection.execute(statement, params).all())

    def _on_driver(self, compiled: Compiled, sql: str, args: list[Any]) -> Sequence[Any] | None:
        """The rows, or None when the driver raised (SQLAlchemy's path then reports it)
        or the statement is left to SQLAlchemy."""
        connection = self.engine.raw_connection()
        try:
            driver: sqlite3.Connection = connection.driver_connection  # type: ignore[assignment]
            whole = compiled.whole
            if whole is not None:
                array = _as_json_array(driver, whole, sql, args)
                if array is not None:
                    rows = orjson.loads(array)
                    return (
                        list(map(tuple, rows))
                        if compiled.row is None
                        else convert(rows, compiled.row)
                    )
            cursor = driver.execute(sql, args)
            if not compiled.typed:  # sqlite3 reports no column types, only the columns
                compiled.type_columns(self.engine.dialect, [None] * len(cursor.description))
            if compiled.row is UNUSABLE:
                return None
            rows = cursor.fetchall()
            if whole is not None:  # the statement runs, and not as one array: never again
                compiled.whole = None
        except Exception:
            return None
        finally:
            connection.close()
        return convert(rows, compiled.row)

    def close(self) -> None:
        for _ in self._threads:
            self._jobs.put(None)
        for thread in self._threads:
            thread.join()
        self.engine.dispose()


def _as_json_array(
    driver: sqlite3.Connection, whole: tuple[str, str], sql: str, args: list[Any]
) -> str | None:
    """The statement's rows as one JSON array, made by SQLite in one step
    (services/driver_reads.py's `as_json_array`); None if SQLite refused it so."""
    try:
        found = driver.execute(whole[0] + sql + whole[1], args).fetchone()
    except sqlite3.Error:
        return None
    return found[0] if found is not None and isinstance(found[0], str) else None


_Job = tuple["asyncio.Future[Any]", contextvars.Context, Any, "dict[str, Any] | None"]


def _hand_back(future: asyncio.Future[Any], settle: Callable[..., None], value: Any) -> None:
    with contextlib.suppress(RuntimeError):  # a closed loop: nobody waits for it any more
        future.get_loop().call_soon_threadsafe(settle, future, value)


def _settle(future: asyncio.Future[Any], rows: Any) -> None:
    if not future.cancelled():
        future.set_result(rows)


def _fail(future: asyncio.Future[Any], exc: BaseException) -> None:
    if not future.cancelled():
        future.set_exception(exc)


class ReadSession:
    def __init__(
        self, factory: async_sessionmaker[AsyncSession], threaded: ThreadedReads | None = None
    ) -> None:
        self._factory = factory
        self._engine: AsyncEngine = factory.kw["bind"]
        self._threaded = threaded
        self._session: AsyncSession | None = None
        self._pooled: PoolProxiedConnection | None = None
        """PostgreSQL: the request's one connection from the pool, for every read it makes."""
        self._driver: Any = None
        """PostgreSQL: that connection's asyncpg connection."""
        self._connection: Connection | None = None
        """PostgreSQL: SQLAlchemy's `Connection` over it, once a read takes SQLAlchemy's path."""
        self._turn = asyncio.Lock()
        self._closed = False

    @asynccontextmanager
    async def __call__(self) -> AsyncIterator[AsyncSession]:
        async with self._turn:
            if not self._closed:
                if self._session is None and self._threaded is not None:
                    # Core statements go to the threads; the session connects only if a
                    # reader reads through the ORM
                    self._session = _idle_sessions.take(self._factory, None, self)
                elif self._session is None:
                    # One connection for the request: Core statements run on its driver,
                    # and the ORM's and SQLAlchemy's path, if a read takes it, on a
                    # `Connection` over it in autocommit (`_OneConnection`). (Driver reads
                    # on a pool connection of their own saved a tenth of a one-row query,
                    # but a request that also read through the ORM then held two, and
                    # requests waiting for their second could hold the whole pool.)
                    # Taken from the pool as it is, and given back so when only the
                    # driver read on it: SQLAlchemy's `Connection` around it cost 50 us
                    # of a one-row request's 520 (greenlet rounds, events, the isolation
                    # level set and reset).
                    self._pooled = pooled = await _checkout(self._engine)
                    self._driver = pooled.driver_connection
                    self._session = _idle_sessions.take(self._factory, _OneConnection, self)
                yield self._session
                return
        # The request has ended, and a reader it left running still reads: a DataLoader
        # batch of a field whose non-null sibling failed (graphql-core answers without
        # waiting for it). It reads in a session of its own, which it gives back; the
        # request's connection is closed, and a new one opened here would never be.
        async with self._factory() as session:
            yield session

    async def rows(
        self, statement: TypedReturnsRows[*Ts], params: dict[str, Any] | None
    ) -> Sequence[tuple[*Ts]] | None:
        """A Core statement's rows read on the driver; None where it takes SQLAlchemy's
        path (services/driver_reads.py says when)."""
        if self._threaded is not None:
            return await self._threaded.execute(statement, params)
        driver = self._driver
        if driver is None:
            return None
        engine = self._engine.sync_engine
        if instrumented(engine):
            return None
        bound = _statements(engine.dialect).bind(statement, params)
        if bound is None:
            return None
        compiled, sql, args = bound
        try:
            if not compiled.typed:  # once per statement: the columns' type OIDs
                prepared = await driver.prepare(sql)
                codes = [attribute.type.oid for attribute in prepared.get_attributes()]
                compiled.type_columns(engine.dialect, codes)
            if compiled.row is UNUSABLE:
                return None
            rows = await driver.fetch(sql, *args)
        except Exception:
            # SQLAlchemy's path runs it again on the same connection and reports what it
            # finds: a dropped connection invalidates the pool, as it always did
            return None
        return cast("Sequence[tuple[*Ts]]", convert(rows, compiled.row))

    async def close(self) -> None:
        """Give the connection back to the pool (the request is done), once the statement
        running on it, if any, has finished."""
        async with self._turn:
            self._closed = True
            session, self._session = self._session, None
            pooled, self._pooled = self._pooled, None
            connection, self._connection = self._connection, None
            self._driver = None
            # A session whose reads all went through `core_rows` never began a transaction
            # and holds nothing: closing it cost a greenlet round and a tenth of a small
            # query. One that read through the ORM is closed.
            if session is not None and session.in_transaction():
                await session.close()
            elif session is not None:
                _idle_sessions.give_back(self._factory, session)
            if connection is not None:  # its isolation level reset, as it goes back
                await greenlet_spawn(connection.close)
            elif pooled is not None and _keeps(self._engine.sync_engine.pool):
                # only the driver read on it, outside any transaction: nothing to roll
                # back, and the pool has room for it, so giving it back awaits nothing
                pooled.close()
            elif pooled is not None:  # the pool is full: it closes an overflow connection
                await greenlet_spawn(pooled.close)

    def connection(self) -> Connection:
        """SQLAlchemy's `Connection` over the request's connection, in autocommit, made
        when a read first takes SQLAlchemy's path (in the session's greenlet)."""
        if self._connection is None:
            if self._pooled is None:
                raise RuntimeError("the request's reads have ended")
            engine = _reading(self._engine).sync_engine
            self._connection = Connection(engine, connection=self._pooled)
        return self._connection


async def _checkout(engine: AsyncEngine) -> PoolProxiedConnection:
    """A connection from the pool: an idle one taken in the caller's own frame, any other
    through a greenlet, as `AsyncEngine.raw_connection` takes every one.

    A greenlet's first frame maps a fresh 16 KiB block for its frame stack, unmapped when
    it ends: a checkout through `raw_connection` cost an mmap, an munmap and their page
    faults (strace: one pair a request), and a one-row request took a fifth more CPU (in
    process, alternating: 294 us against 238). Taking an idle connection needs no IO: the
    pool's queue hands over an item it holds without awaiting, no pre-ping is set and no
    recycle time (db/engine.py). A checkout that needs IO after all is refused by
    SQLAlchemy's `await_` outside a greenlet before it begins, and runs again in one."""
    pool = engine.sync_engine.pool
    if isinstance(pool, QueuePool) and pool.checkedin() > 0:
        try:
            if not _invalidated(pool):
                return engine.sync_engine.raw_connection()
            # An idle connection may be stale: it must connect anew, and `await_` closes
            # the adapter's awaitable around asyncpg's `connect`, which goes unawaited.
            with warnings.catch_warnings():
                warnings.filterwarnings("ignore", _UNAWAITED, RuntimeWarning)
                return engine.sync_engine.raw_connection()
        except MissingGreenlet:
            pass
    return await engine.raw_connection()


_UNAWAITED = "coroutine '.*' was never awaited"


def _keeps(pool: Pool) -> bool:
    """Whether `pool` keeps a connection given back now. A pool holds at most its size
    idle; an overflow connection that comes back to a full one is closed, and closing
    awaits the driver: outside a greenlet that failed (logged as an error by the pool),
    and the driver's connection was never closed."""
    return isinstance(pool, QueuePool) and pool.checkedin() < pool.size()


class _Invalidations:
    """Whether a pool has invalidated a connection (a dropped one, a failed reset), hard
    or soft: since then an idle one may be stale."""

    def __init__(self, pool: Pool) -> None:
        self.seen = False
        event.listen(pool, "invalidate", self._invalidated)
        event.listen(pool, "soft_invalidate", self._invalidated)

    def _invalidated(self, *_: Any) -> None:
        self.seen = True


_invalidations: WeakKeyDictionary[Pool, _Invalidations] = WeakKeyDictionary()


def _invalidated(pool: Pool) -> bool:
    found = _invalidations.get(pool)
    if found is None:
        found = _invalidations[pool] = _Invalidations(pool)
    return found.seen


class _IdleSessions:
    """Sessions that never read through the ORM, kept for later requests' reads.

    Each request's reads get a session (`ReadSession`), which most hand on to Core
    statements and never use: making it (the async session and the sync one inside it)
    cost some 8 % of a one-row query. A session that began no transaction holds nothing:
    no connection, no instance, nothing pending. It is given back as it ended and handed
    out again, its `info` set anew; any other is closed and dropped."""

    MOST = 64
    """Sessions kept for each factory and class: what requests at once have needed."""

    def __init__(self) -> None:
        self._idle: WeakKeyDictionary[async_sessionmaker[AsyncSession], list[AsyncSession]]
        self._idle = WeakKeyDictionary()

    def take(
        self,
        factory: async_sessionmaker[AsyncSession],
        sync_class: type[Session] | None,
        reads: ReadSession,
    ) -> AsyncSession:
        """A session of `sync_class` (None: the factory's own) for `reads`."""
        wanted = sync_class or factory.kw.get("sync_session_class", Session)
        idle = self._idle.get(factory)
        while idle:
            session = idle.pop()
            if type(session.sync_session) is wanted:
                break
        else:
            session = factory() if sync_class is None else factory(sync_session_class=sync_class)
        session.info[_READS] = reads
        return session

    def give_back(self, factory: async_sessionmaker[AsyncSession], session: AsyncSession) -> None:
        if session.new or session.deleted or session.identity_map:
            return  # added to, or read into, without a transaction: not as it was made
        session.info.clear()
        idle = self._idle.setdefault(factory, [])
        if len(idle) < self.MOST:
            idle.append(session)


_idle_sessions = _IdleSessions()


class _OneConnection(Session):
    """A `ReadSession`'s session: whatever it reads, it reads on the request's connection."""

    def get_bind(self, *args: Any, **kwargs: Any) -> Connection:
        reads: ReadSession = self.info[_READS]
        return reads.connection()


_READS = "reelgraph.reads.session"
"""Where a `ReadSession`'s session keeps that `ReadSession`, for `core_rows`."""


Ts = TypeVarTuple("Ts")


async def core_rows(
    session: AsyncSession,
    statement: TypedReturnsRows[*Ts],
    params: dict[str, Any] | None = None,
) -> Sequence[tuple[*Ts]]:
    """A Core statement's rows (sequences of the selected values, in order). Through
    `session.execute`, a select of mapped columns goes through the ORM's result loading
    (measured: about 6 % of a 1,000-asset page) although it builds no instance. A
    `ReadSession`'s statements run on the driver (services/driver_reads.py): asyncpg on
    the request's connection, or on an SQLite file its `ThreadedReads`. Any other
    session's run on its own transaction's connection."""
    reads: ReadSession | None = session.info.get(_READS)
    if reads is not None:
        rows = await reads.rows(statement, params)
        if rows is not None:
            return rows
    elif session.new or session.dirty or session.deleted:
        await session.flush()  # another session's pending changes, as its autoflush would
    # SQLAlchemy's path: a `ReadSession`'s connection, or another session's own
    connection = await session.connection()
    result: Result[*Ts] = await connection.execute(statement, params)
    return _tuples(result.all())


def _tuples(rows: Sequence[Row[*Ts]]) -> Sequence[tuple[*Ts]]:
    """SQLAlchemy's rows, typed as what every reader does with them: index, unpack,
    iterate (`Row` is a sequence, not a tuple)."""
    return cast("Sequence[tuple[*Ts]]", rows)


_driver_statements: WeakKeyDictionary[Dialect, DriverStatements] = WeakKeyDictionary()


def _statements(dialect: Dialect) -> DriverStatements:
    found = _driver_statements.get(dialect)
    if found is None:
        found = _driver_statements[dialect] = DriverStatements(dialect)
    return found
