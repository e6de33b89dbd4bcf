"""ETA accuracy: pair videos on the offline `local` provider, through the embedded app
(worker inside), followed over the WebSocket as the dashboard follows them.

    .venv/bin/python -m bench.eta_bench [--jobs 30] [--seed 7] [--db sqlite|postgres]
                                        [--dump events.json]

Each job gets a random clip length (2 to 12 s), resolution (480p to 1080p) and pair count
(1 to 3: that many renders share the machine's cores). Every sub-job event a job sends
while a clip runs carries `etaSeconds`, the API's prediction of the time left at that
event; once the job is done, the real time left is the clip's `finishedAt` minus the
event's `createdAt` (both the server's clock). Printed, per progress band: predictions,
how many said unknown (null), the median and 90th percentile of |predicted - real| /
real, the share within 50 % of the real time, the share within 50 % or 1 s (the
dashboard shows whole seconds, and "finishing…" under 1 s), how many said under
half a second when at least that much was left, and "as shown": the share of all
predictions whose dashboard text was right within 50 % (`shown_right`; "ETA unknown"
counts as wrong); then the same for the predictions made
with 1 s or more left, and how many of those made with less said under 1 s. Separately: the clips that ran before
the model had a finished clip, which must all say unknown.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import statistics
import tempfile
import time
import uuid
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import asyncpg
import httpx

from db.migrate import upgrade
from gql.app import create_app
from services.media.render import render_image
from services.settings import Settings, async_database_url
from tests.client import GraphQLClient
from tests.conftest import issue_key
from tests.fakes.server import serve_app
from tests.jobs import PAIR_VIDEO, launch
from tests.rates import UNLIMITED_RATES
from tests.wsclient import JOB_PROGRESS, WsClient

PG = "postgresql://postgres@127.0.0.1:5432/test"
RUNNING = {"submitted", "processing", "downloading"}
BANDS = [(0.0, 0.05), (0.05, 0.25), (0.25, 0.5), (0.5, 0.75), (0.75, 1.0)]
SUBS = """query($id: ID!) { node(id: $id) { ... on Job { status
  subJobs { id index status model input startedAt finishedAt } } } }"""


@dataclass(frozen=True, slots=True)
class Sample:
    progress: float
    predicted: float | None
    actual: float
    had_history: bool


@dataclass(slots=True)
class Bench:
    client: GraphQLClient
    ws: WsClient
    campaign: str
    rng: random.Random
    first_finished: datetime | None = None  # when the model's first clip was stored
    dump: list[dict[str, Any]] | None = None

    async def job(self, n: int) -> list[Sample]:
        params = {
            "clipDuration": self.rng.choice([2, 4, 6, 8, 10, 12]),
            "resolution": self.rng.choice(["480p", "720p", "1080p"]),
            "numPairs": self.rng.choice([1, 2, 3]),
        }
        job = await launch(
            self.client, PAIR_VIDEO, campaignId=self.campaign, transition="none", **params
        )
        op = await self.ws.subscribe(JOB_PROGRESS, {"jobId": job["id"], "afterSeq": 0})
        events = await self.ws.until_complete(op, timeout=600)
        final = (await self.client.execute(SUBS, {"id": job["id"]}))["node"]
        assert final["status"] == "SUCCEEDED", final
        subs = sorted(final["subJobs"], key=lambda s: s["index"])
        started = {s["id"]: datetime.fromisoformat(s["startedAt"]) for s in subs}
        finished = {s["id"]: datetime.fromisoformat(s["finishedAt"]) for s in subs}
        if self.dump is not None:
            self.dump.append({"params": params, "events": events, "subJobs": subs})
        if self.first_finished is None:
            self.first_finished = min(finished.values())
        took = ", ".join(f"{(finished[i] - started[i]).total_seconds():.1f}" for i in started)
        print(
            f"job {n:2d}: {params['numPairs']} x {params['clipDuration']:2d} s at "
            f"{params['resolution']:>5}; clips took {took} s",
            flush=True,
        )
        samples = []
        for event in events:
            if event["subJobId"] is None or event["status"] not in RUNNING:
                continue
            at = datetime.fromisoformat(event["createdAt"])
            samples.append(
                Sample(
                    progress=event["progress"] or 0.0,
                    predicted=event["etaSeconds"],
                    actual=(finished[event["subJobId"]] - at).total_seconds(),
                    had_history=at > self.first_finished,
                )
            )
        return samples


def shown_right(predicted: float | None, actual: float) -> bool:
    """Whether the dashboard's text for this prediction is right within 50 %: "~N s
    left" when N is within half the real time of it, "finishing…" (under 1 s) when under
    1.5 s was left; "ETA unknown" never is."""
    if predicted is None:
        return False
    if predicted < 1.0:
        return actual < 1.5
    return abs(round(predicted) - actual) <= 0.5 * actual


def _row(name: str, group: list[Sample]) -> str:
    known = [(s.predicted, s.actual) for s in group if s.predicted is not None]
    shown = sum(1 for s in group if shown_right(s.predicted, s.actual)) / len(group)
    errors = sorted(abs(p - a) / max(a, 0.01) for p, a in known)
    loose = sum(1 for p, a in known if abs(p - a) <= max(0.5 * a, 1.0))
    zero = sum(1 for p, a in known if p < 0.5 <= a)
    if not errors:
        return f"  {name:>9} {len(group):5d} {len(group) - len(known):8d}"
    return (
        f"  {name:>9} {len(group):5d} {len(group) - len(known):8d}"
        f" {statistics.median(errors):11.0%} {errors[int(0.9 * (len(errors) - 1))]:8.0%}"
        f" {sum(1 for e in errors if e <= 0.5) / len(errors):11.0%}"
        f" {loose / len(errors):14.0%} {zero:9d} {shown:9.0%}"
    )


def report(title: str, samples: list[Sample]) -> None:
    print(f"\n{title}: {len(samples)} predictions")
    print(
        f"  {'progress':>9} {'n':>5} {'unknown':>8} {'median err':>11} {'p90 err':>8}"
        f" {'within 50%':>11} {'50% or 1 s':>14} {'said ~0s':>9} {'as shown':>9}"
    )
    for low, high in BANDS:
        top = high if high < 1.0 else 1.01
        group = [s for s in samples if low <= s.progress < top]
        if group:
            print(_row(f"{low:.0%}-{high:.0%}", group))
    print(_row("all", samples))


async def _stills(directory: Path, count: int) -> list[Path]:
    colours = ["#0E7C86", "#F2C14E", "#1F2A44", "#D64545", "#4ADE80", "#8A93A6"]
    paths = []
    for i in range(count):
        path = directory / f"still{i}.png"
        pair = colours[i % 5 : i % 5 + 2]
        await render_image(path, prompt=f"Still {i}", width=640, height=360, colors=pair)
        paths.append(path)
    return paths


async def main(jobs: int, seed: int, db: str, dump: str | None) -> None:
    work = Path(tempfile.mkdtemp(prefix="reelgraph-etabench-"))
    database_url = redis_url = pg_name = None
    if db == "postgres":
        pg_name = f"reelgraph_bench_{uuid.uuid4().hex[:8]}"
        admin = await asyncpg.connect(PG)
        await admin.execute(f'CREATE DATABASE "{pg_name}"')
        await admin.close()
        database_url = PG.rsplit("/", 1)[0] + "/" + pg_name
        redis_url = "redis://127.0.0.1:6379/0"
        await asyncio.to_thread(upgrade, async_database_url(database_url, work))
    settings = Settings(
        data_dir=work / "data",
        database_url=database_url,
        redis_url=redis_url,
        redis_prefix=f"reelgraph-etabench-{uuid.uuid4().hex[:6]}",
        run_worker=True,
        **UNLIMITED_RATES,
    )
    app = create_app(settings)
    samples: list[Sample] = []
    dumped: list[dict[str, Any]] | None = [] if dump else None
    started = time.perf_counter()
    try:
        async with (
            serve_app(app, ws="websockets-sansio") as base_url,
            httpx.AsyncClient(base_url=base_url, timeout=120) as http,
        ):
            client = GraphQLClient(http, await issue_key(app.state.runtime))
            campaign = await client.create_campaign(await client.create_client("ETA"), "Clips")
            for path in await _stills(work, 6):
                await client.upload_ok(path.read_bytes(), path.name, campaign_id=campaign)
            async with WsClient.open(base_url, key=client.key) as ws:
                bench = Bench(client, ws, campaign, random.Random(seed), dump=dumped)
                for n in range(jobs):
                    samples += await bench.job(n)
    finally:
        if pg_name:
            admin = await asyncpg.connect(PG)
            await admin.execute(f'DROP DATABASE IF EXISTS "{pg_name}" WITH (FORCE)')
            await admin.close()
    if dump:
        await asyncio.to_thread(Path(dump).write_text, json.dumps(dumped))
    print(f"\n{jobs} jobs in {time.perf_counter() - started:.0f} s ({db}, seed {seed})")
    report("Before the model had history", [s for s in samples if not s.had_history])
    known = [s for s in samples if s.had_history]
    report("Once the model had history", known)
    report(
        "Of those, with 1 s or more left (the dashboard counts seconds)",
        [s for s in known if s.actual >= 1.0],
    )
    short = [s for s in known if s.actual < 1.0]
    finishing = sum(1 for s in short if s.predicted is not None and s.predicted < 1.0)
    print(
        f"\nUnder 1 s left: {len(short)} predictions, {finishing} under 1 s "
        '(the dashboard\'s "finishing…")'
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--jobs", type=int, default=30)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--db", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--dump", help="write every job's events and clips to this JSON file")
    args = parser.parse_args()
    asyncio.run(main(args.jobs, args.seed, args.db, args.dump))
