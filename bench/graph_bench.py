"""Benchmark: a page of 50 campaigns with their first 20 assets and stats, and one client.

    .venv/bin/python -m bench.graph_bench [--db sqlite|postgres|both] [--duration 12]

For each database: seed 20 clients x 10 campaigns x 50 assets (and 4 jobs per
campaign, so stats are not zero). In-process, on each app's own connections, count
the SQL one request sends: GraphQL for a small page, the benchmark page, every row
and the one-client query; the ceilings for the page and the one client. Check the
answers: the plain ceiling (`bench/plain_app.py`: the driver, hand-written SQL,
orjson) must answer what GraphQL answers, as orjson-normalised bytes (whether the
raw bytes are identical is reported too); the ORM ceiling (`bench/ceiling_app.py`:
the same service functions, no GraphQL) must send the same SQL and answer the same
JSON. Then serve each app with uvicorn (1 worker, no access log) and drive the five
endpoints, interleaved, at concurrency 8 from a separate load-generator process
(`bench/loadgen.py`). See bench/README.md.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import sqlite3
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import httpx
import orjson
from sqlalchemy import event
from starlette.applications import Starlette

from bench import ceiling_app, launch, plain_app, seed
from bench.serve import Endpoint, Load, Measured, measure
from db.migrate import upgrade
from gql.app import create_app
from gql.prepared import PreparedQueries
from services.runtime import Runtime
from services.settings import Settings

SECRET = "graph-bench-signing-key"
BASE = "http://bench.invalid"
PG_DEFAULT = "postgresql://postgres@127.0.0.1:5432/test"

QUERY = """
query CampaignPage($clients: Int!, $campaigns: Int!, $assets: Int!) {
  clients(first: $clients) {
    pageInfo { hasNextPage endCursor }
    edges { node {
      id name
      stats { campaignCount videoCount totalSpendUsd }
      campaigns(first: $campaigns) {
        pageInfo { hasNextPage endCursor }
        edges { node {
          id name status budgetUsd
          stats { videoCount totalSpendUsd averageCostUsd jobCount }
          assets(first: $assets) {
            pageInfo { hasNextPage endCursor }
            edges { node { id kind mimeType width height url } }
          }
        } }
      }
    } }
  }
}
"""
ONE_QUERY = "{ clients(first: 1) { edges { node { id name } } } }"
GRAPHQL_ONE: dict[str, Any] = {"query": ONE_QUERY}
PLAIN_ONE: dict[str, Any] = {"first": 1}

# name: (clients, campaigns per client, assets per campaign)
SIZES: dict[str, tuple[int, int, int]] = {
    "small": (1, 2, 2),
    "page": (5, 10, 20),
    "all": (20, 10, 50),
}

# In every app, in-process and served: the read path, not the limits. 1,200 requests
# a minute per key would refuse most of the benchmark's, and every row (200 campaigns
# x 50 assets) costs more than the default 50,000.
LIMITS: dict[str, Any] = {"rate_limits": False, "max_query_cost": 1_000_000}


def graphql_body(sizes: tuple[int, int, int]) -> dict[str, Any]:
    clients, campaigns, assets = sizes
    variables = {"clients": clients, "campaigns": campaigns, "assets": assets}
    return {"query": QUERY, "operationName": "CampaignPage", "variables": variables}


def ceiling_body(sizes: tuple[int, int, int]) -> dict[str, Any]:
    return dict(zip(("clients", "campaigns", "assets"), sizes, strict=True))


@dataclass(frozen=True, slots=True)
class Trace:
    statements: list[str]
    checkouts: int
    control: int | None  # PostgreSQL: BEGIN, ROLLBACK and pre-ping round trips

    @property
    def round_trips(self) -> int:
        """PostgreSQL: every message exchange; SQLite: the statements (each an execute
        in aiosqlite's thread)."""
        return len(self.statements) + (self.control or 0)


class SqlTrace:
    """What one runtime's engines send: statements, pool checkouts (on SQLite, a read's
    checkout is in its thread, part of the statement's one call), and (asyncpg) other
    round trips."""

    def __init__(self, runtime: Runtime) -> None:
        self.statements: list[str] = []
        self.checkouts = 0
        self.control: list[str] | None = None
        for sync in runtime.sync_engines:
            event.listen(sync, "before_cursor_execute", self._statement)
            event.listen(sync, "checkout", self._checkout)
        if runtime.engine.dialect.name == "postgresql":
            self.control = []
            event.listen(runtime.engine.sync_engine, "connect", self._connect)

    def _statement(self, *args: argparse.Namespace) -> None:
        self.statements.append(str(args[2]))

    def _checkout(self, *args: argparse.Namespace) -> None:
        self.checkouts += 1

    def _connect(self, dbapi_connection: Any, _record: Any) -> None:
        control = self.control
        assert control is not None
        # asyncpg logs what it runs outside prepared statements: BEGIN, ROLLBACK, the ping.
        dbapi_connection.driver_connection.add_query_logger(lambda q: control.append(q.query))

    def reset(self) -> None:
        self.statements.clear()
        self.checkouts = 0
        if self.control is not None:
            self.control.clear()

    def snapshot(self) -> Trace:
        control = None if self.control is None else len(self.control)
        return Trace(list(self.statements), self.checkouts, control)


class PlainTrace:
    """The plain app's: asyncpg's query logger sees every statement its connections run
    (no BEGIN, ROLLBACK, ping or reset is sent), SQLite's trace callback every execute."""

    def __init__(self, postgres: bool) -> None:
        self.raw = plain_app.Trace()
        self.postgres = postgres

    def reset(self) -> None:
        self.raw.statements.clear()
        self.raw.checkouts = 0

    def snapshot(self) -> Trace:
        return Trace(list(self.raw.statements), self.raw.checkouts, 0 if self.postgres else None)


@dataclass(frozen=True, slots=True)
class Compared:
    """A plain answer against GraphQL's (their orjson-normalised bytes are equal)."""

    graphql_bytes: int
    plain_bytes: int
    same_bytes: bool


@dataclass(slots=True)
class InProcess:
    graphql: dict[str, Trace]  # small, page, all, one
    orm: Trace
    plain: dict[str, Trace]  # page, one
    compared: dict[str, Compared]  # page, one
    answers: dict[str, Any]  # page, one (parsed)
    orm_same_sql: bool
    orm_same_json: bool
    prepared: int  # GraphQL answers above that gql/prepared.py gave


async def _post(http: httpx.AsyncClient, path: str, body: dict[str, Any], key: str) -> bytes:
    response = await http.post(path, json=body, headers={"authorization": f"Bearer {key}"})
    response.raise_for_status()
    if "errors" in orjson.loads(response.content):
        raise RuntimeError(f"{path} answered errors: {response.text[:2000]}")
    return response.content


async def _traced(
    trace: SqlTrace | PlainTrace,
    http: httpx.AsyncClient,
    path: str,
    body: dict[str, Any],
    key: str,
) -> tuple[Trace, bytes]:
    await _post(http, path, body, key)  # warm: parser caches, prepared statements, pool
    trace.reset()
    raw = await _post(http, path, body, key)
    await asyncio.sleep(0)  # asyncpg calls query loggers with call_soon: let them run
    return trace.snapshot(), raw


def _difference(a: Any, b: Any, path: str = "") -> str:
    """Where two JSON values first differ, for the error message."""
    if isinstance(a, dict) and isinstance(b, dict):
        if list(a) != list(b):
            return f"{path or '.'}: keys {list(a)} != {list(b)}"
        for k in a:
            if a[k] != b[k]:
                return _difference(a[k], b[k], f"{path}.{k}")
    elif isinstance(a, list) and isinstance(b, list):
        if len(a) != len(b):
            return f"{path}: {len(a)} items != {len(b)}"
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            if x != y:
                return _difference(x, y, f"{path}[{i}]")
    return f"{path}: GraphQL {a!r} != plain {b!r}"


def compare(name: str, graphql: bytes, plain: bytes) -> Compared:
    """The hard check: equal after orjson.loads/dumps (key order included)."""
    ours, theirs = orjson.loads(graphql), orjson.loads(plain)
    if orjson.dumps(ours) != orjson.dumps(theirs):
        raise SystemExit(f"the plain {name} answers differently: {_difference(ours, theirs)}")
    return Compared(len(graphql), len(plain), graphql == plain)


def _asgi(app: Starlette) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE)


