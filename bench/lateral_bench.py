"""Benchmark: a page of 20 assets from a campaign of 50 vs one of 5,000.

    .venv/bin/python -m bench.lateral_bench [--db sqlite|postgres|both] [--runs 200]

The issue ("Read speed") asks that a per-parent page costs about the same whatever the
number of children the parent holds. Per database, this seeds one client with 10
campaigns of 50 assets and 10 of 5,000 (bulk Core inserts, then ANALYZE), and times
`services.assets.pages_for_campaigns` (the asset-page DataLoader's one statement, in a
fresh session as the loader opens one): the median of `--runs` calls after a warm-up,
for one campaign and for ten in one call. PostgreSQL: `--pg-url` names a server; the
run creates its own `reelgraph_lateral_<random>` database there and drops it after.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
from sqlalchemy import insert, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from db.engine import create_engine, create_session_factory
from db.migrate import upgrade
from db.models import Asset, AssetKind, AssetOrigin, Campaign, Client
from services.assets import AssetFilter, pages_for_campaigns
from services.pagination import PageArgs

PG_DEFAULT = "postgresql://postgres@127.0.0.1:5432/test"
SIZES = (50, 5_000)
CAMPAIGNS_PER_SIZE = 10
PAGE = 20


async def seed(factory: async_sessionmaker[AsyncSession]) -> dict[int, list[uuid.UUID]]:
    """One client; CAMPAIGNS_PER_SIZE campaigns of each size; returns their ids by size."""
    at = datetime.now(UTC) - timedelta(days=30)
    client_id = uuid.uuid4()
    by_size: dict[int, list[uuid.UUID]] = {n: [] for n in SIZES}
    campaigns: list[dict[str, Any]] = []
    assets: list[dict[str, Any]] = []
    for size in SIZES:
        for c in range(CAMPAIGNS_PER_SIZE):
            campaign_id = uuid.uuid4()
            by_size[size].append(campaign_id)
            campaigns.append(
                {"id": campaign_id, "client_id": client_id, "name": f"{size}/{c}",
                 "metadata_": {}, "created_at": at, "updated_at": at}
            )  # fmt: skip
            for a in range(size):
                assets.append(
                    {"id": uuid.uuid4(), "client_id": client_id, "campaign_id": campaign_id,
                     "kind": AssetKind.IMAGE, "origin": AssetOrigin.UPLOADED,
                     "filename": f"a{a}.png", "mime_type": "image/png", "size_bytes": 1000 + a,
                     "sha256": f"{a:064x}", "storage_key": f"k/{a}", "width": 64, "height": 64,
                     "created_at": at + timedelta(seconds=a)}
                )  # fmt: skip
    async with factory() as session:
        await session.execute(
            insert(Client),
            [{"id": client_id, "name": "bench", "brand_guidelines": {}, "metadata_": {},
              "created_at": at, "updated_at": at}],
        )  # fmt: skip
        await session.execute(insert(Campaign), campaigns)
        for start in range(0, len(assets), 10_000):
            await session.execute(insert(Asset), assets[start : start + 10_000])
        await session.commit()
    async with factory() as session:
        await session.execute(text("ANALYZE"))
        await session.commit()
    return by_size


async def median_ms(
    factory: async_sessionmaker[AsyncSession], ids: Sequence[uuid.UUID], runs: int
) -> float:
    args = PageArgs(first=PAGE)
    times: list[float] = []
    for i in range(runs + max(runs // 10, 5)):  # the first tenth warms caches up
        started = time.perf_counter()
        async with factory() as session:
            pages = await pages_for_campaigns(session, ids, AssetFilter(), args)
        elapsed = time.perf_counter() - started
        assert all(len(p.rows) == PAGE and p.has_next for p in pages.values())
        if i >= max(runs // 10, 5):
            times.append(elapsed)
    return statistics.median(times) * 1000


async def bench(url: str, label: str, runs: int) -> list[str]:
    await asyncio.to_thread(upgrade, url)
    engine = create_engine(url)
    try:
        factory = create_session_factory(engine)
        by_size = await seed(factory)
        out = [f"== {label} ==", f"  median of {runs} calls, ms (one statement, fresh session)"]
        for parents in (1, CAMPAIGNS_PER_SIZE):
            row = [f"{parents:>3} campaign(s), page of {PAGE}:"]
            for size in SIZES:
                ms = await median_ms(factory, by_size[size][:parents], runs)
                row.append(f"of {size:>5,}: {ms:7.3f}")
            out.append("  " + "   ".join(row))
        return out
    finally:
        await engine.dispose()


async def run(args: argparse.Namespace) -> None:
    lines: list[str] = []
    if args.db in ("sqlite", "both"):
        with tempfile.TemporaryDirectory(prefix="lateral-bench-") as tmp:
            url = f"sqlite+aiosqlite:///{Path(tmp) / 'bench.db'}"
            lines += await bench(url, "SQLite (aiosqlite)", args.runs)
    if args.db in ("postgres", "both"):
        name = f"reelgraph_lateral_{uuid.uuid4().hex[:10]}"
        admin = await asyncpg.connect(args.pg_url)
        await admin.execute(f'CREATE DATABASE "{name}"')
        try:
            server = args.pg_url.rsplit("/", 1)[0].split("://", 1)[1]
            lines += await bench(f"postgresql+asyncpg://{server}/{name}", "PostgreSQL", args.runs)
        finally:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            await admin.close()
    print("\n".join(lines))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--pg-url", default=PG_DEFAULT)
    asyncio.run(run(parser.parse_args(argv)))


if __name__ == "__main__":
    main()
