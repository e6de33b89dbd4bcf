"""Core selects of a request run on the driver's own connection: SQLAlchemy builds and
compiles them, the driver (asyncpg, sqlite3) executes them.

What a statement cost around the driver's own work, per statement, through SQLAlchemy's
execution layer: an execution context, a cursor adapter, result metadata, a `Row` per
row, and on asyncpg the greenlet switches that run its synchronous core over an async
driver. Measured in-process on PostgreSQL, 50 campaigns' page of 1,050 assets: 8.7 ms
CPU through `connection.execute(...).all()` and `Columns.rows`, 4.7 ms through asyncpg's
`fetch` and the same named tuples; a one-row select 0.21 ms against 0.10 ms.

What stays SQLAlchemy's, so the rows are the same values of the same types:

- the SQL: the statement is compiled once per cache key (the key SQLAlchemy's own
  compiled cache uses), by the engine's dialect, and its literal values are taken from
  each statement by that key's bind parameters, as SQLAlchemy does; an expanding `IN`
  is rendered per execution as SQLAlchemy's execution context renders it;
- each parameter goes through its type's bind processor, and each column through its
  type's result processor for the type the driver reports (asyncpg's type OIDs;
  sqlite3 reports none): the functions SQLAlchemy's rows apply.

SQLAlchemy's path is kept:

- for a statement it cannot cache;
- while an engine has `before_cursor_execute` or `after_cursor_execute` listeners, or
  logs its statements (`echo`, the `sqlalchemy.engine` logger at INFO): instrumentation
  sees every statement as SQLAlchemy documents it;
- when the driver raises: the statement runs again through SQLAlchemy, on the same
  connection, so a failure is reported (and a dropped connection invalidates the pool)
  exactly as before. A read changes nothing, so running it twice costs only time.
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import (
    Boolean,
    Column,
    Date,
    DateTime,
    Engine,
    Integer,
    String,
    Time,
    TypeDecorator,
    Uuid,
)
from sqlalchemy.engine.interfaces import Dialect
from sqlalchemy.sql.cache_key import CacheKey
from sqlalchemy.sql.compiler import RM_TYPE, SQLCompiler
from sqlalchemy.sql.elements import Label
from sqlalchemy.sql.selectable import ReturnsRows

KEPT = 512
"""Compiled statements kept per dialect (least recently used first out)."""

_Processor = Callable[[Any], Any]
RowOf = Callable[[Sequence[Any]], Sequence[Any]]
"""A driver row -> the row SQLAlchemy would have made of it (its values, in order)."""


def instrumented(engine: Engine) -> bool:
    """Whether something watches the engine's statements: then they take its path."""
    dispatch = engine.dispatch
    return (
        bool(dispatch.before_cursor_execute)
        or bool(dispatch.after_cursor_execute)
        or bool(engine.echo)
        or _ENGINE_LOG.isEnabledFor(logging.INFO)
    )


_ENGINE_LOG = logging.getLogger("sqlalchemy.engine.Engine")


@dataclass(slots=True)
class Compiled:
    """One statement shape, compiled for one dialect."""

    sql: str
    compiled: SQLCompiler
    names: tuple[str, ...]
    """The positional parameters' names, in order."""
    binds: tuple[_Processor | None, ...]
    types: list[Any]
    """The selected columns' types, in order."""
    expanding: bool
    """Whether parameters are rendered per execution (an expanding IN)."""
    typed: bool = False
    """Whether `row` has been made (it needs the driver's type codes)."""
    row: RowOf | None = None
    """How a driver row is converted (None: as it is)."""
    columns: bool = False
    """Whether every selected column is a table's column (labelled or not)."""
    whole: tuple[str, str] | None = None
    """SQLite: the SQL that goes around this statement's to have it answer all its rows as
    one JSON array (`as_json_array`), or None where a row cannot travel as JSON exactly."""

    def type_columns(self, dialect: Dialect, codes: Sequence[Any]) -> None:
        """Make `row` from the type codes the driver reports for the columns (a type's
        result processor may depend on them: asyncpg's numerics do). Columns the driver
        reports other than the compiled ones, one by one, leave the statement to
        SQLAlchemy, which then matches them by name (`UNUSABLE`)."""
        if len(codes) != len(self.types):
            self.row = UNUSABLE
        else:
            self.row = _row_maker(
                [
                    kind.dialect_impl(dialect).result_processor(dialect, code)
                    for kind, code in zip(self.types, codes, strict=True)
                ]
            )
            if dialect.name == "sqlite" and self.columns:
                self.whole = as_json_array(dialect, self.types)
        self.typed = True


