"""Per-request context: the runtime, who is asking, and fresh DataLoaders.

Over HTTP the context lives for one request, and its reads share one connection
(`reads`, services/reads.py). Over a WebSocket it lives as long as the connection, so it
keeps no loader cache of its own: each operation (each runs in its own task) gets fresh
loaders, whose batches open their own sessions.
"""

from __future__ import annotations

from contextlib import AbstractAsyncContextManager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import Request
from starlette.responses import Response
from starlette.websockets import WebSocket
from strawberry.exceptions import StrawberryGraphQLError
from strawberry.types import Info as StrawberryInfo

from gql.loaders import Loaders
from gql.rate_limit import limiter_of
from services.broker import Broker
from services.eta import EtaEstimator
from services.rate_limits import Limit
from services.reads import ReadSession
from services.runtime import Runtime
from services.viewer import Viewer

if TYPE_CHECKING:
    from gql.live.feeds import Live

_operation_loaders: ContextVar[Loaders | None] = ContextVar("operation_loaders", default=None)


@dataclass(slots=True)
class Context:
    request: Request | WebSocket
    response: Response | WebSocket | None
    runtime: Runtime
    broker: Broker
    viewer: Viewer | None
    live: Live | None = None
    eta: EtaEstimator | None = None
    connection_params: dict[str, Any] | None = None
    """The `connection_init` payload of a WebSocket connection."""
    _loaders: Loaders | None = field(default=None, init=False)
    _reads: ReadSession | None = field(default=None, init=False)
    media: tuple[int, Any] | None = field(default=None, init=False)
    """The expiry of the media URLs made for this context, and what makes them
    (gql.types.assets `Asset.signed`)."""

    def reads(self) -> AbstractAsyncContextManager[AsyncSession]:
        """A session for reading: over HTTP the request's one connection, in turns."""
        if isinstance(self.request, WebSocket):
            return self.runtime.session_factory()
        if self._reads is None:
            self._reads = ReadSession(self.runtime.session_factory, self.runtime.reads)
        return self._reads()

    @property
    def loaders(self) -> Loaders:
        if isinstance(self.request, WebSocket):
            loaders = _operation_loaders.get()
            if loaders is None:
                loaders = Loaders(self.runtime.session_factory)
                _operation_loaders.set(loaders)
            return loaders
        if self._loaders is None:
            self._loaders = Loaders(self.reads)
        return self._loaders

    async def release(self) -> None:
        """Drop the request's loaders, and every row they cache, when its operation is done.

        graphql-core's executor refers to itself (its async helpers are its own bound
        methods), so it and the context it holds are freed only by a full collection;
        whatever the context still reached would wait with them: here, the whole page.
        """
        self._loaders = None
        reads, self._reads = self._reads, None
        if reads is not None:
            await reads.close()

    def require_viewer(self) -> Viewer:
        if self.viewer is None:
            raise StrawberryGraphQLError(
                "A valid API key is required: send `Authorization: Bearer <key>`.",
                extensions={"code": "UNAUTHENTICATED"},
            )
        return self.viewer

    async def check_rate(self, limit: Limit) -> None:
        """Count one call of the viewer's key against `limit`: RateLimited when refused
        (a ServiceError, so a mutation answers it as a `UserError` with `retryAfter`)."""
        viewer = self.require_viewer()
        limiter = limiter_of(self.request)
        if limiter is not None:
            await limiter.check(limit, str(viewer.key_id))

    def require_live(self) -> Live:
        if self.live is None:
            raise StrawberryGraphQLError(
                "Live subscriptions are not available in this process.",
                extensions={"code": "UNAVAILABLE"},
            )
        return self.live


Info = StrawberryInfo[Context, None]
