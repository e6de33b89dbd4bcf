"""The /graphql endpoint, following the GraphQL-over-HTTP specification.

- `application/graphql-response+json` when the client accepts it; request errors
  (parse, validation, variables) then answer 400 and carry no `data`.
- GET runs queries only: a mutation over GET is 405 Method Not Allowed.
- Multipart uploads need `Apollo-Require-Preflight` or `X-Apollo-Operation-Name`,
  as Apollo Server's CSRF prevention does, so a plain HTML form cannot post one.

WebSockets (graphql-transport-ws and the legacy graphql-ws) authenticate once, at
`connection_init`: the key comes in its payload (`Authorization: Bearer <key>`,
`authorization` or `apiKey`) or in the handshake's Authorization header.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from cross_web import AsyncHTTPRequestAdapter, HTTPException
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.types import Receive, Scope, Send
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL
from strawberry.exceptions import ConnectionRejectionError
from strawberry.http import GraphQLHTTPResponse, GraphQLRequestData
from strawberry.http.parse_content_type import parse_content_type
from strawberry.http.websocket_origin import normalize_origin
from strawberry.schema import BaseSchema
from strawberry.schema.exceptions import InvalidOperationTypeError
from strawberry.types import ExecutionResult
from strawberry.types.graphql import OperationType
from strawberry.types.unset import UNSET, UnsetType

from gql.context import Context
from gql.live.feeds import Live
from gql.live.protocols import LegacyWSHandler, TransportWSHandler
from services.api_keys import authenticate
from services.broker import Broker
from services.eta import EtaEstimator
from services.runtime import Runtime
from services.settings import Settings
from services.viewer import Viewer

GRAPHQL_RESPONSE = "application/graphql-response+json"
JSON = "application/json"
PREFLIGHT_HEADERS = ("apollo-require-preflight", "x-apollo-operation-name")


def negotiate(accept: str | None) -> str | None:
    """The response media type for an Accept header, or None when we can serve none."""
    if not accept:
        return JSON
    ranked: list[tuple[float, str]] = []
    for part in accept.split(","):
        media, _, params = part.strip().partition(";")
        quality = 1.0
        for param in params.split(";"):
            name, _, value = param.strip().partition("=")
            if name == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        ranked.append((quality, media.strip().lower()))
    for quality, media in sorted(ranked, key=lambda r: -r[0]):
        if quality <= 0:
            continue
        if media == GRAPHQL_RESPONSE:
            return GRAPHQL_RESPONSE
        if media in (JSON, "application/*", "*/*"):
            return JSON
    return None


def is_request_error(result: ExecutionResult) -> bool:
    """No data and no error tied to a field: the request never reached execution."""
    return result.data is None and all(e.path is None for e in result.errors or [])


def allowed_origins(settings: Settings) -> list[str]:
    """`REELGRAPH_ALLOWED_ORIGINS`, plus the origin of `public_url` (the server's own
    origin needs no listing: Strawberry accepts same-origin handshakes)."""
    origins = [o.strip() for o in settings.allowed_origins.split(",") if o.strip()]
    own = normalize_origin(settings.public_url) if settings.public_url else None
    return [*origins, own] if own else origins


def bearer(value: str | None) -> str | None:
    scheme, _, token = (value or "").strip().partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        return token.strip()
    return None


def key_from_params(params: dict[str, Any] | None) -> str | None:
    """The API key in a `connection_init` payload, if any."""
    params = params or {}
    for name in ("Authorization", "authorization"):
        value = params.get(name)
        if isinstance(value, str) and value.strip():
            return bearer(value) or value.strip()
    key = params.get("apiKey")
    return key.strip() if isinstance(key, str) and key.strip() else None


class GraphQLView(GraphQL[Context, None]):
    graphql_transport_ws_handler_class = TransportWSHandler
    graphql_ws_handler_class = LegacyWSHandler

    def __init__(
        self,
        schema: BaseSchema,
        runtime: Runtime | None = None,
        broker: Broker | None = None,
        *,
        settings: Settings | None = None,
    ) -> None:
        settings = settings or Settings()
        super().__init__(
            schema,
            graphql_ide="graphiql",
            allow_queries_via_get=True,
            multipart_uploads_enabled=True,
            keep_alive=True,
            keep_alive_interval=settings.ws_keep_alive_seconds,
            connection_init_wait_timeout=timedelta(
                seconds=settings.ws_connection_init_timeout_seconds
            ),
            max_subscriptions_per_connection=settings.ws_max_subscriptions_per_connection,
            allowed_origins=allowed_origins(settings),
        )
        self.runtime = runtime
        self.broker = broker
        self.live: Live | None = None
        self.eta: EtaEstimator | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await super().__call__(scope, receive, send)
            return
        request = Request(scope, receive=receive)
        try:
            response = await self.run(request)
        except HTTPException as exc:
            headers = {"Allow": "POST"} if exc.status_code == 405 else None
            response = PlainTextResponse(exc.reason, status_code=exc.status_code, headers=headers)
        await response(scope, receive, send)

    async def get_context(self, request: Request | WebSocket, response: Any) -> Context:
        assert self.runtime is not None, "the app's lifespan has not run"
        assert self.broker is not None, "the app's lifespan has not run"
        viewer: Viewer | None = None
        token = bearer(request.headers.get("authorization"))
        if token and not isinstance(request, WebSocket):  # sockets: at connection_init
            viewer = await self._authenticate(token)
        return Context(
            request=request,
            response=response,
            runtime=self.runtime,
            broker=self.broker,
            viewer=viewer,
            live=self.live,
            eta=self.eta,
        )

    async def _authenticate(self, token: str) -> Viewer | None:
        assert self.runtime is not None
        async with self.runtime.session_factory() as session:
            return await authenticate(session, token)

    async def on_ws_connect(self, context: Context) -> UnsetType | dict[str, object] | None:
        token = key_from_params(context.connection_params) or bearer(
            context.request.headers.get("authorization")
        )
        viewer = await self._authenticate(token) if token else None
        if viewer is None:
            raise ConnectionRejectionError(
                {
                    "message": "A valid API key is required: send it in the connection_init "
                    "payload as Authorization: Bearer <key>.",
                    "code": "UNAUTHENTICATED",
                }
            )
        context.viewer = viewer
        unset: UnsetType = UNSET
        return unset

    async def get_sub_response(self, request: Request | WebSocket) -> Response:
        sub_response = await super().get_sub_response(request)
        request.state.sub_response = sub_response
        return sub_response

    async def parse_http_body(
        self, request: AsyncHTTPRequestAdapter
    ) -> GraphQLRequestData | list[GraphQLRequestData]:
        content_type, _ = parse_content_type(request.content_type or "")
        media = negotiate(request.headers.get("accept"))
        if media is None:
            raise HTTPException(406, f"Accept {GRAPHQL_RESPONSE} or {JSON}.")
        if content_type == "multipart/form-data" and not any(
            request.headers.get(h, "").strip() for h in PREFLIGHT_HEADERS
        ):
            raise HTTPException(
                400,
                "This multipart request was blocked as a possible CSRF attack: send a non-empty "
                "Apollo-Require-Preflight (or X-Apollo-Operation-Name) header.",
            )
        return await super().parse_http_body(request)

    async def execute_single(
        self,
        request: Request,
        request_adapter: AsyncHTTPRequestAdapter,
        sub_response: Response,
        context: Context,
        root_value: None,
        request_data: GraphQLRequestData,
    ) -> ExecutionResult:
        allowed = OperationType.from_http(request_adapter.method)
        try:
            return await self.schema.execute(
                request_data.query,
                root_value=root_value,
                variable_values=request_data.variables,
                context_value=context,
                operation_name=request_data.operation_name,
                allowed_operation_types=allowed,
                operation_extensions=request_data.extensions,
            )
        except InvalidOperationTypeError as exc:
            status = 405 if request_adapter.method == "GET" else 400
            raise HTTPException(status, exc.as_http_error_reason(request_adapter.method)) from exc
        finally:
            context.release()

    async def process_result(
        self, request: Request, result: ExecutionResult
    ) -> GraphQLHTTPResponse:
        media = negotiate(request.headers.get("accept")) or JSON
        sub_response: Response = request.state.sub_response
        sub_response.media_type = media
        payload = await super().process_result(request, result)
        if is_request_error(result):
            payload.pop("data", None)
            if media == GRAPHQL_RESPONSE:
                sub_response.status_code = 400
        return payload

    def create_response(
        self,
        response_data: GraphQLHTTPResponse | list[GraphQLHTTPResponse],
        sub_response: Response,
    ) -> Response:
        response = super().create_response(response_data, sub_response)
        media = sub_response.media_type or JSON
        response.headers["content-type"] = f"{media}; charset=utf-8"
        return response
