"""The arq worker: task functions are thin wrappers over `services.generation`.

`reelgraph worker` runs it as its own process in production; the embedded default
runs one inside the API process. Every worker beats a heartbeat (`liveness`), and after
each beat resumes the sub-jobs of workers whose heartbeat has stopped.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import Callable
from typing import Any

from arq import cron, func
from arq import worker as arq_worker
from arq.connections import ArqRedis, RedisSettings, create_pool
from redis.exceptions import RedisError

from services.creative import writing
from services.generation import (
    combining,
    exports,
    maintenance,
    polling,
    selection,
    submit,
    tasks,
    webhooks,
)
from services.generation.deps import Deps, build_deps
from services.generation.liveness import COMBINE, Liveness
from services.queue.arq_broker import ArqBroker
from services.runtime import Runtime
from services.settings import Settings

log = logging.getLogger(__name__)
Ctx = dict[str, Any]


def _deps(ctx: Ctx) -> Deps:
    deps: Deps = ctx["deps"]
    return deps


def _liveness(ctx: Ctx) -> Liveness | None:
    liveness: Liveness | None = ctx.get("liveness")
    return liveness


# The tasks of a sub-job or a job (run, poll, webhook, select, combine) count their own
# unexpected errors as failed attempts (`services.generation.faults`), so none of them
# ends in arq's "failed" with a traceback, to be run again by the reconciler forever.


async def run_sub_job(ctx: Ctx, sub_id: str) -> None:
    await submit.run_sub_job(_deps(ctx), uuid.UUID(sub_id), owner=_liveness(ctx))


async def poll_sub_job(ctx: Ctx, sub_id: str, n: int) -> None:
    await polling.poll_sub_job(_deps(ctx), uuid.UUID(sub_id), n)


async def apply_webhook(ctx: Ctx, sub_id: str, body: dict[str, Any]) -> None:
    await webhooks.apply_webhook(_deps(ctx), uuid.UUID(sub_id), body)


async def select_pairs(ctx: Ctx, job_id: str, attempt: int = 1) -> None:
    await selection.select_pairs(_deps(ctx), uuid.UUID(job_id), attempt)


async def write_storyboard(ctx: Ctx, job_id: str, attempt: int = 1) -> None:
    await writing.write_storyboard(_deps(ctx), uuid.UUID(job_id), attempt)


async def export_video(ctx: Ctx, job_id: str, attempt: int = 1) -> None:
    await exports.export_renditions(_deps(ctx), uuid.UUID(job_id), attempt)


async def combine_job(ctx: Ctx, job_id: str, attempt: int = 1) -> None:
    liveness = _liveness(ctx)
    if liveness is None:
        await combining.combine_job(_deps(ctx), uuid.UUID(job_id), attempt)
        return
    async with liveness.holding(COMBINE, uuid.UUID(job_id)):  # resumed elsewhere if we die
        await combining.combine_job(_deps(ctx), uuid.UUID(job_id), attempt)


async def cancel_predictions(ctx: Ctx, job_id: str, unwanted: list[list[str]] | None = None) -> int:
    return await maintenance.cancel_predictions(_deps(ctx), uuid.UUID(job_id), unwanted or ())


async def reconcile(ctx: Ctx) -> int:
    return await maintenance.reconcile(_deps(ctx), _liveness(ctx))


FUNCTIONS: list[Any] = [
    run_sub_job,
    poll_sub_job,
    apply_webhook,
    select_pairs,
    write_storyboard,
    export_video,
    combine_job,
    cancel_predictions,
    reconcile,
]
assert {f.__name__ for f in FUNCTIONS} >= {
    tasks.RUN_SUB_JOB,
    tasks.POLL_SUB_JOB,
    tasks.APPLY_WEBHOOK,
    tasks.SELECT_PAIRS,
    tasks.WRITE_STORYBOARD,
    tasks.EXPORT_VIDEO,
    tasks.COMBINE_JOB,
    tasks.CANCEL_PREDICTIONS,
    tasks.RECONCILE,
}


class Worker(arq_worker.Worker):
    """arq's worker without one cost. Each poll, arq checks every due job id with four
    Redis round trips (WATCH, EXISTS, ZSCORE, UNWATCH) before it starts it, and a job
    stays in the queue while it runs, so a worker running 40 tasks and polling every
    50 ms spends 3,200 round trips a second asking about its own tasks (arq PR #492).
    The ids this worker is running are skipped here: arq would find their in-progress
    key and skip them too, so what runs is the same."""

    async def start_jobs(self, job_ids: list[bytes]) -> None:
        running = self.tasks

        def mine(job_id: bytes) -> bool:
            task = running.get(job_id.decode())
            return task is not None and not task.done()

        await super().start_jobs([job_id for job_id in job_ids if not mine(job_id)])


def redis_settings(url: str) -> RedisSettings:
    return RedisSettings.from_dsn(url)


def build_worker(
    settings: Settings,
    pool: ArqRedis,
    *,
    runtime: Runtime | None = None,
    handle_signals: bool = True,
) -> Worker:
    """A worker on `pool`; with `runtime` given it shares the caller's (embedded mode)."""
    owned: dict[str, Any] = {}

    async def startup(ctx: Ctx) -> None:
        rt = runtime or Runtime.open(settings)
        if runtime is None:
            owned["runtime"] = rt
        deps = ctx["deps"] = build_deps(rt, ArqBroker(pool, prefix=settings.redis_prefix))
        liveness = ctx["liveness"] = Liveness(
            pool,
            prefix=settings.redis_prefix,
            heartbeat_seconds=settings.worker_heartbeat_seconds,
            dead_seconds=settings.worker_dead_seconds,
        )
        await liveness.beat()  # alive before the first claim; the loop's first sweep is now
        owned["heartbeat"] = asyncio.create_task(
            liveness.run(lambda: maintenance.resume_orphans(deps, liveness)),
            name=f"heartbeat {liveness.worker_id}",
        )

    async def shutdown(ctx: Ctx) -> None:
        heartbeat: asyncio.Task[None] | None = owned.pop("heartbeat", None)
        if heartbeat is not None:
            heartbeat.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await heartbeat
        liveness: Liveness | None = ctx.get("liveness")
        if liveness is not None:  # the tasks it was running were cancelled: peers resume them
            with contextlib.suppress(OSError, RedisError):
                await liveness.stop()
        deps: Deps | None = ctx.get("deps")
        if deps is not None:
            await deps.aclose()
        if "runtime" in owned:
            await owned["runtime"].close()

    # The join may take minutes (crossfades re-encode); it ends itself before arq would.
    combine = func(combine_job, timeout=settings.combine_timeout_seconds + 60)
    functions = [combine if f is combine_job else f for f in FUNCTIONS]
    return Worker(
        functions=functions,
        queue_name=f"{settings.redis_prefix}:queue",
        cron_jobs=[
            cron(
                reconcile,
                second=set(range(0, 60, max(1, min(settings.reconcile_interval_seconds, 60)))),
                run_at_startup=True,
                unique=True,
            )
        ],
        redis_pool=pool,
        on_startup=startup,
        on_shutdown=shutdown,
        handle_signals=handle_signals,
        max_jobs=settings.worker_max_jobs,
        job_timeout=300,
        keep_result=0,
        poll_delay=settings.worker_poll_delay,
        max_tries=5,
        allow_abort_jobs=True,
        health_check_interval=30,
    )


async def run_worker(settings: Settings) -> None:
    """`reelgraph worker`: a separate process against REDIS_URL."""
    if not settings.redis_url:
        raise SystemExit("reelgraph worker needs REDIS_URL (the embedded default runs its own)")
    pool = await create_pool(redis_settings(settings.redis_url))
    worker = build_worker(settings, pool)
    try:
        await worker.async_run()
    finally:
        await worker.close()


RESTART_DELAYS = (1.0, 2.0, 5.0, 10.0, 30.0)
"""Pauses before the embedded worker's successive restarts (the last one repeats)."""


class InProcessWorker:
    """The embedded default's worker, kept alive as a supervisor keeps `reelgraph worker`.

    arq's worker stops at the first error its loop meets (Redis unreachable for a moment:
    a connect that timed out under load). A separate worker process exits and is started
    again; inside the server nothing would, and every job after it would wait queued for
    good. So a worker that stops is retired (its running jobs cancelled, which the
    reconciler resumes; its heartbeat, liveness and deps closed, the shared Redis pool
    left open) and a new one starts after a pause that grows while it keeps failing."""

    def __init__(self, build: Callable[[], Worker]) -> None:
        self._build = build
        self.worker = build()
        self.restarts = 0
        self.restarted = asyncio.Event()  # set at each new start after a stop

    async def run(self) -> None:
        failures = 0
        while True:
            try:
                await self.worker.main()
                return
            except asyncio.CancelledError:
                raise
            except Exception:
                delay = RESTART_DELAYS[min(failures, len(RESTART_DELAYS) - 1)]
                failures += 1
                log.exception("the in-process worker stopped; a new one starts in %.0f s", delay)
            await _retire(self.worker)
            await asyncio.sleep(delay)
            self.worker = self._build()
            self.restarts += 1
            self.restarted.set()

    async def close(self) -> None:
        await self.worker.close()


async def _retire(worker: Worker) -> None:
    """What arq's `close()` does but closing the Redis pool, which the app shares."""
    for task in worker.tasks.values():
        task.cancel()
    await asyncio.gather(*worker.tasks.values(), return_exceptions=True)
    if worker.on_shutdown is not None:
        try:
            await worker.on_shutdown(worker.ctx)
        except Exception:  # the worker is going either way; its successor starts clean
            log.exception("retiring the in-process worker")
