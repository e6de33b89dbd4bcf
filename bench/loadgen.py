"""Load generator for `graph_bench`, run in its own process.

Reads a JSON spec on stdin, opens `concurrency` keep-alive connections (httpx) and
sends the same POST on each, back to back, until `duration` seconds have passed or
`max_requests` requests have started. Prints one JSON line: every latency, errors,
the elapsed time and its own CPU time.

A separate process, so the client's CPU (httpx reading ~300 kB answers is not free)
comes from the other core rather than from the server's event loop.
"""

from __future__ import annotations

import asyncio
import json
import resource
import sys
import time
from dataclasses import asdict, dataclass, field
from typing import Any

import httpx

try:
    import uvloop

    LOOP_FACTORY: Any = uvloop.new_event_loop
except ImportError:  # pragma: no cover
    LOOP_FACTORY = None


@dataclass(frozen=True, slots=True)
class Spec:
    url: str
    headers: dict[str, str]
    body: str
    concurrency: int
    duration: float
    max_requests: int


@dataclass(slots=True)
class Result:
    latencies_ms: list[float] = field(default_factory=list)
    errors: int = 0
    first_error: str | None = None
    seconds: float = 0.0
    response_bytes: int = 0
    client_cpu_seconds: float = 0.0


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


async def run(spec: Spec) -> Result:
    limits = httpx.Limits(
        max_connections=spec.concurrency, max_keepalive_connections=spec.concurrency
    )
    headers = {"content-type": "application/json", **spec.headers}
    body = spec.body.encode()
    out = Result()
    started = 0

    async with httpx.AsyncClient(limits=limits, timeout=120, headers=headers) as client:
        cpu0, t0 = _cpu(), time.perf_counter()
        deadline = t0 + spec.duration

        async def worker() -> None:
            nonlocal started
            while time.perf_counter() < deadline and started < spec.max_requests:
                started += 1
                sent = time.perf_counter()
                try:
                    response = await client.post(spec.url, content=body)
                    content = response.content
                    ok = response.status_code == 200 and b'"errors"' not in content[:64_000]
                    error = None if ok else f"HTTP {response.status_code}: {content[:300]!r}"
                except httpx.HTTPError as exc:
                    content, error = b"", f"{type(exc).__name__}: {exc}"
                out.latencies_ms.append((time.perf_counter() - sent) * 1000)
                out.response_bytes = max(out.response_bytes, len(content))
                if error is not None:
                    out.errors += 1
                    out.first_error = out.first_error or error

        await asyncio.gather(*(worker() for _ in range(spec.concurrency)))
        out.seconds = time.perf_counter() - t0
        out.client_cpu_seconds = _cpu() - cpu0
    return out


def main() -> None:
    spec = Spec(**json.loads(sys.stdin.read()))
    with asyncio.Runner(loop_factory=LOOP_FACTORY) as runner:
        result = runner.run(run(spec))
    print(json.dumps(asdict(result)))


if __name__ == "__main__":
    main()
