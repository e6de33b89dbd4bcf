"""Migrations run up and down on both dialects, and match the models exactly."""

from __future__ import annotations

import asyncio
import os
import uuid
from pathlib import Path

import asyncpg
import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Connection, inspect
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from db.migrate import downgrade, upgrade
from db.models import Base
from tests.conftest import PG_ENV


def _diff(connection: Connection) -> list[object]:
    context = MigrationContext.configure(connection, opts={"compare_type": True})
    return list(compare_metadata(context, Base.metadata))


def _tables(connection: Connection) -> set[str]:
    return set(inspect(connection).get_table_names())


async def _check_round_trip(url: str) -> None:
    await asyncio.to_thread(upgrade, url)
    engine = create_async_engine(url, poolclass=NullPool)
    try:
        async with engine.connect() as conn:
            assert await conn.run_sync(_diff) == [], "models and migrations differ"
            assert {"clients", "campaigns", "assets", "jobs", "sub_jobs", "job_events",
                    "api_keys"} <= await conn.run_sync(_tables)  # fmt: skip
        await asyncio.to_thread(downgrade, url, "base")
        async with engine.connect() as conn:
            assert await conn.run_sync(_tables) == {"alembic_version"}
        await asyncio.to_thread(upgrade, url)
    finally:
        await engine.dispose()


async def test_sqlite_upgrade_downgrade_and_no_pending_diff(tmp_path: Path) -> None:
    await _check_round_trip(f"sqlite+aiosqlite:///{tmp_path / 'm.db'}")


async def test_postgresql_upgrade_downgrade_and_no_pending_diff() -> None:
    base = os.environ.get(PG_ENV)
    if not base:
        pytest.skip(f"set {PG_ENV} to run against PostgreSQL")
    name = f"reelgraph_mig_{uuid.uuid4().hex[:10]}"
    dsn = base.replace("postgresql+asyncpg://", "postgresql://")
    admin = await asyncpg.connect(dsn)
    await admin.execute(f'CREATE DATABASE "{name}"')
    try:
        url = "postgresql+asyncpg://" + dsn.split("://", 1)[1].rsplit("/", 1)[0] + "/" + name
        await _check_round_trip(url)
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()