_AS_JSON = (String, Integer, Boolean, Uuid, DateTime, Date, Time)
"""Types whose values SQLite holds as TEXT or INTEGER (or NULL), which JSON carries
exactly: a string's every character (NUL too), a 64-bit integer's every digit. Not
REAL (SQLite writes a double to JSON with 15 digits: money, durations), nor BLOB (it
refuses them), nor JSON (a value may already be JSON, and would be spliced in)."""


def as_json_array(dialect: Dialect, types: Sequence[Any]) -> tuple[str, str] | None:
    """SQLite's driver steps through a result a row at a time, and gives up the GIL for
    each step: 1,050 rows are 1,050 times a read thread waits for the event loop to let
    it go on. Asked as `WITH w(c0, ...) AS (<the statement>) SELECT
    json_group_array(json_array(c0, ...)) FROM w`, SQLite makes the whole result in one
    step, and orjson reads it back: the same values, in the same order (the subquery's
    ORDER BY feeds the aggregate; tests/test_library_contracts.py pins both).

    Only for table columns (`Compiled.columns`: an expression may hold a REAL whatever
    its declared type) of `_AS_JSON` types; None otherwise."""
    for kind in types:
        impl = kind.dialect_impl(dialect)
        while isinstance(impl, TypeDecorator):
            impl = impl.impl_instance
        if not isinstance(impl, _AS_JSON):
            return None
    names = ", ".join(f"c{i}" for i in range(len(types)))
    around = f") SELECT json_group_array(json_array({names})) FROM w"  # noqa: S608 - c0, c1, ...
    return f"WITH w({names}) AS (", around


def UNUSABLE(row: Sequence[Any]) -> Sequence[Any]:
    """`Compiled.row` of a statement whose rows SQLAlchemy matches by name."""
    raise AssertionError("a statement left to SQLAlchemy's path ran on the driver")


def _row_maker(processors: list[_Processor | None]) -> RowOf | None:
    """One function for the columns' processors, written out (`p1(r[1])` where a column
    has one): a loop over (processor, value) pairs cost more than the processors."""
    if not any(processors):
        return None
    env: dict[str, Any] = {}
    items = []
    for i, processor in enumerate(processors):
        if processor is None:
            items.append(f"r[{i}]")
        else:
            env[f"p{i}"] = processor
            items.append(f"p{i}(r[{i}])")
    source = "def row(r):\n    return (" + ", ".join(items) + ",)"
    exec(compile(source, "<driver row>", "exec"), env)  # noqa: S102
    made: RowOf = env["row"]
    return made


_MISSING: Any = object()


