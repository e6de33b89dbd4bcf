"""Benchmark: one page of 50 campaigns with their first 20 assets and stats.

    .venv/bin/python -m bench.graph_bench [--db sqlite|postgres|both] [--duration 10]

For each database: seed 20 clients x 10 campaigns x 50 assets (and 4 jobs per
campaign, so stats are not zero); count the SQL statements one request sends, for a
small page, the benchmark page and every row (in-process, on the app's own engine);
check that the ceiling (`bench/ceiling_app.py`) sends the same SQL and answers the
same JSON; then serve each app with uvicorn (1 worker, no access log) and drive it at
concurrency 8 from a separate load-generator process (`bench/loadgen.py`).
See bench/README.md.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import sqlite3
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.applications import Starlette

from bench import ceiling_app, launch, seed
from bench.serve import Endpoint, Load, Measured, measure, post_json
from db.migrate import upgrade
from gql.app import create_app
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

# name: (clients, campaigns per client, assets per campaign)
SIZES: dict[str, tuple[int, int, int]] = {
    "small": (1, 2, 2),
    "page": (5, 10, 20),
    "all": (20, 10, 50),
}


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


class SqlTrace:
    """What one engine sends: statements, pool checkouts, and (asyncpg) other round trips."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.statements: list[str] = []
        self.checkouts = 0
        self.control: list[str] | None = None
        sync = engine.sync_engine
        event.listen(sync, "before_cursor_execute", self._statement)
        event.listen(sync, "checkout", self._checkout)
        if engine.dialect.name == "postgresql":
            self.control = []
            event.listen(sync, "connect", self._connect)

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


@dataclass(slots=True)
class InProcess:
    graphql: dict[str, Trace] = field(default_factory=dict)
    ceiling: dict[str, Trace] = field(default_factory=dict)
    same_sql: bool = False
    same_json: bool = False
    page_json: Any = None
    response_bytes: int = 0


async def _traced(
    trace: SqlTrace, http: httpx.AsyncClient, path: str, body: dict[str, Any], key: str
) -> tuple[Trace, Any]:
    await post_json(http, path, body, key)  # warm: parser caches, prepared statements, pool
    trace.reset()
    data = await post_json(http, path, body, key)
    return trace.snapshot(), data


async def in_process(settings: Settings, key: str) -> InProcess:
    """Count statements per request with the apps in this process, and compare answers."""
    out = InProcess()
    graph, ceiling = create_app(settings), ceiling_app.create_app(settings)
    async with graph.router.lifespan_context(graph), ceiling.router.lifespan_context(ceiling):
        g_trace = SqlTrace(graph.state.runtime.engine)
        c_trace = SqlTrace(ceiling.state.runtime.engine)
        async with _asgi(graph) as g_http, _asgi(ceiling) as c_http:
            answers: dict[str, Any] = {}
            for name, sizes in SIZES.items():
                out.graphql[name], answers[name] = await _traced(
                    g_trace, g_http, "/graphql", graphql_body(sizes), key
                )
            same = []
            for sessions in ("one", "each"):
                out.ceiling[sessions], ceiling_json = await _traced(
                    c_trace, c_http, f"/page?sessions={sessions}", ceiling_body(SIZES["page"]), key
                )
                same.append(ceiling_json == answers["page"])
    out.same_json = all(same)
    out.page_json = answers["page"]
    out.response_bytes = len(json.dumps(answers["page"]))
    out.same_sql = all(
        sorted(t.statements) == sorted(out.graphql["page"].statements) for t in out.ceiling.values()
    )
    return out


def _asgi(app: Starlette) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE)


def _server_env(settings: Settings, *, gc_freeze: bool) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if "DATABASE_URL" not in k}
    env["REELGRAPH_DATA_DIR"] = str(settings.data_dir)
    env["REELGRAPH_SECRET_KEY"] = SECRET
    env["REELGRAPH_RUN_WORKER"] = "false"  # measure the API, not an arq worker polling Redis
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


def _trace_row(label: str, t: Trace) -> str:
    trips = "" if t.control is None else f"{len(t.statements) + t.control:>12}"
    return f"    {label:<64}{len(t.statements):>10}{t.checkouts:>11}{trips}"


