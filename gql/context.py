"""Per-request context: the runtime, who is asking, and fresh DataLoaders."""

from __future__ import annotations

from dataclasses import dataclass, field

from starlette.requests import Request
from starlette.responses import Response
from starlette.websockets import WebSocket
from strawberry.exceptions import StrawberryGraphQLError
from strawberry.types import Info as StrawberryInfo

from gql.loaders import Loaders
from services.broker import Broker
from services.runtime import Runtime
from services.viewer import Viewer


@dataclass(slots=True)
class Context:
    request: Request | WebSocket
    response: Response | WebSocket | None
    runtime: Runtime
    broker: Broker
    viewer: Viewer | None
    loaders: Loaders = field(init=False)

    def __post_init__(self) -> None:
        self.loaders = Loaders(self.runtime.session_factory)

    def require_viewer(self) -> Viewer:
        if self.viewer is None:
            raise StrawberryGraphQLError(
                "A valid API key is required: send `Authorization: Bearer <key>`.",
                extensions={"code": "UNAUTHENTICATED"},
            )
        return self.viewer


Info = StrawberryInfo[Context, None]
