"""Benchmark data: clients x campaigns x assets, plus jobs with costs, bulk-inserted.

Rows are deterministic (a seeded RNG makes the ids too), so two runs page the same way.
Also creates and drops the throwaway PostgreSQL database a run uses.
"""

from __future__ import annotations

import random
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import asyncpg
from sqlalchemy import insert

from db.engine import create_engine, create_session_factory
from db.models import (
    Asset,
    AssetKind,
    AssetOrigin,
    Campaign,
    CampaignStatus,
    Client,
    Job,
    JobKind,
    JobStatus,
)
from services import api_keys
from services.storage import LocalStorage
from services.uow import unit_of_work

Row = dict[str, Any]

# kind, mime type, extension, (width, height), (min, max) size in bytes
MEDIA: list[tuple[AssetKind, str, str, tuple[int, int] | None, tuple[int, int]]] = [
    (AssetKind.IMAGE, "image/png", "png", (1024, 1024), (200_000, 3_000_000)),
    (AssetKind.IMAGE, "image/jpeg", "jpg", (1920, 1080), (150_000, 2_000_000)),
    (AssetKind.VIDEO, "video/mp4", "mp4", (1080, 1920), (2_000_000, 80_000_000)),
    (AssetKind.IMAGE, "image/webp", "webp", (1080, 1350), (100_000, 900_000)),
    (AssetKind.VIDEO, "video/mp4", "mp4", (1920, 1080), (2_000_000, 80_000_000)),
    (AssetKind.AUDIO, "audio/mpeg", "mp3", None, (300_000, 3_000_000)),
]


@dataclass(frozen=True, slots=True)
class Shape:
    clients: int = 20
    campaigns: int = 10  # per client
    assets: int = 50  # per campaign
    jobs: int = 4  # per campaign


@dataclass(frozen=True, slots=True)
class Seeded:
    clients: int
    campaigns: int
    assets: int
    jobs: int
    seconds: float
    admin_key: str


