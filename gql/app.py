"""The ASGI application: /graphql (HTTP and WebSocket), /media, /webhooks, /healthz.

On the embedded default the lifespan also starts Redis and an arq worker in-process;
with REDIS_URL set it only connects, and `reelgraph worker` processes do the work.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from arq.connections import create_pool
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.routing import Route, WebSocketRoute

from db.migrate import upgrade
from gql.dashboard.routes import dashboard_routes
from gql.graphiql.routes import graphiql_routes
from gql.live.feeds import Live
from gql.live.hub import Hub
from gql.live.live_event import LiveEvent
from gql.rate_limit import RateLimitMiddleware
from gql.request_id import RequestIdMiddleware
from gql.routes import health, media, thumbnail
from gql.schema import build_schema
from gql.view import GraphQLView
from gql.webhooks import replicate_webhook
from jobs.worker import InProcessWorker, build_worker, redis_settings
from services.api_keys import revocation_channel
from services.eta import EtaEstimator
from services.queue.arq_broker import ArqBroker
from services.queue.embedded_redis import EmbeddedRedis
from services.rate_limits import RateLimiter
from services.runtime import Runtime
from services.settings import Settings

log = logging.getLogger("reelgraph")


def create_app(settings: Settings | None = None) -> Starlette:
    settings = settings or Settings()
    view = GraphQLView(build_schema(settings), settings=settings)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        if settings.embedded:
            settings.data_dir.mkdir(parents=True, exist_ok=True)
            await asyncio.to_thread(upgrade, settings.sqlalchemy_url)
        runtime = Runtime.open(settings)
        async with contextlib.AsyncExitStack() as stack:
            stack.push_async_callback(runtime.close)
            redis_url = settings.redis_url
            if redis_url is None:
                embedded = EmbeddedRedis(settings.data_dir)
                redis_url = await embedded.start()
                stack.push_async_callback(embedded.stop)
            pool = await create_pool(redis_settings(redis_url))
            stack.push_async_callback(pool.aclose)
            broker = ArqBroker(pool, prefix=settings.redis_prefix)
            app.state.runtime, app.state.broker = runtime, broker
            app.state.rate_limiter = None
            if settings.rate_limits:  # read by RateLimitMiddleware and Context.check_rate
                limiter = RateLimiter.connect(settings, redis_url)
                stack.push_async_callback(limiter.aclose)
                app.state.rate_limiter = limiter
            view.runtime, view.broker = runtime, broker
            view.eta = EtaEstimator(
                runtime.session_factory,
                sample=settings.eta_sample_size,
                ttl=settings.eta_cache_seconds,
            )
            hub: Hub[LiveEvent] = Hub(
                pool,
                LiveEvent.decode,
                name=f"reelgraph-live:{settings.redis_prefix}",
                inbox_limit=settings.live_inbox_limit,
            )
            await hub.start()
            stack.push_async_callback(hub.stop)
            if settings.key_cache_seconds > 0:  # keys are remembered while revocations are heard
                keys_hub: Hub[str] = Hub(
                    pool, bytes.decode, name=f"reelgraph-keys:{settings.redis_prefix}"
                )
                await keys_hub.start()
                stack.push_async_callback(keys_hub.stop)
                revocations = keys_hub.listen(revocation_channel(broker))
                await stack.enter_async_context(runtime.keys.following(revocations))
            view.live = app.state.live = Live(
                hub=hub,
                factory=runtime.session_factory,
                channel=broker.channel,
                eta=view.eta,
                idle_resync=settings.live_idle_resync_seconds,
                inbox_limit=settings.live_inbox_limit,
            )
            if settings.worker_in_process:
                worker = app.state.worker = InProcessWorker(
                    lambda: build_worker(settings, pool, runtime=runtime, handle_signals=False)
                )
                task = asyncio.create_task(worker.run(), name="reelgraph-worker")
                stack.push_async_callback(_stop_worker, worker, task)
            if settings.gc_freeze:
                _freeze_start_up()
            yield

    app = Starlette(
        routes=[
            Route("/graphql", view),  # the view answers other methods: 405 in JSON
            WebSocketRoute("/graphql", view),
            Route("/media/{asset_id}", media, methods=["GET", "HEAD"]),
            Route("/media/{asset_id}/thumbnail", thumbnail, methods=["GET", "HEAD"]),
            Route("/webhooks/replicate", replicate_webhook, methods=["POST"]),
            Route("/healthz", health),
            *dashboard_routes,
            *(graphiql_routes if settings.graphiql else []),  # the page's own files
        ],
        # Outermost first: a refused request still carries its X-Request-ID.
        middleware=[Middleware(RequestIdMiddleware), Middleware(RateLimitMiddleware)],
        lifespan=lifespan,
    )
    app.state.prepared_queries = view.prepared  # for benchmarks and tests to read
    return app


YOUNG_COLLECTION_EVERY = 50_000
"""Allocations between collections of the youngest generation (CPython's default: 700)."""


def _freeze_start_up() -> None:
    """Move what start-up left alive to the permanent generation, so that collections stop
    rescanning modules, schema and mappers (a page of 1,000 assets: 48 -> 37 ms CPU).

    Frozen, the old generation looks small to CPython's "full collection once it grew by
    a quarter" rule; a burst to 1,000 live subscribers then promoted its messages in
    flight and paid a full collection every few thousand of them (subscriptions_bench,
    100 jobs: burst p50 0.7-0.9 s against 0.13-0.19 s unfrozen). Collecting the young
    generation every 10,000 allocations instead of 700 lets those die young (p50 0.1 s).
    At 10,000, a page of 1,000 assets still paid 2.1-2.4 ms of collections a request
    (measured with gc.callbacks, in-process); at 50,000, 0.09 ms.
    """
    gc.collect()
    gc.freeze()
    _, middle, old = gc.get_threshold()
    gc.set_threshold(YOUNG_COLLECTION_EVERY, middle, old)


async def _stop_worker(worker: object, task: asyncio.Task[None]) -> None:
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError, Exception):
        await task
    close = getattr(worker, "close", None)
    if close is None:
        return
    try:
        await close()
    except asyncio.CancelledError:
        # arq's close() cancels the jobs still running and gathers them, so a job cut
        # short raises here; only a cancel of this shutdown itself goes on up
        current = asyncio.current_task()
        if current is not None and current.cancelling():
            raise
    except Exception:  # noqa: S110 - the worker is going away either way
        pass
