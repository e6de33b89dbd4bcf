"""Benchmark: what hostile bodies cost a real server, in time and memory.

    .venv/bin/python -m bench.bodies_bench [--gigabytes 1.5]

Starts `reelgraph serve` on the embedded default in a temporary data directory (its
own process, as a newcomer runs it) and sends, one case at a time:

- a multipart upload of `--gigabytes` without an API key;
- the same with a valid key, over the upload cap (`REELGRAPH_MAX_UPLOAD_BYTES`, 512 MiB);
- a 200 MB JSON body, and a 200 MB webhook body (chunked: no Content-Length);
- four concurrent uploads of a 16000x16000 PNG (a few hundred kB, 768 MB decoded).

For each: the answer (status and code), how long until it came, how many bytes the
client managed to send, and the server's resident memory before and at its peak
during the case (sampled every 5 ms from /proc). The ceiling of a refusal is to read
nothing: zero bytes taken and no memory grown.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import httpx

from tests.samples import png_bomb

ROOT = Path(__file__).resolve().parent.parent
CHUNK = 1 << 20
KEY_LINE = re.compile(r"^\s+(rg_[a-z0-9]+_[A-Za-z0-9_-]+)\s*$")


class RssPeak:
    """The peak resident memory of a process while the block runs."""

    def __init__(self, pid: int) -> None:
        self.pid, self.peak, self._stop = pid, 0, threading.Event()

    def rss(self) -> int:
        status = Path(f"/proc/{self.pid}/status").read_text()
        return int(re.search(r"VmRSS:\s+(\d+) kB", status)[1]) * 1024  # type: ignore[index]

    def __enter__(self) -> RssPeak:
        self.before = self.peak = self.rss()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def _sample(self) -> None:
        while not self._stop.wait(0.005):
            self.peak = max(self.peak, self.rss())

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()


class Counter:
    def __init__(self) -> None:
        self.sent = 0

    async def stream(self, head: bytes, size: int, tail: bytes = b"") -> AsyncIterator[bytes]:
        for part in (head, *([b"\0" * CHUNK] * (size // CHUNK)), tail):
            self.sent += len(part)
            yield part


def multipart(size: int, counter: Counter) -> tuple[dict[str, str], AsyncIterator[bytes]]:
    boundary = "benchboundary"
    query = 'mutation($f: Upload!) { uploadAsset(input: {file: $f, clientId: "x"}) { __typename } }'
    operations = json.dumps({"query": query, "variables": {"f": None}})
    head = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="operations"\r\n\r\n{operations}\r\n'
        f'--{boundary}\r\nContent-Disposition: form-data; name="map"\r\n\r\n{{"0": ["variables.f"]}}\r\n'
        f'--{boundary}\r\nContent-Disposition: form-data; name="0"; filename="big.bin"\r\n'
        "Content-Type: application/octet-stream\r\n\r\n"
    ).encode()
    headers = {
        "Content-Type": f"multipart/form-data; boundary={boundary}",
        "Apollo-Require-Preflight": "true",
    }
    return headers, counter.stream(head, size, f"\r\n--{boundary}--\r\n".encode())


def outcome(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return f"{response.status_code}"
    errors = body.get("errors") or []
    if errors:
        return f"{response.status_code} {(errors[0].get('extensions') or {}).get('code', '')}"
    if "code" in body:
        return f"{response.status_code} {body['code']}"
    data = body.get("data") or {}
    payload = next(iter(data.values()), None) or {}
    return f"{response.status_code} {payload.get('code') or payload.get('__typename') or ''}"


async def send(http: httpx.AsyncClient, method: str, url: str, **kwargs: object) -> str:
    return outcome(await http.request(method, url, **kwargs))  # type: ignore[arg-type]


async def stream_post(
    base: str, path: str, headers: dict[str, str], body: AsyncIterator[bytes]
) -> str:
    """POST a chunked body as curl does: `Expect: 100-continue`, then the body once the
    server asks for it (or after a second without an answer), reading the answer while
    still sending (httpx only reads once it has sent everything). Returns the answer,
    or how the connection ended."""
    host, port = base.removeprefix("http://").split(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    lines = [f"POST {path} HTTP/1.1", f"Host: {host}", "Transfer-Encoding: chunked"]
    lines += ["Expect: 100-continue", *(f"{name}: {value}" for name, value in headers.items())]
    writer.write(("\r\n".join(lines) + "\r\n\r\n").encode())

    async def write() -> None:
        async for part in body:
            writer.write(f"{len(part):x}\r\n".encode() + part + b"\r\n")
            await writer.drain()
        writer.write(b"0\r\n\r\n")
        await writer.drain()

    sending: asyncio.Task[None] | None = None
    try:
        try:
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 1.0)
        except TimeoutError:
            head = b""
        if not head or head.startswith(b"HTTP/1.1 100"):
            sending = asyncio.create_task(write())
            head = await reader.readuntil(b"\r\n\r\n")
        text = head.decode("latin-1")
        length = re.search(r"(?im)^content-length:\s*(\d+)", text)
        payload = await reader.readexactly(int(length[1])) if length else b""
        return outcome(httpx.Response(int(text.split(" ", 2)[1]), content=payload))
    except (asyncio.IncompleteReadError, ConnectionError) as exc:
        return f"connection closed ({type(exc).__name__})"
    finally:
        if sending is not None:
            sending.cancel()
            await asyncio.gather(sending, return_exceptions=True)
        writer.close()


async def measure(label: str, pid: int, case: Callable[[Counter], Awaitable[list[str]]]) -> None:
    counter = Counter()
    with RssPeak(pid) as rss:
        start = time.perf_counter()
        answers = await case(counter)
        elapsed = time.perf_counter() - start
    mb = 1 << 20
    print(
        f"{label:44} {', '.join(sorted(set(answers)))[:34]:34} {elapsed:7.2f} s"
        f"  sent {counter.sent / mb:7.1f} MB  rss {rss.before / mb:5.0f} -> {rss.peak / mb:5.0f} MB"
    )


def start_server(data_dir: Path) -> tuple[subprocess.Popen[str], str, str]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    env |= {
        "REELGRAPH_DATA_DIR": str(data_dir),
        "REPLICATE_WEBHOOK_SECRET": "whsec_" + "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
        "REELGRAPH_RATE_LIMITS": "false",
    }
    server = subprocess.Popen(
        [str(Path(sys.executable).with_name("reelgraph")), "serve", "--port", str(port)],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    assert server.stdout is not None
    key = ""
    for line in server.stdout:
        if match := KEY_LINE.match(line):
            key = match[1]
        if "Uvicorn running" in line or "Application startup complete" in line:
            break
    threading.Thread(target=server.stdout.read, daemon=True).start()  # keep the pipe drained
    return server, f"http://127.0.0.1:{port}", key


async def run(gigabytes: float) -> None:
    size = int(gigabytes * (1 << 30))
    bomb = png_bomb()
    with tempfile.TemporaryDirectory(prefix="bodies-bench-") as tmp:
        server, base, key = start_server(Path(tmp))
        try:
            async with httpx.AsyncClient(base_url=base, timeout=300) as http:
                auth = {"Authorization": f"Bearer {key}"}
                created = await http.post(
                    "/graphql",
                    headers=auth,
                    json={"query": 'mutation { createClient(input: {name: "Bench"}) '
                          "{ ... on ClientPayload { client { id } } } }"},
                )  # fmt: skip
                client_id = created.json()["data"]["createClient"]["client"]["id"]
                print(f"{'case':44} {'answer':34} {'time':>9}  {'client sent':>15}  server memory")

                async def keyless(counter: Counter) -> list[str]:
                    headers, body = multipart(size, counter)
                    return [await stream_post(base, "/graphql", headers, body)]

                async def keyed(counter: Counter) -> list[str]:
                    headers, body = multipart(size, counter)
                    return [await stream_post(base, "/graphql", headers | auth, body)]

                async def json_body(counter: Counter) -> list[str]:
                    body = counter.stream(b'{"query": "', 200 * CHUNK, b'"}')
                    headers = {"Content-Type": "application/json"} | auth
                    return [await stream_post(base, "/graphql", headers, body)]

                async def webhook(counter: Counter) -> list[str]:
                    body = counter.stream(b"{", 200 * CHUNK, b"}")
                    signed = {
                        "Content-Type": "application/json",
                        "webhook-id": "msg_bench",
                        "webhook-timestamp": str(int(time.time())),
                        "webhook-signature": "v1,bm90IGEgc2lnbmF0dXJl",
                    }
                    return [await stream_post(base, "/webhooks/replicate?sub=x", signed, body)]

                async def bombs(counter: Counter) -> list[str]:
                    query = (
                        "mutation($f: Upload!, $c: ID!) { uploadAsset(input: {file: $f, "
                        "clientId: $c}) { __typename ... on UserError { code } } }"
                    )

                    async def one() -> str:
                        counter.sent += len(bomb)
                        operations = {"query": query, "variables": {"f": None, "c": client_id}}
                        return await send(
                            http, "POST", "/graphql",
                            headers=auth | {"Apollo-Require-Preflight": "true"},
                            data={"operations": json.dumps(operations), "map": '{"0": ["variables.f"]}'},
                            files={"0": ("bomb.png", bomb, "image/png")},
                        )  # fmt: skip

                    return list(await asyncio.gather(*(one() for _ in range(4))))

                pid = server.pid
                await measure(f"multipart {gigabytes:g} GB, no key", pid, keyless)
                await measure(f"multipart {gigabytes:g} GB, key, over the cap", pid, keyed)
                await measure("JSON 200 MB, key", pid, json_body)
                await measure("webhook 200 MB, chunked", pid, webhook)
                await measure("4 x PNG 16000x16000 at once, key", pid, bombs)
        finally:
            server.terminate()
            server.wait(30)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gigabytes", type=float, default=1.5)
    args = parser.parse_args()
    asyncio.run(run(args.gigabytes))


if __name__ == "__main__":
    main()