class _Rows:
    def __init__(self, shape: Shape) -> None:
        self.rng = random.Random(20261122)
        self.t = datetime.now(UTC) - timedelta(days=60)
        self.clients: list[Row] = []
        self.campaigns: list[Row] = []
        self.jobs: list[Row] = []
        self.assets: list[Row] = []
        for i in range(shape.clients):
            client_id = self._client(i)
            for c in range(shape.campaigns):
                campaign_id = self._campaign(client_id, i, c)
                job_ids = [self._job(campaign_id, j) for j in range(shape.jobs)]
                for a in range(shape.assets):
                    self._asset(client_id, campaign_id, a, job_ids[0] if job_ids else None)

    def uid(self) -> uuid.UUID:
        return uuid.UUID(int=self.rng.getrandbits(128), version=4)

    def tick(self) -> datetime:
        self.t += timedelta(seconds=self.rng.randint(1, 90))
        return self.t

    def _client(self, i: int) -> uuid.UUID:
        row_id, at = self.uid(), self.tick()
        self.clients.append(
            {
                "id": row_id,
                "name": f"Client {i + 1:02d}",
                "homepage": f"https://client{i + 1:02d}.example.com",
                "brand_guidelines": {
                    "colors": [{"name": "primary", "hex": f"#{self.rng.randrange(1 << 24):06x}"}],
                    "tone": "warm, confident, a little playful",
                    "dos": ["show the product in the first second"],
                    "donts": ["no stock-photo smiles"],
                },
                "notes": None,
                "metadata_": {"segment": self.rng.choice(["retail", "travel", "fintech"])},
                "created_at": at,
                "updated_at": at,
            }
        )
        return row_id

    def _campaign(self, client_id: uuid.UUID, i: int, c: int) -> uuid.UUID:
        row_id, at = self.uid(), self.tick()
        statuses = list(CampaignStatus)
        budget = None if c % 7 == 6 else Decimal(self.rng.randrange(500, 50_000))
        self.campaigns.append(
            {
                "id": row_id,
                "client_id": client_id,
                "name": f"Client {i + 1:02d} / campaign {c + 1:02d}",
                "goal": "Drive sign-ups for the spring launch",
                "audience": "25-40, urban, mobile-first",
                "status": statuses[c % len(statuses)],
                "product_url": f"https://client{i + 1:02d}.example.com/p/{c + 1}",
                "budget_usd": budget,
                "metadata_": {},
                "created_at": at,
                "updated_at": at,
            }
        )
        return row_id

    def _job(self, campaign_id: uuid.UUID, j: int) -> uuid.UUID:
        row_id, at = self.uid(), self.tick()
        status = [JobStatus.SUCCEEDED, JobStatus.SUCCEEDED, JobStatus.FAILED, JobStatus.RUNNING][
            j % 4
        ]
        estimate = Decimal(self.rng.randrange(5, 400)) / 100
        actual = {
            JobStatus.SUCCEEDED: estimate * Decimal("0.9"),
            JobStatus.FAILED: estimate / 4,
        }.get(status, Decimal(0))
        done = status in (JobStatus.SUCCEEDED, JobStatus.FAILED)
        self.jobs.append(
            {
                "id": row_id,
                "campaign_id": campaign_id,
                "kind": JobKind.VIDEO if j % 2 == 0 else JobKind.IMAGE,
                "status": status,
                "model": "local/ffmpeg",
                "params": {"prompt": "a product shot on a sunny terrace"},
                "cost_estimate_usd": estimate,
                "cost_actual_usd": actual.quantize(Decimal("0.0001")),
                "error_code": "PROVIDER_ERROR" if status is JobStatus.FAILED else None,
                "error": "the provider timed out" if status is JobStatus.FAILED else None,
                "last_seq": 3,
                "started_at": at,
                "finished_at": at + timedelta(seconds=40) if done else None,
                "created_at": at,
                "updated_at": at,
            }
        )
        return row_id

    def _asset(
        self, client_id: uuid.UUID, campaign_id: uuid.UUID, a: int, job_id: uuid.UUID | None
    ) -> None:
        kind, mime, ext, size, (low, high) = MEDIA[a % len(MEDIA)]
        sha = f"{self.rng.getrandbits(256):064x}"
        generated = a % 3 == 0 and job_id is not None
        duration = None
        if kind is not AssetKind.IMAGE:
            duration = round(self.rng.uniform(5, 60), 3)
        self.assets.append(
            {
                "id": self.uid(),
                "client_id": client_id,
                "campaign_id": campaign_id,
                "kind": kind,
                "origin": AssetOrigin.GENERATED if generated else AssetOrigin.UPLOADED,
                "filename": f"{kind.value}-{a + 1:02d}.{ext}",
                "mime_type": mime,
                "size_bytes": self.rng.randint(low, high),
                "sha256": sha,
                "storage_key": LocalStorage.key_for(sha),
                "width": size[0] if size else None,
                "height": size[1] if size else None,
                "duration_seconds": duration,
                "job_id": job_id if generated else None,
                "created_at": self.tick(),
            }
        )


async def seed(url: str, shape: Shape) -> Seeded:
    """Bulk-insert the rows (executemany) and an admin key, in one transaction."""
    started = time.perf_counter()
    rows = _Rows(shape)
    engine = create_engine(url)
    try:
        async with unit_of_work(create_session_factory(engine)) as session:
            await session.execute(insert(Client), rows.clients)
            await session.execute(insert(Campaign), rows.campaigns)
            await session.execute(insert(Job), rows.jobs)
            await session.execute(insert(Asset), rows.assets)
            issued = await api_keys.create_key(session, admin=True, name="graph_bench")
    finally:
        await engine.dispose()
    return Seeded(
        clients=len(rows.clients),
        campaigns=len(rows.campaigns),
        assets=len(rows.assets),
        jobs=len(rows.jobs),
        seconds=time.perf_counter() - started,
        admin_key=issued.secret,
    )


def database_url(admin_dsn: str, name: str) -> str:
    return admin_dsn.rsplit("/", 1)[0] + "/" + name


async def create_database(admin_dsn: str) -> str:
    """A new, empty `reelgraph_bench_<random>` database; returns its name."""
    name = f"reelgraph_bench_{uuid.uuid4().hex[:10]}"
    conn = await asyncpg.connect(admin_dsn)
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    return name


async def drop_database(admin_dsn: str, name: str) -> None:
    conn = await asyncpg.connect(admin_dsn)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()
