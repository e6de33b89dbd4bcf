"""Live subscriptions under load: one API process, 1,000 WebSocket subscribers.

    .venv/bin/python -m bench.subscriptions_bench                # both scenarios
    .venv/bin/python -m bench.subscriptions_bench --stock        # also Strawberry's own path
    .venv/bin/python -m bench.subscriptions_bench --subscribers 2000 --jobs 1

Scenarios: 1,000 subscribers of one job, and 1,000 spread over 100 jobs (10 each).
The API runs as `uvicorn --ws websockets-sansio` in its own process, pinned to CPU 0;
the subscribers (graphql-transport-ws, hand-written on `websockets`, in two processes)
and the publisher share CPU 1. Events are published straight on the jobs' Redis
channels in `services.events.event_payload`'s shape, with the publish time
(`time.time()`) as the event's message; a subscriber's latency is its receipt time
minus that. Per scenario:

- memory: the server's RSS once every subscription is live, minus before any
  connected, over the subscribers;
- paced: events at `--rate` per second (round-robin over the jobs) for `--seconds`;
  p50/p99 latency and deliveries/s;
- burst: `--burst` events as fast as Redis takes them; deliveries/s from the first
  publish to the last receipt, p50/p99 latency (queueing included), and the server's
  CPU time per delivery (`/proc/<pid>/stat`).

`--stock` runs each scenario again with the cohort path switched off in the server
(every subscriber executes every event through Strawberry), for comparison.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import functools
import json
import os
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
QUERY = "subscription($j: ID!) { jobProgress(jobId: $j) { seq message progress } }"
STOCK_ENV = "SUBSCRIPTIONS_BENCH_STOCK"
GC_ENV = "SUBSCRIPTIONS_BENCH_GC"


def server_app() -> Any:
    """uvicorn factory for the API process: the app as it ships, optionally with the
    cohort path off (`--stock`) or the garbage collector tuned (`--gc`)."""
    import gc
    from contextlib import asynccontextmanager

    from gql.app import create_app
    from services.settings import Settings

    if os.environ.get(STOCK_ENV) == "1":
        from gql.live import cohort

        cohort.DirectDelivery.for_operation = classmethod(  # type: ignore[method-assign, assignment]
            lambda cls, info, eta: None
        )
    app = create_app(Settings())
    mode = os.environ.get(GC_ENV, "default")
    if mode == "off":
        gc.disable()
    elif mode.startswith("threshold="):
        gc.set_threshold(*(int(x) for x in mode.split("=", 1)[1].split(",")))
    if mode == "freeze" or os.environ.get(GC_ENV + "_FREEZE") == "1":
        inner = app.router.lifespan_context

        @asynccontextmanager
        async def lifespan(a: Any) -> Any:
            async with inner(a):
                gc.collect()
                gc.freeze()
                yield

        app.router.lifespan_context = lifespan
    return app


# The subscriber processes ------------------------------------------------------------


class _Subscriber(asyncio.Protocol):
    """A bare-bones graphql-transport-ws subscriber on a raw socket: the benchmark's
    clients must cost far less than the server they measure (the `websockets` client
    spends ~50 us a message; this one a few). No compression is offered."""

    def __init__(self, key: str, job: str, state: dict[str, Any]) -> None:
        self.key, self.job, self.state = key, job, state
        self.buf = bytearray()
        self.open = False
        self.live = False
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        transport.write(
            b"GET /graphql HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
            b"Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
            b"Sec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: graphql-transport-ws\r\n\r\n"
        )

    def send(self, message: dict[str, Any]) -> None:
        data = json.dumps(message).encode()
        n = len(data)
        head = bytes([0x81, 0x80 | n]) if n < 126 else bytes([0x81, 0xFE]) + n.to_bytes(2, "big")
        assert self.transport is not None
        self.transport.write(head + b"\0\0\0\0" + data)  # a zero mask leaves data as is

    def data_received(self, data: bytes) -> None:
        now = time.time()
        self.buf += data
        if not self.open:
            end = self.buf.find(b"\r\n\r\n")
            if end < 0:
                return
            assert self.buf.startswith(b"HTTP/1.1 101"), bytes(self.buf[:200])
            del self.buf[: end + 4]
            self.open = True
            self.send({"type": "connection_init", "payload": {"apiKey": self.key}})
            self.send({"id": "1", "type": "subscribe",
                       "payload": {"query": QUERY, "variables": {"j": self.job}}})  # fmt: skip
            self.state["connected"] += 1
        buf = self.buf
        while len(buf) >= 2:
            opcode, size, start = buf[0] & 0x0F, buf[1] & 0x7F, 2
            if size == 126:
                size, start = int.from_bytes(buf[2:4], "big"), 4
            elif size == 127:
                size, start = int.from_bytes(buf[2:10], "big"), 10
            if len(buf) < start + size:
                return
            payload = bytes(buf[start : start + size])
            del buf[: start + size]
            if opcode == 1:
                self.on_text(payload, now)
            elif opcode == 9 and self.transport is not None:  # ping -> pong
                self.transport.write(bytes([0x8A, 0x80 | len(payload)]) + b"\0\0\0\0" + payload)

    def on_text(self, text: bytes, now: float) -> None:
        at = text.find(b'"message": "')
        if at < 0:
            return
        if not self.live:
            self.live = True
            self.state["live"] += 1
        stamp = text[at + 12 : text.index(b'"', at + 12)]
        if stamp != b"warm":
            self.state["latencies"].append(now - float(stamp))


async def _client_main(url: str, key: str, jobs: list[str], count: int, offset: int) -> None:
    state: dict[str, Any] = {"latencies": [], "connected": 0, "live": 0}
    host, port = url.split("//", 1)[1].split("/", 1)[0].split(":")
    loop = asyncio.get_running_loop()
    transports = []
    for i in range(count):
        job = jobs[(offset + i) % len(jobs)]
        transport, _ = await loop.create_connection(
            functools.partial(_Subscriber, key, job, state), host, int(port)
        )
        transports.append(transport)
        while state["connected"] < i + 1 - 50:
            await asyncio.sleep(0.005)
    while state["connected"] < count:
        await asyncio.sleep(0.005)
    print(json.dumps({"ready": count}), flush=True)
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    while line := (await reader.readline()).decode().strip():
        if line == "count":
            print(
                json.dumps({"received": len(state["latencies"]), "live": state["live"]}), flush=True
            )
        elif line == "report":
            print(json.dumps({"latencies": [round(x, 6) for x in state["latencies"]]}), flush=True)
            state["latencies"].clear()
        elif line == "exit":
            break
    for transport in transports:
        transport.close()


# The driver --------------------------------------------------------------------------


@dataclass
class Proc:
    proc: asyncio.subprocess.Process

    async def ask(self, line: str) -> dict[str, Any]:
        assert self.proc.stdin is not None
        assert self.proc.stdout is not None
        self.proc.stdin.write((line + "\n").encode())
        await self.proc.stdin.drain()
        answer: dict[str, Any] = json.loads(await self.proc.stdout.readline())
        return answer


def _stat(pid: int) -> tuple[float, float]:
    """(CPU seconds, RSS MiB) of a process."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    cpu = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    rss = int(fields[21]) * os.sysconf("SC_PAGE_SIZE") / 2**20
    return cpu, rss


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000 if ordered else float("nan")


