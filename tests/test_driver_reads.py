"""A request's Core reads run on the driver itself (services/driver_reads.py): asyncpg's
`fetch` on the request's connection, sqlite3's `execute` in a read thread. Its answers
are the ones SQLAlchemy's execution layer gives: the same queries asked with a statement
listener on (which keeps SQLAlchemy's path, so instrumentation sees every statement)
answer byte for byte alike, across every column type a page reads, filters whose values
are literals of the statement, cursors, counts, stats and results."""

from __future__ import annotations

import asyncio
import json
import logging
import re
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import httpx
import pytest
from sqlalchemy import Row, event, func, insert, select, text
from starlette.applications import Starlette

from db.models import Asset, AssetKind, AssetOrigin, Campaign, CampaignStatus, Client
from gql.app import create_app
from services.reads import ReadSession, core_rows
from services.runtime import Runtime
from services.settings import Settings
from services.uow import unit_of_work
from tests.client import GraphQLClient, decode_gid
from tests.samples import Samples

PAGE = """query($kind: AssetKind, $after: String) {
  clients(first: 5) {
    totalCount pageInfo { hasNextPage endCursor }
    edges { cursor node {
      id name homepage notes metadata createdAt updatedAt
      brandGuidelines { tone dos donts colors { hex name } }
      stats { campaignCount videoCount totalSpendUsd }
      results { views clicks conversions spendUsd clickThroughRate }
      campaigns(first: 3) {
        totalCount pageInfo { hasNextPage endCursor }
        edges { cursor node {
          id name goal audience status productUrl budgetUsd metadata createdAt updatedAt
          stats { videoCount totalSpendUsd averageCostUsd jobCount }
          results { views spendUsd costPerViewUsd }
          jobs(first: 2) { totalCount edges { node { id status } } }
          assets(first: 2, kind: $kind, after: $after) {
            totalCount pageInfo { hasNextPage endCursor }
            edges { cursor node {
              id kind origin filename mimeType sizeBytes sha256 width height
              durationSeconds createdAt rendition url
            } }
          }
        } }
      }
    } }
  }
}"""


@contextmanager
def sqlalchemy_path(runtime: Runtime) -> Iterator[None]:
    """A statement listener on every engine: reads then take SQLAlchemy's own path."""

    def listener(*_: Any) -> None:
        return None

    for engine in runtime.sync_engines:
        event.listen(engine, "before_cursor_execute", listener)
    try:
        yield
    finally:
        for engine in runtime.sync_engines:
            event.remove(engine, "before_cursor_execute", listener)


async def test_driver_reads_answer_as_sqlalchemy_does(
    tenant: GraphQLClient, runtime: Runtime, samples: Samples
) -> None:
    assert tenant.client_id
    for name in ("North", "South", "East"):
        campaign = await tenant.create_campaign(
            tenant.client_id, name, budgetUsd="125.5", goal="Sell", audience="Runners"
        )
        for i, (content, filename) in enumerate(
            [(samples.png, "a.png"), (samples.mp4, "b.mp4"), (samples.wav, "c.wav")] * 2
        ):
            await tenant.upload_ok(content, f"{i}{filename}", campaign_id=campaign)

    async def ask(variables: dict[str, Any]) -> bytes:
        response = await tenant.post(PAGE, variables)
        assert response.status_code == 200, response.text
        assert "errors" not in response.json(), response.text
        return response.content

    answers = []
    # the kind is a literal of the statement: each shape compiles once, and its next
    # statement's value must be read from that statement, not from the first one's
    for variables in ({}, {"kind": "IMAGE"}, {"kind": "VIDEO"}, {"kind": "AUDIO"}):
        on_driver = await ask(variables)
        with sqlalchemy_path(runtime):
            on_sqlalchemy = await ask(variables)
        assert on_driver == on_sqlalchemy, variables
        answers.append(json.loads(on_driver)["data"])
    kinds = [
        {a["node"]["kind"] for c in answer["clients"]["edges"]
         for k in c["node"]["campaigns"]["edges"] for a in k["node"]["assets"]["edges"]}
        for answer in answers
    ]  # fmt: skip
    assert kinds[0] and kinds[0] <= {"IMAGE", "VIDEO", "AUDIO"}, kinds
    assert kinds[1:] == [{"IMAGE"}, {"VIDEO"}, {"AUDIO"}], kinds
    stamps = re.findall(rb'"(?:createdAt|updatedAt)":"([^"]+)"', on_driver)
    assert stamps and all(s.endswith(b"+00:00") for s in stamps), stamps  # aware, UTC
    first = answers[0]["clients"]["edges"][0]["node"]["campaigns"]["edges"][0]["node"]
    assert first["assets"]["totalCount"] == 6 and first["assets"]["pageInfo"]["hasNextPage"]
    # the next page, after a cursor (a created_at and an id, bound from the cursor)
    after = first["assets"]["pageInfo"]["endCursor"]
    on_driver = await ask({"after": after})
    with sqlalchemy_path(runtime):
        assert await ask({"after": after}) == on_driver


