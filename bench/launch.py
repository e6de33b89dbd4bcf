"""uvicorn factories for `graph_bench`: the apps as they ship, or with the GC tuned.

Each factory imports its own app only, so a server loads what its app needs and no
more: the plain server never imports SQLAlchemy or Strawberry, and its RSS shows it.

`GRAPH_BENCH_GC_FREEZE=1` (the benchmark's `--gc-freeze`) runs `gc.collect();
gc.freeze()` once start-up is done, in every server alike, so the objects every
request leaves alone (modules, the schema, the mapper registry) leave the
collector's generations and full collections stop rescanning them.
"""

from __future__ import annotations

import gc
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from starlette.applications import Starlette

GC_FREEZE = "GRAPH_BENCH_GC_FREEZE"


def graphql() -> Starlette:
    from gql.app import create_app

    return _tuned(create_app())


def ceiling() -> Starlette:
    """The ORM ceiling: the service functions, no GraphQL."""
    from bench import ceiling_app

    return _tuned(ceiling_app.create_app())


def plain() -> Starlette:
    """The plain ceiling: the driver and orjson."""
    from bench import plain_app

    return _tuned(plain_app.create_app())


def _tuned(app: Starlette) -> Starlette:
    if os.environ.get(GC_FREEZE) != "1":
        return app
    inner = app.router.lifespan_context

    @asynccontextmanager
    async def lifespan(a: Starlette) -> AsyncIterator[None]:
        async with inner(a):
            gc.collect()
            gc.freeze()
            yield

    app.router.lifespan_context = lifespan
    return app
