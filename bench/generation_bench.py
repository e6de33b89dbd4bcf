"""Generation throughput: 20 image pairs rendered by a provider that answers after 2 s,
with a per-provider concurrency limit of 20, end to end through the real API, worker,
Replicate client (against the loopback fake) and combiner.

    .venv/bin/python -m bench.generation_bench [--db sqlite|postgres] [--pairs 20]

Prints the wall time from the mutation to the final video, and each sub-job's overhead
beyond the provider's own 2 s (queueing, create, webhook/poll, download, probe, store).
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import uvloop
from sqlalchemy import event as sa_event

from gql.app import create_app
from services.media.binaries import ffmpeg_path
from services.runtime import Runtime
from services.settings import Settings
from tests.client import GraphQLClient
from tests.conftest import issue_key
from tests.fakes.replicate import new_webhook_secret
from tests.fakes.server import serve_app
from tests.jobs import PAIR_VIDEO, launch, wait_for_job

TOKEN = "r8_bench"
PROVIDER_SECONDS = 2.0


async def _media(directory: Path) -> tuple[bytes, bytes]:
    png, mp4 = directory / "a.png", directory / "a.mp4"
    for args, out in [
        (["-f", "lavfi", "-i", "testsrc=size=320x180", "-frames:v", "1"], png),
        (["-f", "lavfi", "-i", "testsrc=size=640x360:rate=24:duration=6", "-c:v", "libx264",
          "-pix_fmt", "yuv420p"], mp4),
    ]:  # fmt: skip
        proc = await asyncio.create_subprocess_exec(
            ffmpeg_path(), "-y", "-loglevel", "error", *args, str(out)
        )
        assert await proc.wait() == 0
    return png.read_bytes(), mp4.read_bytes()


async def run(
    db: str, pairs: int, webhooks: bool, separate_worker: bool, profile: str | None = None
) -> float:
    work = Path(tempfile.mkdtemp(prefix="reelgraph-genbench-"))
    png, _ = await _media(work)
    database_url = None
    pg_name = None
    if db == "postgres":
        pg_name = f"reelgraph_bench_{uuid.uuid4().hex[:8]}"
        admin = await asyncpg.connect("postgresql://postgres@127.0.0.1:5432/test")
        await admin.execute(f'CREATE DATABASE "{pg_name}"')
        await admin.close()
        database_url = f"postgresql://postgres@127.0.0.1:5432/{pg_name}"
        from db.migrate import upgrade
        from services.settings import async_database_url

        await asyncio.to_thread(upgrade, async_database_url(database_url, work))
    secret = new_webhook_secret()
    provider = subprocess.Popen(
        [sys.executable, "-m", "bench.fake_provider", "--seconds", str(PROVIDER_SECONDS),
         "--secret", secret, "--token", TOKEN],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert provider.stdout is not None
        fake_url = provider.stdout.readline().split()[-1]
        if True:
            settings = Settings(
                data_dir=work / "data",
                database_url=database_url,
                redis_url="redis://127.0.0.1:6379/0" if db == "postgres" else None,
                redis_prefix=f"reelgraph-bench-{uuid.uuid4().hex[:6]}",
                run_worker=not separate_worker,
                generation_provider="replicate",
                replicate_api_token=TOKEN,
                replicate_api_base=f"{fake_url}/v1",
                replicate_webhook_secret=secret,
                provider_concurrency=20,
                poll_initial_seconds=0.25,
                poll_max_seconds=1.0,
            )
            app = create_app(settings)
            async with (
                serve_app(app) as base_url,
                _worker_process(
                    settings, base_url if webhooks else None, separate_worker
                ) as worker_pid,
            ):
                if webhooks:
                    settings.public_url = base_url
                async with httpx.AsyncClient(base_url=base_url, timeout=60) as http:
                    client = GraphQLClient(http, await issue_key(app.state.runtime))
                    campaign = await client.create_campaign(
                        await client.create_client("Bench"), "Pairs"
                    )
                    for i in range(pairs + 1):
                        await client.upload_ok(png + i.to_bytes(2, "big"), f"{i}.png",
                                               campaign_id=campaign)  # fmt: skip
                    # Warm-up: a 2-pair job first, so imports, connection pools and caches
                    # are as a serving process has them; only the second job is measured.
                    warm = await launch(
                        client, PAIR_VIDEO, campaignId=campaign, numPairs=2,
                        clipDuration=6, transition="none",
                    )  # fmt: skip
                    warmed = await wait_for_job(client, app, warm["id"], timeout=120)
                    assert warmed["status"] == "SUCCEEDED", warmed["error"]
                    started = time.perf_counter()
                    launched_at = datetime.now(UTC)
                    cpu_before = time.process_time() + _cpu_seconds(worker_pid)
                    statements = _Statements(app.state.runtime)
                    if profile:
                        profiler = cProfile.Profile()
                        profiler.enable()
                    queued = await launch(
                        client, PAIR_VIDEO, campaignId=campaign, numPairs=pairs,
                        clipDuration=6, transition="none",
                    )  # fmt: skip
                    done = await wait_for_job(client, app, queued["id"], timeout=300)
                    wall = time.perf_counter() - started
                    cpu = time.process_time() + _cpu_seconds(worker_pid) - cpu_before
                    if profile:
                        profiler.disable()
                        profiler.dump_stats(profile)
                    statements.stop()
                    events = await client.execute(
                        "query($id: ID!) { node(id: $id) { ... on Job { events(first: 1000) {"
                        " type status subJobId createdAt } } } }",
                        {"id": queued["id"]},
                    )
                    done["events"] = events["node"]["events"]
        assert done["status"] == "SUCCEEDED", done["error"]
        shape = "API + separate worker process" if separate_worker else "API with its worker"
        wall = report(done, launched_at, wall, cpu, pairs, f"{db}, {shape}", webhooks)
        statements.report(pairs)
        return wall
    finally:
        provider.terminate()
        provider.wait()
        if pg_name:
            admin = await asyncpg.connect("postgresql://postgres@127.0.0.1:5432/test")
            await admin.execute(f'DROP DATABASE IF EXISTS "{pg_name}" WITH (FORCE)')
            await admin.close()


@asynccontextmanager
async def _worker_process(
    settings: Settings, public_url: str | None, wanted: bool
) -> AsyncIterator[int | None]:
    """`reelgraph worker` in its own process, the production shape."""
    if not wanted:
        yield None
        return
    assert settings.database_url
    assert settings.redis_url
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("REELGRAPH_")},
        "REELGRAPH_DATA_DIR": str(settings.data_dir),
        "DATABASE_URL": settings.database_url,
        "REDIS_URL": settings.redis_url,
        "REELGRAPH_REDIS_PREFIX": settings.redis_prefix,
        "GENERATION_PROVIDER": "replicate",
        "REPLICATE_API_TOKEN": settings.replicate_api_token or "",
        "REPLICATE_API_BASE": settings.replicate_api_base,
        "REPLICATE_WEBHOOK_SECRET": settings.replicate_webhook_secret or "",
        "REELGRAPH_PROVIDER_CONCURRENCY": str(settings.provider_concurrency),
        **({"REELGRAPH_PUBLIC_URL": public_url} if public_url else {}),
    }
    proc = subprocess.Popen(
        [sys.executable, "-c", "from gql.cli import main; main()", "worker"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        yield proc.pid
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def _cpu_seconds(pid: int | None) -> float:
    if pid is None:
        return 0.0
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class _Statements:
    """SQL statements the API process ran during the job, by kind and table."""

    def __init__(self, runtime: Runtime) -> None:
        self.engines = runtime.sync_engines  # on SQLite, requests' reads have their own
        self.counts: Counter[str] = Counter()
        for engine in self.engines:
            sa_event.listen(engine, "before_cursor_execute", self._seen)

    def _seen(self, _conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        words = statement.split()
        verb = words[0].upper()
        table = {"SELECT": "FROM", "INSERT": "INTO", "UPDATE": "UPDATE", "DELETE": "FROM"}.get(verb)
        upper = [w.upper() for w in words]
        name = words[upper.index(table) + 1] if table in upper else ""
        self.counts[f"{verb} {name}"] += 1

    def stop(self) -> None:
        for engine in self.engines:
            sa_event.remove(engine, "before_cursor_execute", self._seen)

    def report(self, pairs: int) -> None:
        total = sum(self.counts.values())
        print(f"SQL statements during the job: {total} ({total / pairs:.0f} per sub-job)")
        for kind, n in self.counts.most_common(8):
            print(f"  {n:5d}  {kind}")


def report(
    done: dict[str, Any],
    launched_at: datetime,
    wall: float,
    cpu: float,
    pairs: int,
    db: str,
    webhooks: bool,
) -> float:
    subs = done["subJobs"]
    spans = [
        (
            datetime.fromisoformat(s["finishedAt"]) - datetime.fromisoformat(s["startedAt"])
        ).total_seconds()
        for s in subs
    ]
    overheads = [span - PROVIDER_SECONDS for span in spans]
    first_submit = min(datetime.fromisoformat(s["startedAt"]) for s in subs)
    last_submit = max(datetime.fromisoformat(s["startedAt"]) for s in subs)
    last_stored = max(datetime.fromisoformat(s["finishedAt"]) for s in subs)
    finished = datetime.fromisoformat(done["finishedAt"])
    method = "stream copy" if done["params"].get("transition") == "none" else "re-encode"
    print(
        f"\n== {pairs} pairs, provider answers after {PROVIDER_SECONDS:g} s, limit 20, "
        f"db={db}, {'webhooks' if webhooks else 'polling only'} =="
    )
    print(f"wall time, mutation -> final video stored : {wall:6.2f} s")
    print(
        f"  CPU of the API and worker in that time  : {cpu:6.2f} s ({cpu / wall:.0%} of one core)"
    )
    print(
        f"  mutation -> first clip submitted        : {(first_submit - launched_at).total_seconds():6.2f} s (pair selection)"
    )
    print(
        f"  first clip submitted -> last submitted  : {(last_submit - first_submit).total_seconds():6.2f} s"
    )
    print(
        f"  first clip submitted -> last clip stored: {(last_stored - first_submit).total_seconds():6.2f} s"
    )
    print(
        f"  last clip stored -> final video stored   : {(finished - last_stored).total_seconds():6.2f} s ({method})"
    )
    print(
        f"per sub-job, submitted -> output stored    : p50 {statistics.median(spans):.3f} s, max {max(spans):.3f} s"
    )
    print(
        f"overhead beyond the provider's {PROVIDER_SECONDS:g} s      : "
        f"p50 {statistics.median(overheads) * 1000:.0f} ms, max {max(overheads) * 1000:.0f} ms"
    )
    print(
        f"predictions: {len({s['id'] for s in subs})} sub-jobs, attempts {sum(s['attempts'] for s in subs)}"
    )
    phases: dict[str, list[float]] = {}
    last_seen: dict[str, tuple[str, datetime]] = {}
    for event in done["events"]:
        if event["type"] != "subjob.status":
            continue
        at = datetime.fromisoformat(event["createdAt"])
        previous = last_seen.get(event["subJobId"])
        if previous is not None:
            phases.setdefault(f"{previous[0]} -> {event['status']}", []).append(
                (at - previous[1]).total_seconds()
            )
        last_seen[event["subJobId"]] = (event["status"], at)
    for name, values in phases.items():
        print(
            f"  {name:<28} p50 {statistics.median(values) * 1000:7.0f} ms  max {max(values) * 1000:7.0f} ms"
        )
    _critical_path(done, launched_at)
    return wall


def _critical_path(done: dict[str, Any], launched_at: datetime) -> None:
    """The clip stored last, and the job after it: where the wall time went."""
    last = max(done["subJobs"], key=lambda s: s["finishedAt"])
    steps = [
        (f"clip {e['status'].lower()}" if e["subJobId"] else f"job {e['status'].lower()}", e)
        for e in done["events"]
        if e["type"].endswith(".status") and e["subJobId"] in (None, last["id"])
    ]
    line = ", ".join(
        f"{name} {(datetime.fromisoformat(e['createdAt']) - launched_at).total_seconds():.2f}"
        for name, e in steps
    )
    print(f"critical path (s after the mutation): {line}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--db", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument("--pairs", type=int, default=20)
    parser.add_argument("--polling", action="store_true", help="no webhooks: poll only")
    parser.add_argument("--profile", metavar="FILE", help="cProfile the API process's event loop")
    parser.add_argument("--runs", type=int, default=1, help="runs per database")
    parser.add_argument(
        "--worker",
        choices=["inline", "process"],
        default="inline",
        help="the worker inside the API process (embedded shape) or `reelgraph worker` "
        "in its own process (production shape; PostgreSQL only)",
    )
    args = parser.parse_args()
    if args.worker == "process" and args.db != "postgres":
        parser.error("--worker process needs --db postgres (a worker process needs Redis)")
    walls: dict[str, list[float]] = {}
    for _ in range(args.runs):
        for db in ["sqlite", "postgres"] if args.db == "both" else [args.db]:
            # uvloop, as `reelgraph serve` (uvicorn) and `reelgraph worker` run
            wall = uvloop.run(
                run(db, args.pairs, not args.polling, args.worker == "process", args.profile)
            )
            walls.setdefault(db, []).append(wall)
    if args.runs > 1:
        print()
        for db, values in walls.items():
            print(
                f"{db:<10} wall over {len(values)} runs: min {min(values):.2f} s, "
                f"median {statistics.median(values):.2f} s, max {max(values):.2f} s"
            )


if __name__ == "__main__":
    main()