async def in_process(settings: Settings, key: str) -> InProcess:
    """Count statements per request with the apps in this process, and compare answers."""
    p_trace = PlainTrace(postgres=settings.database_url is not None)
    graph, orm = create_app(settings), ceiling_app.create_app(settings)
    plain = plain_app.create_app(settings, p_trace.raw)
    async with (
        graph.router.lifespan_context(graph),
        orm.router.lifespan_context(orm),
        plain.router.lifespan_context(plain),
        _asgi(graph) as g_http,
        _asgi(orm) as o_http,
        _asgi(plain) as p_http,
    ):
        g_trace = SqlTrace(graph.state.runtime)
        o_trace = SqlTrace(orm.state.runtime)
        graphql, raw = {}, {}
        for name, sizes in SIZES.items():
            graphql[name], raw[name] = await _traced(
                g_trace, g_http, "/graphql", graphql_body(sizes), key
            )
        graphql["one"], raw["one"] = await _traced(g_trace, g_http, "/graphql", GRAPHQL_ONE, key)
        prepared = cast(PreparedQueries, graph.state.prepared_queries).answered
        page = ceiling_body(SIZES["page"])
        orm_trace, orm_raw = await _traced(o_trace, o_http, "/page", page, key)
        plain_page, plain_raw = await _traced(p_trace, p_http, "/page", page, key)
        plain_one, plain_one_raw = await _traced(p_trace, p_http, "/one", PLAIN_ONE, key)
    return InProcess(
        graphql=graphql,
        orm=orm_trace,
        plain={"page": plain_page, "one": plain_one},
        compared={
            "page": compare("page", raw["page"], plain_raw),
            "one": compare("one-client answer", raw["one"], plain_one_raw),
        },
        answers={"page": orjson.loads(raw["page"]), "one": orjson.loads(raw["one"])},
        orm_same_sql=sorted(orm_trace.statements) == sorted(graphql["page"].statements),
        orm_same_json=orjson.loads(orm_raw) == orjson.loads(raw["page"]),
        prepared=prepared,
    )


