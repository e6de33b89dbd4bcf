"""`jobs.worker.Worker` does not ask Redis about the jobs it is running itself.

A job stays in arq's queue (a sorted set) while it runs, so each poll's ZRANGEBYSCORE
hands the running job's id back, and plain arq spends WATCH/EXISTS/ZSCORE/UNWATCH on
`arq:in-progress:<id>` to find out it is already running. These tests watch the commands
the Redis server really executes (MONITOR, on a dedicated embedded redis-server, or on
the shared server in PostgreSQL mode, filtered to keys unique to the test) while a task
of ours holds the worker, and check that skipping changes nothing about what runs.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import redis.asyncio as aioredis
from arq import worker as arq_worker
from arq.connections import ArqRedis, RedisSettings, create_pool
from arq.constants import in_progress_key_prefix

from jobs.worker import Worker
from services.queue.embedded_redis import EmbeddedRedis
from services.settings import Settings

WITHIN = 20.0  # seconds; every wait below is on a condition, this is only its deadline


@pytest.fixture(scope="module")
async def redis_url(
    settings: Settings, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[str]:
    """PostgreSQL mode: the shared Redis (keys unique to each test); SQLite mode: a
    redis-server of our own, so MONITOR sees little besides this test's traffic."""
    if settings.redis_url:
        yield settings.redis_url
        return
    embedded = EmbeddedRedis(Path(tmp_path_factory.mktemp("claims")))
    url = await embedded.start()
    try:
        yield url
    finally:
        await embedded.stop()


@pytest.fixture
async def pool(redis_url: str) -> AsyncIterator[ArqRedis]:
    """The test's own connection: enqueueing, markers, checks."""
    redis = await create_pool(RedisSettings.from_dsn(redis_url))
    yield redis
    await redis.aclose()


@pytest.fixture
def queue(settings: Settings) -> str:
    return f"{settings.redis_prefix}:claims-{uuid.uuid4().hex[:8]}"


@dataclass
class Gates:
    """What the test task does, run by run: each run is recorded and announced; a run
    then waits until its name is released."""

    runs: Counter[str] = field(default_factory=Counter)
    retries: dict[str, int] = field(default_factory=dict)  # name -> runs that ask for a retry
    _ran: dict[tuple[str, int], asyncio.Event] = field(default_factory=dict)
    _release: dict[str, asyncio.Event] = field(default_factory=dict)

    def ran(self, name: str, n: int = 1) -> asyncio.Event:
        return self._ran.setdefault((name, n), asyncio.Event())

    def release(self, name: str) -> asyncio.Event:
        return self._release.setdefault(name, asyncio.Event())


async def hold(ctx: dict[str, Any], name: str) -> str:
    gates: Gates = ctx["gates"]
    gates.runs[name] += 1
    n = gates.runs[name]
    gates.ran(name, n).set()
    if n <= gates.retries.get(name, 0):
        raise arq_worker.Retry(defer=0)
    await gates.release(name).wait()
    return f"{name} done"


@contextlib.asynccontextmanager
async def running_worker(
    worker_class: type[arq_worker.Worker], redis_url: str, queue: str, gates: Gates
) -> AsyncIterator[arq_worker.Worker]:
    """A worker polling `queue` every 10 ms on a pool of its own."""
    worker_pool = await create_pool(RedisSettings.from_dsn(redis_url))
    worker = worker_class(
        functions=[arq_worker.func(hold, name="hold")],
        queue_name=queue,
        redis_pool=worker_pool,
        poll_delay=0.01,
        handle_signals=False,
        keep_result=60,
        max_jobs=10,
        max_tries=3,
        ctx={"gates": gates},
    )
    main = asyncio.create_task(worker.main())
    try:
        yield worker
    finally:
        for event in gates._release.values():
            event.set()
        main.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await main
        # arq's close() calls a deprecated redis-py method (an error under -W error):
        # stop what it would stop, by hand.
        for task in worker.tasks.values():
            task.cancel()
        await asyncio.gather(*worker.tasks.values(), return_exceptions=True)
        await worker_pool.aclose()


class Monitor:
    """The commands the server executes, in its order, as MONITOR reports them."""

    def __init__(self) -> None:
        self.commands: list[list[str]] = []
        self._changed = asyncio.Event()

    async def record(self, redis_url: str, subscribed: asyncio.Event) -> None:
        client = aioredis.Redis.from_url(redis_url)
        try:
            async with client.monitor() as monitor:
                subscribed.set()
                async for info in monitor.listen():
                    self.commands.append(info["command"].split(" "))
                    changed, self._changed = self._changed, asyncio.Event()
                    changed.set()
        finally:
            await client.aclose()

    async def wait_for(self, condition: Callable[[], bool], within: float = WITHIN) -> None:
        async with asyncio.timeout(within):
            while not condition():
                await self._changed.wait()

    def index(self, command: list[str], start: int = 0) -> int | None:
        wanted = [command[0].upper(), *command[1:]]
        for i in range(start, len(self.commands)):
            name, *args = self.commands[i]
            if [name.upper(), *args] == wanted:
                return i
        return None

    def polls(self, queue: str, start: int) -> list[int]:
        """Indexes (from `start`) of the worker's ZRANGEBYSCOREs on `queue`."""
        return [
            i
            for i in range(start, len(self.commands))
            if self.commands[i][0].upper() == "ZRANGEBYSCORE" and self.commands[i][1:2] == [queue]
        ]