async def _seed(data_dir: Path, n_jobs: int) -> tuple[str, list[uuid.UUID], uuid.UUID]:
    from db.migrate import upgrade
    from db.models import Campaign, Client, Job, JobKind, JobStatus
    from services import api_keys
    from services.runtime import Runtime
    from services.settings import Settings
    from services.uow import unit_of_work

    settings = Settings(data_dir=data_dir)
    await asyncio.to_thread(upgrade, settings.sqlalchemy_url)
    runtime = Runtime.open(settings)
    try:
        async with unit_of_work(runtime.session_factory) as session:
            key = (await api_keys.create_key(session, admin=True)).secret
            client = Client(name="Bench")
            session.add(client)
            await session.flush()
            campaign = Campaign(client_id=client.id, name="Live")
            session.add(campaign)
            await session.flush()
            jobs = [Job(campaign_id=campaign.id, kind=JobKind.VIDEO, status=JobStatus.RUNNING)
                    for _ in range(n_jobs)]  # fmt: skip
            session.add_all(jobs)
            await session.flush()
            return key, [j.id for j in jobs], campaign.id
    finally:
        await runtime.close()


def _payload(job_id: uuid.UUID, campaign_id: uuid.UUID, seq: int, message: str) -> str:
    return json.dumps({
        "jobId": str(job_id), "campaignId": str(campaign_id), "subJobId": None, "seq": seq,
        "type": "job.progress", "status": "running", "progress": min(seq / 10_000, 1.0),
        "message": message, "data": {}, "createdAt": "2026-11-22T00:00:00+00:00",
    })  # fmt: skip