def report(
    title: str,
    seeded: seed.Seeded,
    found: InProcess,
    rows: list[Measured],
    args: argparse.Namespace,
) -> list[str]:
    pg = found.graphql["page"].control is not None
    out = [
        f"== {title} ==",
        f"  seeded {seeded.clients} clients, {seeded.campaigns} campaigns, "
        f"{seeded.assets} assets, {seeded.jobs} jobs in {seeded.seconds:.1f} s",
        "",
    ]
    head = f"    {'SQL per request (in-process, on the app engine)':<64}{'statements':>10}"
    head += f"{'checkouts':>11}" + (f"{'round trips':>12}" if pg else "")
    out.append(head)
    for name, label in (("small", "small page"), ("page", "benchmark page"), ("all", "every row")):
        out.append(_trace_row(f"GraphQL {label}: {_describe(SIZES[name])}", found.graphql[name]))
    out.append(_trace_row("ceiling, one session (benchmark page)", found.ceiling["one"]))
    out.append(_trace_row("ceiling, a session per statement", found.ceiling["each"]))
    n = len(found.graphql["page"].statements)
    counts = {len(t.statements) for t in found.graphql.values()}
    out.append(
        "    statements per request grow with the rows: "
        + ("no, constant" if len(counts) == 1 else f"YES: {sorted(counts)}")
    )
    out.append(
        f"    same SQL as GraphQL: {'yes' if found.same_sql else 'NO'} ({n} statement texts); "
        f"same JSON: {'yes' if found.same_json else 'NO'} ({found.response_bytes:,} bytes)"
    )
    if pg:
        out.append("    round trips = statements + BEGIN + ROLLBACK + pre-ping per checkout")
    if args.show_sql:
        out += [
            f"      {s.split()[0]} ... {' '.join(s.split())[-90:]}"
            for s in found.graphql["page"].statements
        ]
    out += [
        "",
        f"    HTTP, concurrency {args.concurrency}: {args.duration:g} s per endpoint (max "
        f"{args.max_requests} requests) in {args.rounds} interleaved turns, after "
        f"{args.warmup:g} s warm-up; uvicorn, 1 worker each",
        f"    {'endpoint':<28}{'req/s':>8}{'p50 ms':>9}{'p99 ms':>9}{'CPU ms/req':>12}"
        f"{'peak RSS MB':>13}{'requests':>10}{'errors':>8}{'JSON':>6}",
    ]
    for m in rows:
        out.append(
            f"    {m.endpoint.label:<28}{m.rps:>8.1f}{m.p50_ms:>9.1f}{m.p99_ms:>9.1f}"
            f"{m.server_cpu_ms_per_request:>12.1f}{m.peak_rss_mb:>13.1f}{m.requests:>10}"
            f"{m.errors:>8}{'same' if m.same_json else 'DIFF':>6}"
        )
        if m.first_error:
            out.append(f"      first error: {m.first_error}")
    graph, one, each = rows
    out.append(
        f"    GraphQL / ceiling: {graph.rps / one.rps:.2f} by req/s, "
        f"{one.server_cpu_ms_per_request / graph.server_cpu_ms_per_request:.2f} by server CPU "
        f"per request (goal >= 0.50); against the session-per-statement variant: "
        f"{graph.rps / each.rps:.2f} by req/s"
    )
    out.append(
        "    load generator CPU: "
        + ", ".join(f"{m.client_cpu_share:.0%}" for m in rows)
        + " of a core (same order); the two ceiling rows share one server (and its RSS)"
    )
    return out


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
                data_dir=data_dir, database_url=database_url, secret_key=SECRET, run_worker=False
            )
            await asyncio.to_thread(upgrade, settings.sqlalchemy_url)
            seeded = await seed.seed(settings.sqlalchemy_url, seed.Shape())
            found = await in_process(settings, seeded.admin_key)
            page = SIZES["page"]
            endpoints = [
                Endpoint("GraphQL", "bench.launch:graphql", "/graphql", graphql_body(page)),
                Endpoint(
                    "ceiling, one session",
                    "bench.launch:ceiling",
                    "/page",
                    ceiling_body(page),
                ),
                Endpoint(
                    "ceiling, session/statement",
                    "bench.launch:ceiling",
                    "/page?sessions=each",
                    ceiling_body(page),
                ),
            ]
            env, log = _server_env(settings, gc_freeze=args.gc_freeze), data_dir / "servers.log"
            load = Load(
                args.concurrency, args.warmup, args.duration, args.max_requests, args.rounds
            )
            rows = await measure(endpoints, env, seeded.admin_key, found.page_json, BASE, load, log)
            if log.exists() and log.read_text().strip():
                print(f"[{db}] server log:\n{log.read_text()[-3000:]}", file=sys.stderr)
            title = (
                f"SQLite {sqlite3.sqlite_version} (aiosqlite, WAL), embedded data dir"
                if pg_name is None
                else f"PostgreSQL (asyncpg), database {pg_name}"
            )
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
        "--gc-freeze", action="store_true", help="gc.freeze() after start-up, in both servers"
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    dbs = ["sqlite", "postgres"] if args.db == "both" else [args.db]
    print(
        f"reelgraph graph_bench: Python {platform.python_version()}, {os.cpu_count()} CPUs, "
        f"page = {_describe(SIZES['page'])} with stats"
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