async def test_rows_come_from_the_driver_unless_something_listens(
    admin: GraphQLClient, runtime: Runtime
) -> None:
    for i in range(4):
        client = await admin.create_client(f"Driver {i}", metadata={"tier": i})
        await admin.create_campaign(client, f"Run {i}", budgetUsd=f"{i}.25")

    async def rows(statement: Any) -> Any:
        reads = ReadSession(runtime.session_factory, runtime.reads)
        try:
            async with reads() as session:
                return await core_rows(session, statement)
        finally:
            await reads.close()

    newest = select(Client.id, Client.name, Client.created_at).order_by(
        Client.created_at.desc(), Client.id.desc()
    )
    ids = [row[0] for row in await rows(newest.limit(4))]
    typed = select(  # an enum, a numeric, JSON: types whose values the driver's differ
        Campaign.id, Campaign.status, Campaign.budget_usd, Campaign.metadata_
    ).where(Campaign.client_id.in_(ids))
    statements = [
        (newest.limit(3), 3),
        (newest.limit(2), 2),  # the same shape, its own literal limit
        (newest.where(Client.id.in_(ids[:3])), 3),  # an expanding IN, per execution
        (newest.where(Client.id.in_(ids[3:])), 1),  # the same shape, other values, fewer
        (typed, 4),
    ]
    for statement, expected in statements:
        on_driver = await rows(statement)
        with sqlalchemy_path(runtime):
            on_sqlalchemy = await rows(statement)
        assert len(on_driver) == expected, (statement, on_driver)
        assert not isinstance(on_driver[0], Row), type(on_driver[0])
        assert all(isinstance(row, Row) for row in on_sqlalchemy)
        assert sorted(map(tuple, on_driver), key=str) == sorted(map(tuple, on_sqlalchemy), key=str)
        assert sorted(map(types, on_driver)) == sorted(map(types, on_sqlalchemy))
    assert {type(r[1]) for r in await rows(typed)} == {CampaignStatus}
    # columns SQLAlchemy matches by name (a textual one): its path, the same rows
    textual = select(text("'a literal'"), Client.name).where(Client.id.in_(ids))
    with sqlalchemy_path(runtime):
        expected_rows = await rows(textual)
    assert sorted(map(tuple, await rows(textual))) == sorted(map(tuple, expected_rows))


BIG_PAGE = """query($id: ID!) { node(id: $id) { ... on Client {
  campaigns(first: 5) { edges { node { id name budgetUsd
    assets(first: 40) { pageInfo { hasNextPage endCursor } edges { cursor node {
      id kind origin filename mimeType sizeBytes width height createdAt url } } }
  } } }
} } }"""


