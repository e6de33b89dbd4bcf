"""Load generator for `graph_bench`, run in its own process.

Reads a JSON spec on stdin, opens `concurrency` keep-alive HTTP/1.1 connections and
sends the same POST on each, back to back, until `duration` seconds have passed or
`max_requests` requests have started. Prints one JSON line: every latency, errors,
the elapsed time and its own CPU time.

A separate process, so the client's CPU comes from the other core rather than from
the server's event loop; and a bare client (asyncio streams on uvloop, the request
bytes made once, the answer read by its Content-Length), so that a server answering
in half a millisecond is not waiting on its client: httpx spends ~1.5 ms of CPU a
request, and on two cores capped the one-client query near 500 requests/s.
"""

from __future__ import annotations

import asyncio
import json
import resource
import sys
import time
from dataclasses import asdict, dataclass, field
from typing import Any
from urllib.parse import urlsplit

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


def request_bytes(spec: Spec) -> tuple[str, int, bytes]:
    """The host, the port and the whole request, made once."""
    url = urlsplit(spec.url)
    host, port = url.hostname or "127.0.0.1", url.port or 80
    body = spec.body.encode()
    path = url.path + (f"?{url.query}" if url.query else "")
    headers = {
        "host": f"{host}:{port}",
        "content-type": "application/json",
        **spec.headers,
        "content-length": str(len(body)),
    }
    head = f"POST {path} HTTP/1.1\r\n" + "".join(f"{k}: {v}\r\n" for k, v in headers.items())
    return host, port, (head + "\r\n").encode("latin-1") + body


async def read_response(reader: asyncio.StreamReader) -> tuple[int, bytes, bool]:
    """One answer: its status, its body and whether the server keeps the connection."""
    lines = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ", 2)[1])
    headers = dict(
        (name.strip().lower(), value.strip())
        for name, _, value in (line.partition(":") for line in lines[1:] if line)
    )
    if "content-length" in headers:
        body = await reader.readexactly(int(headers["content-length"]))
    elif headers.get("transfer-encoding", "").lower() == "chunked":
        chunks = []
        while size := int((await reader.readuntil(b"\r\n")).split(b";")[0], 16):
            chunks.append((await reader.readexactly(size + 2))[:-2])
        await reader.readuntil(b"\r\n")  # no trailers from our servers
        body = b"".join(chunks)
    else:
        body = await reader.read()
    return status, body, headers.get("connection", "").lower() != "close"


Broken = (OSError, ValueError, asyncio.IncompleteReadError, asyncio.LimitOverrunError)
"""A connection that failed, closed early or sent a head that does not parse."""


async def run(spec: Spec) -> Result:
    host, port, request = request_bytes(spec)
    out = Result()
    started = 0
    cpu0, t0 = _cpu(), time.perf_counter()
    deadline = t0 + spec.duration

    async def worker() -> None:
        nonlocal started
        connection: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None
        while time.perf_counter() < deadline and started < spec.max_requests:
            started += 1
            sent = time.perf_counter()
            try:
                if connection is None:
                    connection = await asyncio.open_connection(host, port)
                reader, writer = connection
                writer.write(request)
                await writer.drain()
                status, content, keep = await read_response(reader)
                ok = status == 200 and b'"errors"' not in content[:64_000]
                error = None if ok else f"HTTP {status}: {content[:300]!r}"
            except Broken as exc:
                content, error, keep = b"", f"{type(exc).__name__}: {exc}", False
            out.latencies_ms.append((time.perf_counter() - sent) * 1000)
            out.response_bytes = max(out.response_bytes, len(content))
            if error is not None:
                out.errors += 1
                out.first_error = out.first_error or error
            if not keep and connection is not None:
                connection[1].close()
                connection = None
        if connection is not None:
            connection[1].close()

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
