"""Serve an app with uvicorn in a subprocess and measure it with `bench.loadgen`."""

from __future__ import annotations

import asyncio
import json
import math
import os
import socket
import subprocess
import sys
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import httpx

from bench.loadgen import Result, Spec

ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True, slots=True)
class Load:
    concurrency: int
    warmup: float  # seconds per endpoint, discarded
    duration: float  # seconds per endpoint, split over the rounds
    max_requests: int  # per endpoint, split over the rounds
    rounds: int


async def post_json(http: httpx.AsyncClient, path: str, body: dict[str, Any], key: str) -> Any:
    response = await http.post(path, json=body, headers={"authorization": f"Bearer {key}"})
    response.raise_for_status()
    data = response.json()
    if "errors" in data:
        raise RuntimeError(f"{path} answered errors: {data['errors']}")
    return data


@dataclass(frozen=True, slots=True)
class Endpoint:
    label: str
    factory: str  # endpoints of one factory share one server
    path: str
    body: dict[str, Any]
    expected: Any  # the answer (parsed JSON), with media URLs on `expected_base`


@dataclass(frozen=True, slots=True)
class Measured:
    endpoint: Endpoint
    requests: int
    errors: int
    first_error: str | None
    rps: float
    p50_ms: float
    p99_ms: float
    server_cpu_ms_per_request: float
    peak_rss_mb: float  # of the server process (shared by endpoints of one app)
    client_cpu_share: float  # the load generator's CPU, in cores
    same_json: bool


def percentile(ascending: list[float], q: float) -> float:
    """Nearest-rank percentile (0 for no samples)."""
    if not ascending:
        return 0.0
    return ascending[max(1, math.ceil(q / 100 * len(ascending))) - 1]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


class Server:
    """`python -m uvicorn --factory ...` on a free loopback port, 1 worker, quiet."""

    def __init__(self, factory: str, env: dict[str, str], log: Path) -> None:
        self.port = _free_port()
        self.log = log
        self.url = f"http://127.0.0.1:{self.port}"
        argv = [sys.executable, "-m", "uvicorn", "--factory", factory]
        argv += ["--host", "127.0.0.1", "--port", str(self.port), "--workers", "1"]
        argv += ["--no-access-log", "--log-level", "warning"]
        with log.open("ab") as sink:
            self.proc = subprocess.Popen(argv, cwd=ROOT, env=env, stdout=sink, stderr=sink)

    async def ready(self) -> None:
        """Wait until the port accepts connections (bound the wait with asyncio.timeout)."""
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited: {self.log.read_text()[-2000:]}")
            try:
                _, writer = await asyncio.open_connection("127.0.0.1", self.port)
            except OSError:
                await asyncio.sleep(0.1)
                continue
            writer.close()
            await writer.wait_closed()
            return

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


RESULT_LIMIT = 1 << 26
"""The stdout buffer for a load generator's result, past any result's size (a warm-up's
latencies ran to 200 KB). At the default, 64 KiB, reading paused at twice that, and the
result came back cut at 131,072 bytes once the generator had exited (seen once in eight
runs, on Python 3.11.7)."""


async def _load(spec: Spec) -> Result:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bench.loadgen",
        cwd=ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        limit=RESULT_LIMIT,
    )
    stdout, _ = await proc.communicate(json.dumps(asdict(spec)).encode())
    if proc.returncode != 0:
        raise RuntimeError(f"load generator failed ({proc.returncode})")
    return Result(**json.loads(stdout.decode().strip().splitlines()[-1]))


async def measure(
    endpoints: list[Endpoint],
    env: dict[str, str],
    key: str,
    expected_base: str,
    load: Load,
    log: Path,
) -> list[Measured]:
    """Serve each app once, check every endpoint's answer, then load them in turns.

    Rounds interleave the endpoints (A B C A B C ...), so a burst of other work on a
    shared machine slows all of them alike instead of one. Each first answer over HTTP
    is compared with the endpoint's `expected` one.
    """
    servers: dict[str, Server] = {}
    try:
        for e in endpoints:
            if e.factory not in servers:
                servers[e.factory] = Server(e.factory, env, log)
        async with asyncio.timeout(90):
            for server in servers.values():
                await server.ready()
        same: dict[str, bool] = {}
        async with httpx.AsyncClient(timeout=60) as http:
            for e in endpoints:
                base = servers[e.factory].url
                text = json.dumps(await post_json(http, base + e.path, e.body, key))
                same[e.label] = (
                    json.loads(text.replace(base + "/", expected_base + "/")) == e.expected
                )

        def spec(e: Endpoint, seconds: float, cap: int) -> Spec:
            return Spec(
                url=servers[e.factory].url + e.path,
                headers={"authorization": f"Bearer {key}"},
                body=json.dumps(e.body),
                concurrency=load.concurrency,
                duration=seconds,
                max_requests=cap,
            )

        for e in endpoints:
            await _load(spec(e, load.warmup, 1_000_000))
        totals = {e.label: Result() for e in endpoints}
        cpu = dict.fromkeys(totals, 0.0)
        cap = math.ceil(load.max_requests / load.rounds)
        for _ in range(load.rounds):
            for e in endpoints:
                pid = servers[e.factory].proc.pid
                before = _cpu_seconds(pid)
                got = await _load(spec(e, load.duration / load.rounds, cap))
                cpu[e.label] += _cpu_seconds(pid) - before
                total = totals[e.label]
                total.latencies_ms += got.latencies_ms
                total.errors += got.errors
                total.first_error = total.first_error or got.first_error
                total.seconds += got.seconds
                total.client_cpu_seconds += got.client_cpu_seconds
        rss = {factory: _peak_rss_mb(s.proc.pid) for factory, s in servers.items()}
    finally:
        for server in servers.values():
            server.stop()
    out = []
    for e in endpoints:
        t = totals[e.label]
        ms, n = sorted(t.latencies_ms), len(t.latencies_ms)
        out.append(
            Measured(
                endpoint=e,
                requests=n,
                errors=t.errors,
                first_error=t.first_error,
                rps=n / t.seconds if t.seconds else 0.0,
                p50_ms=percentile(ms, 50),
                p99_ms=percentile(ms, 99),
                server_cpu_ms_per_request=cpu[e.label] * 1000 / n if n else 0.0,
                peak_rss_mb=rss[e.factory],
                client_cpu_share=t.client_cpu_seconds / t.seconds if t.seconds else 0.0,
                same_json=same[e.label],
            )
        )
    return out