async def test_sqlite_answers_a_page_of_rows_as_one_json_array(
    tenant: GraphQLClient, runtime: Runtime
) -> None:
    """SQLite's driver gives up the GIL for each row it steps to; a statement whose
    columns SQLite holds as text or integers is asked for one JSON array of its rows
    instead (services/driver_reads.py's `as_json_array`). The answer is the one row by
    row, and SQLAlchemy's path, give: every value, in order. A statement with a REAL
    column (a budget) is read row by row."""
    if runtime.reads is None:
        pytest.skip("reads run in threads on an SQLite file only")
    assert tenant.client_id
    client_id = decode_gid(tenant.client_id)
    made: dict[str, list[uuid.UUID]] = {}
    at = datetime(2026, 12, 1, tzinfo=UTC)
    for c, name in enumerate(('Nord "Ost" \\ 1', "Süd 漢字 😀")):
        campaign = await tenant.create_campaign(tenant.client_id, name, budgetUsd="12.3456")
        rows: list[dict[str, Any]] = [
            {"id": uuid.uuid4(), "client_id": client_id, "campaign_id": decode_gid(campaign),
             "kind": AssetKind.VIDEO if i % 3 else AssetKind.IMAGE,
             "origin": AssetOrigin.UPLOADED, "filename": f"{i} \"{name}\".png",
             "mime_type": "image/png", "size_bytes": 2**40 + i, "sha256": f"{i:064x}",
             "storage_key": f"ab/{c}{i:063x}", "width": i, "height": None,
             "created_at": at + timedelta(seconds=i // 4)}  # ties: the id decides
            for i in range(60)
        ]  # fmt: skip
        async with unit_of_work(runtime.session_factory) as session:
            await session.execute(insert(Asset), rows)
        newest = sorted(rows, key=lambda r: (r["created_at"], r["id"]), reverse=True)
        made[campaign] = [r["id"] for r in newest[:40]]

    ran: list[str] = []  # what SQLite itself was asked, on the read threads' connections
    engine = runtime.reads.engine

    def trace(dbapi_connection: Any, *_: Any) -> None:
        dbapi_connection.set_trace_callback(ran.append)

    def untrace(dbapi_connection: Any, *_: Any) -> None:
        dbapi_connection.set_trace_callback(None)

    event.listen(engine, "checkout", trace)
    event.listen(engine, "checkin", untrace)
    try:
        answers = [await tenant.post(BIG_PAGE, {"id": tenant.client_id}) for _ in range(3)]
    finally:
        event.remove(engine, "checkout", trace)
        event.remove(engine, "checkin", untrace)
    with sqlalchemy_path(runtime):
        answers.append(await tenant.post(BIG_PAGE, {"id": tenant.client_id}))
    assert all(a.status_code == 200 and "errors" not in a.json() for a in answers), answers
    assert len({a.content for a in answers}) == 1  # row by row, as JSON, through SQLAlchemy
    campaigns = answers[0].json()["data"]["node"]["campaigns"]["edges"]
    for edge in campaigns:
        assets = edge["node"]["assets"]
        assert [decode_gid(a["node"]["id"]) for a in assets["edges"]] == made[edge["node"]["id"]]
        assert assets["pageInfo"]["hasNextPage"] is True
    asset_pages = [sql for sql in ran if "FROM assets" in sql and "json_each" in sql]
    assert any(sql.startswith("WITH w(c0, ") for sql in asset_pages), asset_pages
    budgets = [sql for sql in ran if "budget_usd" in sql]
    assert budgets and not any(sql.startswith("WITH w(") for sql in budgets), budgets


def types(row: Any) -> list[str]:
    return [type(value).__name__ for value in row]


async def test_a_request_reads_on_one_connection(tenant: GraphQLClient, runtime: Runtime) -> None:
    """Core reads on the driver and reads through the ORM, in one request, share its one
    connection: with one each, requests waiting for their second could hold the pool."""
    if runtime.engine.dialect.name != "postgresql":
        pytest.skip("SQLite's reads run in threads, each on a connection for its call")
    reads = ReadSession(runtime.session_factory, runtime.reads)
    try:
        async with reads() as session:
            core = await core_rows(session, select(func.pg_backend_pid()))
            orm = await session.scalar(select(func.pg_backend_pid()))
            again = await core_rows(session, select(func.pg_backend_pid()))
    finally:
        await reads.close()
    assert not isinstance(core[0], Row)  # read on the driver
    assert core[0][0] == orm == again[0][0]


async def test_a_request_gives_its_connection_back_as_it_took_it(runtime: Runtime) -> None:
    """The request's connection is taken from the pool as it is: given back after driver
    reads alone, it awaits nothing (no transaction to roll back); after a read through
    the ORM, which ran in autocommit on it, its isolation level is reset first. Either way
    it goes back, and goes back out of autocommit."""
    if runtime.engine.dialect.name != "postgresql":
        pytest.skip("SQLite's reads run in threads, each on a connection for its call")
    pool = runtime.engine.sync_engine.pool
    returned: list[bool] = []

    def checkin(dbapi_connection: Any, record: Any) -> None:
        returned.append(dbapi_connection.autocommit)

    event.listen(pool, "checkin", checkin)
    try:
        for orm in (False, True, False):
            reads = ReadSession(runtime.session_factory, runtime.reads)
            async with reads() as session:
                core = await core_rows(session, select(func.pg_backend_pid()))
                if orm:  # on the same connection, each statement a transaction of its own
                    assert await session.scalar(select(func.pg_backend_pid())) == core[0][0]
                    began = [await session.scalar(select(func.now())) for _ in range(2)]
                    assert began[0] != began[1]  # now(): when the transaction began
            await reads.close()
            assert not isinstance(core[0], Row)
    finally:
        event.remove(pool, "checkin", checkin)
    assert returned == [False, False, False]


ONE = "{ clients(first: 1) { edges { node { id name } } } }"


@asynccontextmanager
async def own_app(
    settings: Settings, admin: GraphQLClient
) -> AsyncIterator[tuple[Starlette, GraphQLClient]]:
    """An app of the test's own, with its own pool, and a client of it with admin's key."""
    app = create_app(settings.model_copy(update={"run_worker": False}))
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://testserver"
        ) as http,
    ):
        yield app, GraphQLClient(http, admin.key)