class DriverStatements:
    """The compiled forms of the statements one dialect runs on its driver."""

    def __init__(self, dialect: Dialect) -> None:
        self.dialect = dialect
        self._compiled: OrderedDict[tuple[Any, ...], Compiled | None] = OrderedDict()
        self._lock = threading.Lock()  # SQLite's read threads share one

    def bind(
        self, statement: ReturnsRows, params: dict[str, Any] | None
    ) -> tuple[Compiled, str, list[Any]] | None:
        """The statement's compiled form, its SQL and its positional parameters; None
        when it takes SQLAlchemy's path (see the module)."""
        if getattr(statement, "_execution_options", None):
            return None  # options SQLAlchemy's execution would apply
        key = statement._generate_cache_key()
        if key is None:
            return None
        with self._lock:
            compiled = self._compiled.get(key.key, _MISSING)
            if compiled is not _MISSING:
                self._compiled.move_to_end(key.key)
        try:
            if compiled is _MISSING:
                compiled = self._compile(statement, key)
                with self._lock:
                    self._compiled[key.key] = compiled
                    if len(self._compiled) > KEPT:
                        self._compiled.popitem(last=False)
            if compiled is None or compiled.row is UNUSABLE:
                return None
            if compiled.expanding:
                return compiled, *_expanded(compiled, params, key)
            values = compiled.compiled.construct_params(params, **_binding(key))
            args = [
                value if bind is None else bind(value)
                for bind, value in zip(
                    compiled.binds, (values[name] for name in compiled.names), strict=True
                )
            ]
        except Exception:  # SQLAlchemy's path reports it
            return None
        return compiled, compiled.sql, args

    def _compile(self, statement: ReturnsRows, key: CacheKey) -> Compiled | None:
        dialect = self.dialect
        selected = getattr(statement, "selected_columns", None)
        if selected is None:
            return None  # not a select: SQLAlchemy's path
        # with its cache key, as SQLAlchemy's compiled cache does: the literal values of
        # later statements of this shape are then read from their own bind parameters
        compiled = statement.compile(dialect=dialect, cache_key=key)
        assert isinstance(compiled, SQLCompiler)
        names = tuple(compiled.positiontup or ())
        # what SQLAlchemy's execution applies to each (a tuple type has one per element:
        # its path takes those)
        processors = compiled._bind_processors
        binds = tuple(processors.get(name) for name in names)
        if not all(bind is None or callable(bind) for bind in binds):
            return None
        if (
            not compiled._ordered_columns
            or compiled._textual_ordered_columns
            or compiled._ad_hoc_textual
            or compiled._loose_column_name_matching
            or len(compiled._result_columns) != len(selected)
        ):
            return None  # SQLAlchemy matches these columns by name, not by place
        types = [column[RM_TYPE] for column in compiled._result_columns]
        expanding = bool(compiled.literal_execute_params or compiled.post_compile_params)
        columns = all(isinstance(_unlabelled(c), Column) for c in selected)
        return Compiled(
            compiled.string, compiled, names, cast(Any, binds), types, expanding, columns=columns
        )


def _unlabelled(column: Any) -> Any:
    while isinstance(column, Label):
        column = column.element
    return column


def _binding(key: CacheKey) -> dict[str, Any]:
    """How SQLAlchemy's execution context builds a statement's parameters from its cache
    key (`DefaultExecutionContext._init_compiled`): the literal values of this statement,
    `.params()` values collected with the key, names as the compiler placed them."""
    return {
        "extracted_parameters": key.bindparams,
        "escape_names": False,
        "_collected_params": getattr(key, "params", None),
    }


def _expanded(
    compiled: Compiled, params: dict[str, Any] | None, key: CacheKey
) -> tuple[str, list[Any]]:
    """The SQL and parameters of a statement with parameters rendered per execution (an
    expanding IN: one placeholder per value), as SQLAlchemy's execution context makes
    them (`DefaultExecutionContext._init_compiled`)."""
    sql_compiled = compiled.compiled
    values = sql_compiled.construct_params(params, _no_postcompile=True, **_binding(key))
    state = sql_compiled._process_parameters_for_postcompile(values)
    # as SQLAlchemy's execution does: an expanded name's processor, else the compiled one
    expanded: Mapping[str, Any] = state.processors
    compiled_ones: Mapping[str, Any] = sql_compiled._bind_processors
    args = []
    for name in state.positiontup or ():
        value = state.parameters[name]
        bind = expanded.get(name) or compiled_ones.get(name)
        args.append(value if bind is None else bind(value))
    return state.statement, args


def convert(rows: Sequence[Any], row_of: RowOf | None) -> Sequence[Any]:
    """The driver's rows as SQLAlchemy's would read: converted, or as they are (asyncpg's
    `Record`s and sqlite3's tuples index, unpack and iterate like `Row`s)."""
    return rows if row_of is None else [row_of(row) for row in rows]