def _server_env(settings: Settings, *, gc_freeze: bool) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if "DATABASE_URL" not in k}
    env["REELGRAPH_DATA_DIR"] = str(settings.data_dir)
    env["REELGRAPH_SECRET_KEY"] = SECRET
    env["REELGRAPH_RUN_WORKER"] = "false"  # measure the API, not an arq worker polling Redis
    for name, value in LIMITS.items():
        env[f"REELGRAPH_{name.upper()}"] = str(value).lower()
    env[launch.GC_FREEZE] = "1" if gc_freeze else "0"
    if settings.database_url is not None:
        env["DATABASE_URL"] = settings.database_url
    return env


def _describe(sizes: tuple[int, int, int]) -> str:
    clients, campaigns, assets = sizes
    return (
        f"{clients} x {campaigns} x {assets} "
        f"({clients * campaigns} campaigns, {clients * campaigns * assets} assets)"
    )


def _trace_row(label: str, t: Trace, pg: bool) -> str:
    trips = f"{t.round_trips:>12}" if pg else ""
    return f"    {label:<64}{len(t.statements):>10}{t.checkouts:>11}{trips}"


def _answers(found: InProcess) -> list[str]:
    out = [
        f"    GraphQL requests above given by prepared queries (gql/prepared.py): "
        f"{found.prepared} of {2 * len(found.graphql)} (a text's first request takes "
        "Strawberry's whole path; each size was asked twice, the second traced)"
    ]
    for name, label in (("page", "page"), ("one", "one client")):
        c = found.compared[name]
        same = (
            "yes" if c.same_bytes else f"no (GraphQL {c.graphql_bytes:,}, plain {c.plain_bytes:,})"
        )
        out.append(
            f"    plain {label}: same JSON as GraphQL (orjson-normalised bytes): yes, "
            f"{c.graphql_bytes:,} bytes; same bytes: {same}"
        )
    n = len(found.graphql["page"].statements)
    out.append(
        f"    ORM page: same SQL as GraphQL: {'yes' if found.orm_same_sql else 'NO'} "
        f"({n} statement texts); same JSON: {'yes' if found.orm_same_json else 'NO'}"
    )
    return out