async def _scenario(args: argparse.Namespace, n_jobs: int, stock: bool) -> dict[str, Any]:
    import redis.asyncio as aioredis

    from gql.ids import encode

    data_dir = Path(tempfile.mkdtemp(prefix="subs-bench-"))
    key, job_ids, campaign_id = await _seed(data_dir, n_jobs)
    port = _free_port()
    env = {**os.environ, "REELGRAPH_DATA_DIR": str(data_dir), "REELGRAPH_RUN_WORKER": "false",
           "REELGRAPH_REDIS_PREFIX": "bench", "REELGRAPH_RATE_LIMITS": "false",
           STOCK_ENV: "1" if stock else "0"}  # fmt: skip
    server = await asyncio.create_subprocess_exec(
        "taskset", "-c", "0", sys.executable, "-m", "uvicorn", "--factory",
        "bench.subscriptions_bench:server_app", "--port", str(port), "--ws", "websockets-sansio",
        "--no-access-log", "--log-level", "warning",
        cwd=ROOT, env=env,
    )  # fmt: skip
    clients: list[Proc] = []
    redis = aioredis.Redis(unix_socket_path=str(data_dir / "redis.sock"))
    try:
        await _wait_healthy(port, server)
        _, rss_before = _stat(server.pid)
        per_proc = args.subscribers // args.client_procs
        jobs = [encode("Job", j) for j in job_ids]
        for i in range(args.client_procs):
            proc = await asyncio.create_subprocess_exec(
                "taskset", "-c", "1", sys.executable, "-m", "bench.subscriptions_bench", "--client",
                f"ws://127.0.0.1:{port}/graphql", key, ",".join(jobs), str(per_proc),
                str(i * per_proc), stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
                cwd=ROOT, limit=2**28,
            )  # fmt: skip
            clients.append(Proc(proc))
        for c in clients:
            assert c.proc.stdout
            json.loads(await c.proc.stdout.readline())
        subscribers = per_proc * args.client_procs
        seqs = dict.fromkeys(job_ids, 0)

        async def publish(job_id: uuid.UUID, message: str | None = None) -> None:
            seqs[job_id] += 1
            stamp = message or repr(time.time())
            await redis.publish(
                f"bench:job:{job_id}", _payload(job_id, campaign_id, seqs[job_id], stamp)
            )

        async def counts() -> tuple[int, int]:
            answers = [await c.ask("count") for c in clients]
            return sum(a["received"] for a in answers), sum(a["live"] for a in answers)

        async def wait_for(total: int) -> None:
            while (await counts())[0] < total:
                await asyncio.sleep(0.01)

        # Every subscription is live once one of the warm-up events has reached it.
        while (await counts())[1] < subscribers:
            for job_id in job_ids:
                await publish(job_id, "warm")
            await asyncio.sleep(0.2)
        _, rss_live = _stat(server.pid)

        # Paced: --rate deliveries per second.
        fanout = subscribers // n_jobs
        events_per_second = args.rate / fanout
        n_paced = max(1, int(events_per_second * args.seconds))
        paced_cpu0, _ = _stat(server.pid)
        started = time.perf_counter()
        for i in range(n_paced):
            await publish(job_ids[i % n_jobs])
            await asyncio.sleep(
                max(0.0, started + (i + 1) / events_per_second - time.perf_counter())
            )
        expected = n_paced * fanout
        await wait_for(expected)
        paced_elapsed = time.perf_counter() - started
        paced_cpu1, _ = _stat(server.pid)
        paced = [x for c in clients for x in (await c.ask("report"))["latencies"]]

        # Burst: --burst deliveries' worth of events, published back to back.
        n_burst = max(1, args.burst // fanout)
        cpu0, _ = _stat(server.pid)
        started = time.perf_counter()
        for i in range(n_burst):
            await publish(job_ids[i % n_jobs])
        await wait_for(n_burst * fanout)
        burst_elapsed = time.perf_counter() - started
        cpu1, rss_end = _stat(server.pid)
        burst = [x for c in clients for x in (await c.ask("report"))["latencies"]]
        return {
            "scenario": f"{subscribers} subscribers / {n_jobs} job{'s' if n_jobs > 1 else ''}"
            + (" [stock]" if stock else ""),
            "rss_per_subscriber_kib": (rss_live - rss_before) * 1024 / subscribers,
            "rss_mib": (rss_before, rss_live, rss_end),
            "paced": (
                len(paced),
                len(paced) / paced_elapsed,
                _pct(paced, 0.5),
                _pct(paced, 0.99),
                (paced_cpu1 - paced_cpu0) * 1e6 / max(len(paced), 1),
            ),
            "spread": [
                round(_pct(paced, q), 1) for q in (0.0, 0.01, 0.1, 0.25, 0.5, 0.75, 0.9, 0.99, 1.0)
            ],
            "burst": (
                len(burst),
                len(burst) / burst_elapsed,
                _pct(burst, 0.5),
                _pct(burst, 0.99),
                (cpu1 - cpu0) * 1e6 / max(len(burst), 1),
            ),
        }
    finally:
        for c in clients:
            with contextlib.suppress(Exception):
                assert c.proc.stdin
                c.proc.stdin.write(b"exit\n")
                await c.proc.stdin.drain()
        for c in clients:
            with contextlib.suppress(Exception):
                async with asyncio.timeout(10):
                    await c.proc.wait()
            if c.proc.returncode is None:
                c.proc.kill()
        await redis.aclose()
        server.terminate()
        await server.wait()


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


async def _wait_healthy(port: int, server: asyncio.subprocess.Process) -> None:
    import httpx

    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as http, asyncio.timeout(60):
        while True:
            if server.returncode is not None:
                raise RuntimeError("the API process exited")
            with contextlib.suppress(httpx.TransportError):
                if (await http.get("/healthz")).status_code == 200:
                    return
            await asyncio.sleep(0.05)


def _print(result: dict[str, Any]) -> None:
    n, rate, p50, p99, paced_cpu = result["paced"]
    bn, brate, bp50, bp99, cpu_us = result["burst"]
    before, live, end = result["rss_mib"]
    print(f"\n== {result['scenario']}")
    print(f"  memory  RSS {before:.0f} -> {live:.0f} MiB live ({end:.0f} at the end): "
          f"{result['rss_per_subscriber_kib']:.1f} KiB per subscriber")  # fmt: skip
    print("  paced percentiles 0/1/10/25/50/75/90/99/100:", result["spread"])
    print(f"  paced   {n:>7} deliveries  {rate:>8.0f}/s   p50 {p50:6.1f} ms   p99 {p99:6.1f} ms"
          f"   server CPU {paced_cpu:.1f} us/delivery")  # fmt: skip
    print(f"  burst   {bn:>7} deliveries  {brate:>8.0f}/s   p50 {bp50:6.1f} ms   p99 {bp99:6.1f} ms"
          f"   server CPU {cpu_us:.1f} us/delivery")  # fmt: skip


async def _main(args: argparse.Namespace) -> None:
    print(
        f"subscriptions_bench: {args.subscribers} subscribers; paced {args.rate:g} deliveries/s "
        f"for {args.seconds:g} s; burst of {args.burst} deliveries; {os.cpu_count()} CPUs"
    )
    for n_jobs in args.jobs:
        for stock in (False, True) if args.stock else (False,):
            _print(await _scenario(args, n_jobs, stock))


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--client":
        url, key, jobs, count, offset = sys.argv[2:7]
        asyncio.run(_client_main(url, key, jobs.split(","), int(count), int(offset)))
        return
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--subscribers", type=int, default=1000)
    parser.add_argument("--jobs", type=lambda s: [int(x) for x in s.split(",")], default=[1, 100])
    parser.add_argument("--rate", type=float, default=10_000, help="paced deliveries per second")
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--burst", type=int, default=100_000, help="deliveries in the burst")
    parser.add_argument("--client-procs", type=int, default=2)
    parser.add_argument("--stock", action="store_true", help="also run Strawberry's own path")
    asyncio.run(_main(parser.parse_args()))


if __name__ == "__main__":
    main()