async def test_a_dropped_connection_fails_at_most_one_request(
    admin: GraphQLClient, settings: Settings
) -> None:
    """The server drops the app's connections (a restart, an idle timeout): the driver's
    error sends the statement to SQLAlchemy's path on the same connection, which finds
    it dropped and invalidates the pool, as it did before reads ran on the driver. At
    most one request fails; the next ones read on new connections."""
    if settings.database_url is None:
        pytest.skip("a PostgreSQL server drops connections; SQLite has none to drop")
    dsn = settings.database_url.replace("postgresql+asyncpg://", "postgresql://")
    watcher = await asyncpg.connect(dsn)
    try:
        before = {r["pid"] for r in await watcher.fetch(BACKENDS)}
        async with own_app(settings, admin) as (app, client):
            answers = await asyncio.gather(*(client.post(ONE) for _ in range(4)))
            assert all("errors" not in a.json() for a in answers), [a.text for a in answers]
            # this app's connections: the ones that were not there before it started
            ours = [r["pid"] for r in await watcher.fetch(BACKENDS) if r["pid"] not in before]
            assert ours
            for pid in ours:
                await watcher.execute("SELECT pg_terminate_backend($1)", pid)
            answers = [await client.post(ONE) for _ in range(4)]
            failed = [a.text for a in answers if "errors" in a.json()]
            assert len(failed) <= 1, failed
            assert "errors" not in answers[-1].json(), answers[-1].text
            pool: Any = app.state.runtime.engine.pool
            assert pool.checkedout() == 0
    finally:
        await watcher.close()


async def test_requests_past_the_pool_wait_for_a_connection(
    admin: GraphQLClient, settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    """More requests at once than the pool holds connections: an idle connection is taken
    without a greenlet, and a request that finds none connects anew or waits for one
    given back, in a greenlet. Every request is answered, and every connection goes back:
    to the pool, or, past its size, closed (which awaits the driver, so in a greenlet:
    outside one the close failed, was logged as an error, and left the connection open)."""
    if settings.database_url is None:
        pytest.skip("SQLite's reads run in threads, each on a connection for its call")
    caplog.set_level(logging.ERROR, logger="sqlalchemy.pool")
    async with own_app(settings, admin) as (app, client):
        pool: Any = app.state.runtime.engine.pool
        concurrent = 4 * pool.size()  # past its size and its overflow (db/engine.py)
        for _ in range(2):  # the first round opens connections; the second finds them idle
            answers = await asyncio.gather(*(client.post(ONE) for _ in range(concurrent)))
            assert all("errors" not in a.json() and a.json()["data"] for a in answers), [
                a.text for a in answers if "errors" in a.json()
            ][:3]
            assert pool.checkedout() == 0
            assert 0 < pool.checkedin() <= pool.size()  # the overflow closed as it came back
    errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert not errors, errors[:3]


BACKENDS = """SELECT pid FROM pg_stat_activity
  WHERE datname = current_database() AND pid <> pg_backend_pid() AND state = 'idle'"""