def _ratio(what: str, graph: Measured, ceiling: Measured, goal: bool) -> str:
    rps = graph.rps / ceiling.rps if ceiling.rps else 0.0
    cpu = graph.server_cpu_ms_per_request
    by_cpu = ceiling.server_cpu_ms_per_request / cpu if cpu else 0.0
    return f"    {what}: {rps:.2f} by req/s, {by_cpu:.2f} by server CPU per request" + (
        " (goal >= 0.50)" if goal else ""
    )


def report(
    title: str,
    seeded: seed.Seeded,
    found: InProcess,
    rows: list[tuple[Measured, Trace]],
    args: argparse.Namespace,
) -> list[str]:
    pg = found.graphql["page"].control is not None
    out = [
        f"== {title} ==",
        f"  seeded {seeded.clients} clients, {seeded.campaigns} campaigns, "
        f"{seeded.assets} assets, {seeded.jobs} jobs in {seeded.seconds:.1f} s",
        "",
    ]
    head = f"    {'SQL per request (in-process, on the app connections)':<64}{'statements':>10}"
    out.append(head + f"{'checkouts':>11}" + (f"{'round trips':>12}" if pg else ""))
    for name, label in (("small", "small page"), ("page", "benchmark page"), ("all", "every row")):
        t = found.graphql[name]
        out.append(_trace_row(f"GraphQL {label}: {_describe(SIZES[name])}", t, pg))
    out.append(_trace_row("GraphQL one client", found.graphql["one"], pg))
    out.append(_trace_row("plain page: driver + orjson", found.plain["page"], pg))
    out.append(_trace_row("plain one client", found.plain["one"], pg))
    out.append(_trace_row("ORM page, no GraphQL (one session)", found.orm, pg))
    counts = {len(found.graphql[n].statements) for n in SIZES}
    out.append(
        "    GraphQL statements per request grow with the rows: "
        + ("no, constant" if len(counts) == 1 else f"YES: {sorted(counts)}")
    )
    if pg:
        out.append(
            "    round trips = statements + BEGIN + ROLLBACK + pre-ping per checkout (SQLAlchemy);"
            " the plain app's pool sends none of those"
        )
    out += _answers(found)
    if args.show_sql:
        for label, t in (("GraphQL", found.graphql["page"]), ("plain", found.plain["page"])):
            out += [f"      {label}: {' '.join(s.split())[:120]}" for s in t.statements]
    out += [
        "",
        f"    HTTP, concurrency {args.concurrency}: {args.duration:g} s per endpoint (max "
        f"{args.max_requests} requests) in {args.rounds} interleaved turns, after "
        f"{args.warmup:g} s warm-up; uvicorn, 1 worker each",
        f"    {'endpoint':<28}{'req/s':>8}{'p50 ms':>9}{'p99 ms':>9}{'CPU ms/req':>12}"
        f"{'peak RSS MB':>13}{'trips/req' if pg else 'SQL/req':>10}{'requests':>10}"
        f"{'errors':>8}{'JSON':>6}",
    ]
    for m, t in rows:
        out.append(
            f"    {m.endpoint.label:<28}{m.rps:>8.1f}{m.p50_ms:>9.1f}{m.p99_ms:>9.1f}"
            f"{m.server_cpu_ms_per_request:>12.2f}{m.peak_rss_mb:>13.1f}{t.round_trips:>10}"
            f"{m.requests:>10}{m.errors:>8}{'same' if m.same_json else 'DIFF':>6}"
        )
        if m.first_error:
            out.append(f"      first error: {m.first_error}")
    graph, plain, orm, graph_one, plain_one = (m for m, _ in rows)
    out += [
        _ratio("page, GraphQL / plain", graph, plain, goal=True),
        _ratio("page, GraphQL / ORM without GraphQL", graph, orm, goal=False),
        _ratio("one client, GraphQL / plain", graph_one, plain_one, goal=True),
        "    load generator CPU: "
        + ", ".join(f"{m.client_cpu_share:.0%}" for m, _ in rows)
        + " of a core (same order); one server per app: the GraphQL rows share one "
        "(and its peak RSS), the plain rows another",
    ]
    return out


