"""Test harness: a fresh database per run (SQLite, or PostgreSQL when
REELGRAPH_TEST_DATABASE_URL names a server), the real app over ASGI, and factories."""

from __future__ import annotations

import logging
import os
import subprocess
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import asyncpg
import httpx
import pytest
from starlette.applications import Starlette

from db.migrate import upgrade
from gql.app import create_app
from services import api_keys
from services.runtime import Runtime
from services.settings import Settings, async_database_url
from services.uow import unit_of_work
from tests.client import GraphQLClient, decode_gid
from tests.live_support import peer_settings
from tests.rates import UNLIMITED_RATES
from tests.samples import Samples, make_samples

pytest_plugins = ["tests.browser", "tests.dashboard_page"]

PG_ENV = "REELGRAPH_TEST_DATABASE_URL"

# Every app the suite starts, in this process or a subprocess, completes plain fields both
# ways and logs where its short path and graphql-core's differ (gql/execution.py).
os.environ.setdefault("REELGRAPH_VERIFY_PLAIN_EXECUTION", "true")
# One process starts hundreds of apps: frozen, each one's cycles would never be collected.
os.environ.setdefault("REELGRAPH_GC_FREEZE", "false")


class _Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


@pytest.fixture(autouse=True)
def plain_execution_agrees() -> Iterator[None]:
    """No answer in any test differs between the short path and graphql-core's own."""
    records, logger = _Records(), logging.getLogger("reelgraph.execution")
    logger.addHandler(records)
    try:
        yield
    finally:
        logger.removeHandler(records)
    assert not records.messages, records.messages


def _pg_admin_dsn(url: str) -> str:
    return url.replace("postgresql+asyncpg://", "postgresql://")


@pytest.fixture(scope="session")
async def database_url() -> AsyncIterator[str | None]:
    """None for the embedded SQLite default; otherwise a new PostgreSQL database."""
    base = os.environ.get(PG_ENV)
    if not base:
        yield None
        return
    name = f"reelgraph_test_{uuid.uuid4().hex[:12]}"
    admin = await asyncpg.connect(_pg_admin_dsn(base))
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    url = base.rsplit("/", 1)[0] + "/" + name
    yield url
    admin = await asyncpg.connect(_pg_admin_dsn(base))
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()


@pytest.fixture(scope="session")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("reelgraph-data")


@pytest.fixture(scope="session")
def settings(data_dir: Path, database_url: str | None) -> Settings:
    redis_url = None
    if database_url is not None:  # the production shape: PostgreSQL and a shared Redis
        redis_url = os.environ.get("REELGRAPH_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
    settings = Settings(
        data_dir=data_dir,
        database_url=database_url,
        redis_url=redis_url,
        redis_prefix=f"reelgraph-test-{uuid.uuid4().hex[:8]}",
        run_worker=True,
        max_upload_bytes=5_000_000,
    )
    # The suite sends far more than a person would; the limits' own tests make apps with
    # the defaults.
    settings = settings.model_copy(update=UNLIMITED_RATES)
    if database_url is not None:
        upgrade(async_database_url(database_url, data_dir))
    return settings


@pytest.fixture(scope="session")
async def app(settings: Settings) -> AsyncIterator[Starlette]:
    application = create_app(settings)
    async with application.router.lifespan_context(application):
        yield application


@pytest.fixture(scope="session")
def runtime(app: Starlette) -> Runtime:
    runtime: Runtime = app.state.runtime
    return runtime


@pytest.fixture(scope="session")
async def http(app: Starlette) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        yield client


@pytest.fixture
async def serving(app: Starlette, settings: Settings) -> AsyncIterator[Starlette]:
    """Another API instance on the same database that serves as production does: prepared
    queries and pages from rows, without comparing them (the suite's own apps verify)."""
    served = create_app(peer_settings(app, settings, verify_plain_execution=False))
    async with served.router.lifespan_context(served):
        yield served


async def issue_key(runtime: Runtime, client_id: uuid.UUID | None = None) -> str:
    async with unit_of_work(runtime.session_factory) as session:
        issued = await api_keys.create_key(session, admin=client_id is None, client_id=client_id)
        return issued.secret


@pytest.fixture(scope="session")
async def admin(http: httpx.AsyncClient, runtime: Runtime) -> GraphQLClient:
    return GraphQLClient(http, await issue_key(runtime))


@pytest.fixture
def anonymous(http: httpx.AsyncClient) -> GraphQLClient:
    return GraphQLClient(http, None)


@pytest.fixture
async def tenant(admin: GraphQLClient, runtime: Runtime) -> GraphQLClient:
    """A fresh client (brand) and a key scoped to it."""
    client_gid = await admin.create_client(f"Tenant {uuid.uuid4().hex[:6]}")
    scoped = GraphQLClient(admin.http, await issue_key(runtime, decode_gid(client_gid)))
    scoped.client_id = client_gid
    return scoped


@pytest.fixture(scope="session")
def media_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("media")


@pytest.fixture(scope="session")
def samples(media_dir: Path) -> Samples:
    return make_samples(media_dir)


@pytest.fixture
def workers() -> Iterator[list[subprocess.Popen[bytes]]]:
    """`reelgraph worker` processes a test starts (tests.worker_processes); stopped at its end."""
    started: list[subprocess.Popen[bytes]] = []
    yield started
    for proc in started:
        if proc.poll() is None:
            proc.terminate()
            proc.wait(timeout=30)
