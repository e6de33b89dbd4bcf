"""The ASGI application: /graphql (HTTP and WebSocket), /media, /healthz."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.routing import Route, WebSocketRoute

from db.migrate import upgrade
from gql.request_id import RequestIdMiddleware
from gql.routes import health, media
from gql.schema import schema
from gql.view import GraphQLView
from services.runtime import Runtime
from services.settings import Settings

log = logging.getLogger("reelgraph")


def create_app(settings: Settings | None = None) -> Starlette:
    settings = settings or Settings()
    view = GraphQLView(schema)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        if settings.embedded:
            settings.data_dir.mkdir(parents=True, exist_ok=True)
            await asyncio.to_thread(upgrade, settings.sqlalchemy_url)
        runtime = Runtime.open(settings)
        app.state.runtime = runtime
        view.runtime = runtime
        try:
            yield
        finally:
            await runtime.close()

    return Starlette(
        routes=[
            Route("/graphql", view, methods=["GET", "POST"]),
            WebSocketRoute("/graphql", view),
            Route("/media/{asset_id}", media, methods=["GET", "HEAD"]),
            Route("/healthz", health),
        ],
        middleware=[Middleware(RequestIdMiddleware)],
        lifespan=lifespan,
    )