def _endpoints(found: InProcess) -> list[tuple[Endpoint, Trace]]:
    """The measured endpoints, in turn order, each with its in-process SQL trace."""
    page, one, g = found.answers["page"], found.answers["one"], found.graphql
    body, query = ceiling_body(SIZES["page"]), graphql_body(SIZES["page"])
    graphql, plain, orm = "bench.launch:graphql", "bench.launch:plain", "bench.launch:ceiling"
    return [
        (Endpoint("GraphQL page", graphql, "/graphql", query, page), g["page"]),
        (Endpoint("plain page: driver + orjson", plain, "/page", body, page), found.plain["page"]),
        (Endpoint("ORM page, no GraphQL", orm, "/page", body, page), found.orm),
        (Endpoint("GraphQL one client", graphql, "/graphql", GRAPHQL_ONE, one), g["one"]),
        (Endpoint("plain one client", plain, "/one", PLAIN_ONE, one), found.plain["one"]),
    ]


async def bench_database(db: str, args: argparse.Namespace) -> list[str]:
    with tempfile.TemporaryDirectory(prefix="reelgraph-bench-") as tmp:
        data_dir = Path(tmp)
        pg_name: str | None = None
        try:
            database_url = None
            if db == "postgres":
                pg_name = await seed.create_database(args.pg_url)
                database_url = seed.database_url(args.pg_url, pg_name)
            settings = Settings(
                data_dir=data_dir,
                database_url=database_url,
                secret_key=SECRET,
                run_worker=False,
                **LIMITS,
            )
            await asyncio.to_thread(upgrade, settings.sqlalchemy_url)
            seeded = await seed.seed(settings.sqlalchemy_url, seed.Shape())
            found = await in_process(settings, seeded.admin_key)
            endpoints = _endpoints(found)
            env, log = _server_env(settings, gc_freeze=args.gc_freeze), data_dir / "servers.log"
            load = Load(
                args.concurrency, args.warmup, args.duration, args.max_requests, args.rounds
            )
            measured = await measure(
                [e for e, _ in endpoints], env, seeded.admin_key, BASE, load, log
            )
            if log.exists() and log.read_text().strip():
                print(f"[{db}] server log:\n{log.read_text()[-3000:]}", file=sys.stderr)
            title = (
                f"SQLite {sqlite3.sqlite_version} (WAL; GraphQL reads through the stdlib driver "
                "in threads, writes and the plain app through aiosqlite), embedded data dir"
                if pg_name is None
                else f"PostgreSQL (asyncpg), database {pg_name}"
            )
            rows = [(m, t) for m, (_, t) in zip(measured, endpoints, strict=True)]
            return report(title, seeded, found, rows, args)
        finally:
            if pg_name is not None:
                await seed.drop_database(args.pg_url, pg_name)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--db", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument("--pg-url", default=PG_DEFAULT, help="a server to create the DB on")
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument(
        "--duration", type=float, default=12.0, help="seconds measured, per endpoint"
    )
    parser.add_argument(
        "--warmup", type=float, default=2.0, help="seconds discarded first, per endpoint"
    )
    parser.add_argument("--max-requests", type=int, default=2000, help="per endpoint")
    parser.add_argument(
        "--rounds", type=int, default=4, help="turns the measured time is split into"
    )
    parser.add_argument("--show-sql", action="store_true", help="list the page's statements")
    parser.add_argument(
        "--gc-freeze", action="store_true", help="gc.freeze() after start-up, in every server"
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    dbs = ["sqlite", "postgres"] if args.db == "both" else [args.db]
    print(
        f"reelgraph graph_bench: Python {platform.python_version()}, {os.cpu_count()} CPUs, "
        f"page = {_describe(SIZES['page'])} with stats; one client = {ONE_QUERY}"
        + (", servers with gc.freeze() after start-up" if args.gc_freeze else "")
    )
    for db in dbs:
        started, load = time.perf_counter(), os.getloadavg()[0]
        print(f"[{db}] load average (1 min) before: {load:.1f}", flush=True)
        lines = asyncio.run(bench_database(db, args))
        print("\n".join(lines))
        load = os.getloadavg()[0]
        print(f"  ({time.perf_counter() - started:.0f} s; load average (1 min) after: {load:.1f})")
        print(flush=True)


if __name__ == "__main__":
    main()