@pytest.fixture
async def monitor(redis_url: str) -> AsyncIterator[Monitor]:
    recorder = Monitor()
    subscribed = asyncio.Event()
    task = asyncio.create_task(recorder.record(redis_url, subscribed))
    async with asyncio.timeout(WITHIN):
        await subscribed.wait()
    yield recorder
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


async def wait(event: asyncio.Event) -> None:
    async with asyncio.timeout(WITHIN):
        await event.wait()


@pytest.mark.parametrize(
    ("worker_class", "checks_itself"),
    [(Worker, False), (arq_worker.Worker, True)],
    ids=["reelgraph-worker", "plain-arq-control"],
)
async def test_running_job_is_not_rechecked_each_poll(
    worker_class: type[arq_worker.Worker],
    checks_itself: bool,
    redis_url: str,
    pool: ArqRedis,
    queue: str,
    monitor: Monitor,
) -> None:
    """Our worker's polls skip the job it runs; the plain-arq control shows MONITOR
    would see the per-poll checks if they were made."""
    gates = Gates()
    job_id = f"claims-{uuid.uuid4().hex}"
    in_progress = in_progress_key_prefix + job_id
    async with running_worker(worker_class, redis_url, queue, gates) as worker:
        job = await pool.enqueue_job("hold", "a", _job_id=job_id, _queue_name=queue)
        assert job is not None
        await wait(gates.ran("a"))

        # Everything MONITOR reports after this marker ran after the task had started.
        marker = f"claims-marker-{uuid.uuid4().hex}"
        await pool.echo(marker)
        await monitor.wait_for(lambda: monitor.index(["ECHO", marker]) is not None)
        start = monitor.index(["ECHO", marker])
        assert start is not None
        # Six polls after the marker: the five before the sixth ran start_jobs in full.
        await monitor.wait_for(lambda: len(monitor.polls(queue, start)) >= 6)
        end = monitor.polls(queue, start)[5]
        window = monitor.commands[start:end]

        assert await pool.zscore(queue, job_id) is not None, "a running job stays queued"
        assert not gates.release("a").is_set() and not worker.tasks[job_id].done()
        checks = [
            c
            for c in window
            if (c[0].upper() in ("WATCH", "EXISTS") and in_progress in c[1:])
            or (c[0].upper() == "ZSCORE" and c[1:] == [queue, job_id])
        ]
        if checks_itself:
            watches = [c for c in checks if c[0].upper() == "WATCH"]
            assert len(watches) >= 5, window
        else:
            assert checks == [], checks

        gates.release("a").set()
        assert await job.result(timeout=WITHIN, poll_delay=0.01) == "a done"
    assert gates.runs == {"a": 1}
    assert await pool.zscore(queue, job_id) is None, "the finished job left the queue"


async def test_other_jobs_still_run_while_one_is_running(
    redis_url: str, pool: ArqRedis, queue: str
) -> None:
    """The skip is for the ids this worker is running only: jobs enqueued meanwhile start,
    and a job that asked to be retried (its first task done, still in `worker.tasks`
    until the poll's cleanup) runs again."""
    gates = Gates(retries={"c": 1})
    ids = {name: f"claims-{name}-{uuid.uuid4().hex}" for name in "abc"}
    async with running_worker(Worker, redis_url, queue, gates) as worker:
        a = await pool.enqueue_job("hold", "a", _job_id=ids["a"], _queue_name=queue)
        assert a is not None
        await wait(gates.ran("a"))

        b = await pool.enqueue_job("hold", "b", _job_id=ids["b"], _queue_name=queue)
        c = await pool.enqueue_job("hold", "c", _job_id=ids["c"], _queue_name=queue)
        assert b is not None and c is not None
        await wait(gates.ran("b"))
        await wait(gates.ran("c", 2))
        gates.release("c").set()
        assert await c.result(timeout=WITHIN, poll_delay=0.01) == "c done"

        # a and b were running all along, side by side
        assert not worker.tasks[ids["a"]].done() and not worker.tasks[ids["b"]].done()
        gates.release("b").set()
        assert await b.result(timeout=WITHIN, poll_delay=0.01) == "b done"
        gates.release("a").set()
        assert await a.result(timeout=WITHIN, poll_delay=0.01) == "a done"
    assert gates.runs == {"a": 1, "b": 1, "c": 2}
    for job_id in ids.values():
        assert await pool.zscore(queue, job_id) is None
