"""The /graphql endpoint, following the GraphQL-over-HTTP specification.

- `application/graphql-response+json` when the client accepts it; request errors
  (parse, validation, variables) then answer 400 and carry no `data`.
- GET runs queries only: a mutation over GET is 405 Method Not Allowed.
- Multipart uploads need `Apollo-Require-Preflight` or `X-Apollo-Operation-Name`,
  as Apollo Server's CSRF prevention does, so a plain HTML form cannot post one.
- Bodies are bounded before they are read (gql/http_limits.py): an upload's key is
  checked before its body, and every body stops at its cap; each refusal is a 4xx
  with a GraphQL error body and a stable code, never a 500 or plain text.
- Subscriptions are served over WebSockets only; GraphiQL only if `Settings.graphiql`, from
  the app's own files (gql/graphiql), so it works with no network.

WebSockets (graphql-transport-ws and the legacy graphql-ws) authenticate once, at
`connection_init`: the key comes in its payload (`Authorization: Bearer <key>`,
`authorization` or `apiKey`) or in the handshake's Authorization header.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Awaitable, Callable
from datetime import timedelta
from json import JSONDecodeError
from typing import Any

import orjson
import strawberry
from cross_web import AsyncHTTPRequestAdapter, HTTPException
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response
from starlette.types import Receive, Scope, Send
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL
from strawberry.exceptions import ConnectionRejectionError, MissingQueryError
from strawberry.http import GraphQLHTTPResponse, GraphQLRequestData
from strawberry.http.parse_content_type import parse_content_type
from strawberry.http.websocket_origin import normalize_origin
from strawberry.schema import BaseSchema
from strawberry.schema.exceptions import CannotGetOperationTypeError, InvalidOperationTypeError
from strawberry.types import ExecutionResult
from strawberry.types.graphql import OperationType
from strawberry.types.unset import UNSET, UnsetType

from gql.context import Context
from gql.graphiql.routes import graphiql_page
from gql.http_limits import (
    CappedBody,
    Refusal,
    check_declared,
    settle,
)
from gql.http_requests import (
    check_operation_named,
    decode_json,
    operations_with_files,
    request_data,
)
from gql.live.feeds import Live
from gql.live.protocols import LegacyWSHandler, TransportWSHandler
from gql.prepared import PreparedQueries
from gql.rate_limit import client_address, identify, limiter_of
from services.broker import Broker
from services.eta import EtaEstimator
from services.rate_limits import Limit
from services.runtime import Runtime
from services.settings import Settings
from services.viewer import Viewer

GRAPHQL_RESPONSE = "application/graphql-response+json"
JSON = "application/json"
PREFLIGHT_HEADERS = ("apollo-require-preflight", "x-apollo-operation-name")
MULTIPART = "multipart/form-data"
HTTP_OPERATIONS = {
    "GET": frozenset({OperationType.QUERY}),
    "POST": frozenset({OperationType.QUERY, OperationType.MUTATION}),
}


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


@functools.lru_cache(maxsize=64)
def media_type(content_type: str) -> str:
    """The media type of a Content-Type header, by Strawberry's parse (through the email
    package: some 4 % of a small query's CPU, three times a request), remembered."""
    return parse_content_type(content_type)[0]


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
            graphql_ide="graphiql" if settings.graphiql else None,
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
        self.settings = settings
        self.prepared = (
            PreparedQueries(schema, verify=settings.verify_plain_execution)
            if isinstance(schema, strawberry.Schema)
            else None
        )
        self.runtime = runtime
        self.broker = broker
        self.live: Live | None = None
        self.eta: EtaEstimator | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await super().__call__(scope, receive, send)
            return
        limit = self._body_limit(Request(scope))
        body = CappedBody(receive, limit)
        request = Request(scope, receive=body)
        try:
            await self._screen(request, limit)
            response = await self._prepared_run(request) or await self.run(request)
        except Refusal as refusal:
            response = refusal.response(negotiate(request.headers.get("accept")) or JSON)
        except HTTPException as exc:  # Strawberry's own refusals
            response = Refusal(exc.status_code, exc.reason).response(
                negotiate(request.headers.get("accept")) or JSON
            )
        except ClientDisconnect:
            return
        finally:
            await request.close()  # the spooled files of an upload
        await settle(response, scope, body, self.settings.max_request_bytes)
        await response(scope, receive, send)

    async def _prepared_run(self, request: Request) -> Response | None:
        """A POSTed query that has run before (gql/prepared.py), answered without
        Strawberry's handling of the request around its execution: the same body checks,
        context, prepared execution, result processing and response as `run` would take
        it through, in 0.07 ms less of a one-row query's 0.7. None for anything else, and
        for a query whose prepared answer had errors: `run` answers those, Strawberry's
        whole way, from the body already read."""
        queries = self.prepared
        if queries is None or queries.verify or request.method != "POST":
            return None
        if media_type(request.headers.get("content-type", "")) != JSON:
            return None
        if negotiate(request.headers.get("accept")) is None:
            return None
        try:
            data = request_data(decode_json(await request.body()))
        except Refusal:
            return None  # `run` refuses it
        prepared = queries.find(data.query, data.operation_name)
        if prepared is None:
            return None
        sub_response = await self.get_sub_response(request)
        context = await self.get_context(request, sub_response)
        try:
            answer = await queries.execute(prepared, data.variables, context)
        finally:
            await context.release()
        if answer is None:
            request.state.prepared_failed = True  # `execute_single`: Strawberry's path
            return None
        result = ExecutionResult(data=answer, errors=None)
        return self.create_response(await self.process_result(request, result), sub_response)

    def _body_limit(self, request: Request) -> int:
        content_type = media_type(request.headers.get("content-type", ""))
        if content_type == MULTIPART:  # the files, and `operations` as big as a request
            return self.settings.max_upload_bytes + self.settings.max_request_bytes
        return self.settings.max_request_bytes

    async def _screen(self, request: Request, limit: int) -> None:
        """What can be refused from the request line and headers alone, before the body
        is read: the method, an upload's CSRF header and API key, a declared size, a long
        query string."""
        if request.method not in HTTP_OPERATIONS:
            raise Refusal(
                405, "GraphQL only supports GET and POST requests.", headers={"Allow": "GET, POST"}
            )
        content_type = media_type(request.headers.get("content-type", ""))
        if request.method == "POST" and content_type == MULTIPART:
            await self._screen_upload(request)
        check_declared(request.scope, limit)
        if len(request.scope.get("query_string", b"")) > self.settings.max_request_bytes:
            raise Refusal(414, "The query string is too long: send the request as a POST.")

    async def _screen_upload(self, request: Request) -> None:
        if not any(request.headers.get(h, "").strip() for h in PREFLIGHT_HEADERS):
            raise Refusal(
                400,
                "This multipart request was blocked as a possible CSRF attack: send a non-empty "
                "Apollo-Require-Preflight (or X-Apollo-Operation-Name) header.",
            )
        token = bearer(request.headers.get("authorization"))
        viewer = await self._authenticate(request, token) if token else None
        if viewer is None:
            raise Refusal(
                401,
                "Uploads need a valid API key: send Authorization: Bearer <key>.",
                headers={"WWW-Authenticate": "Bearer"},
            )
        request.state.viewer = viewer  # get_context takes it from here

    async def get_context(self, request: Request | WebSocket, response: Any) -> Context:
        assert self.runtime is not None, "the app's lifespan has not run"
        assert self.broker is not None, "the app's lifespan has not run"
        viewer: Viewer | None = getattr(request.state, "viewer", None)  # an upload's
        token = bearer(request.headers.get("authorization"))
        if viewer is None and token and not isinstance(request, WebSocket):  # sockets: at init
            viewer = await self._authenticate(request, token)
        return Context(
            request=request,
            response=response,
            runtime=self.runtime,
            broker=self.broker,
            viewer=viewer,
            live=self.live,
            eta=self.eta,
        )

    async def _authenticate(self, conn: Request | WebSocket, token: str) -> Viewer | None:
        """The key's viewer, or None. A well-formed key that is not valid also counts
        against the address's keyless limit: the rate limit middleware counted it under
        the key alone, and made-up keys must be no way around the address's limit."""
        assert self.runtime is not None
        viewer = await self.runtime.keys.authenticate(token)  # remembered for a few seconds
        limiter = limiter_of(conn)
        if viewer is None and limiter is not None and identify(conn)[0] is Limit.REQUESTS:
            refusal = await limiter.hit(Limit.ANONYMOUS, client_address(conn))
            if refusal is not None:
                error = refusal.error()
                raise Refusal(
                    429,
                    error.message,
                    headers={"Retry-After": str(refusal.retry_after)},
                    extensions={"retryAfter": refusal.retry_after},
                )
        return viewer

    async def on_ws_connect(self, context: Context) -> UnsetType | dict[str, object] | None:
        token = key_from_params(context.connection_params) or bearer(
            context.request.headers.get("authorization")
        )
        try:
            viewer = await self._authenticate(context.request, token) if token else None
        except Refusal as refusal:
            raise ConnectionRejectionError(
                {"message": refusal.message, "code": refusal.code, **refusal.extensions}
            ) from None
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

    async def render_graphql_ide(self, request: Request) -> Response:
        """GraphiQL from this app's own files (gql/graphiql), never from a CDN."""
        return graphiql_page()

    async def get_sub_response(self, request: Request | WebSocket) -> Response:
        sub_response = await super().get_sub_response(request)
        request.state.sub_response = sub_response
        return sub_response

    def parse_json(self, data: str | bytes) -> Any:
        return decode_json(data)

    def decode_json(self, data: str | bytes) -> object:
        """A WebSocket message: JSON nested past the limit (which would overflow the
        decoder's recursion) is refused as any invalid JSON is, closing with 4400."""
        try:
            return decode_json(data)
        except Refusal as refusal:
            raise JSONDecodeError(refusal.message, "", 0) from None

    async def parse_http_body(
        self, request: AsyncHTTPRequestAdapter
    ) -> GraphQLRequestData | list[GraphQLRequestData]:
        """Strawberry's, with every field checked (gql/http_requests.py) and no batches
        or HTTP streaming transports, which this API does not serve."""
        if negotiate(request.headers.get("accept")) is None:
            raise Refusal(406, f"Accept {GRAPHQL_RESPONSE} or {JSON}.")
        content_type = media_type(request.content_type or "")
        data: object
        if request.method == "GET":
            data = self.parse_query_params(request.query_params)
        elif "application/json" in content_type:
            data = self.parse_json(await request.get_body())
        elif content_type == MULTIPART:
            data = await self.parse_multipart(request)
        else:
            raise Refusal(415, f"Send the request as {JSON} (or {MULTIPART} for uploads).")
        return request_data(data)

    async def parse_multipart(self, request: AsyncHTTPRequestAdapter) -> Any:
        try:
            form = await request.get_form_data()
        except (ValueError, StarletteHTTPException) as exc:  # a part over Starlette's limits
            detail = getattr(exc, "detail", None) or "Unable to parse the multipart body."
            raise Refusal(400, str(detail)) from exc
        return operations_with_files(form.form)

    async def execute_single(
        self,
        request: Request,
        request_adapter: AsyncHTTPRequestAdapter,
        sub_response: Response,
        context: Context,
        root_value: None,
        request_data: GraphQLRequestData,
    ) -> ExecutionResult:
        allowed = HTTP_OPERATIONS[request_adapter.method]

        async def strawberry_path() -> ExecutionResult:
            return await self.schema.execute(
                request_data.query,
                root_value=root_value,
                variable_values=request_data.variables,
                context_value=context,
                operation_name=request_data.operation_name,
                allowed_operation_types=allowed,
                operation_extensions=request_data.extensions,
            )

        try:
            queries = self.prepared
            prepared = (
                queries.find(request_data.query, request_data.operation_name)
                if queries and not getattr(request.state, "prepared_failed", False)
                else None
            )
            if queries and prepared:  # a query that has run before (gql/prepared.py)
                data = await queries.execute(prepared, request_data.variables, context)
                if data is not None:
                    return ExecutionResult(data=data, errors=None)
                await context.release()  # Strawberry's path, from fresh loaders
            check_operation_named(
                request_data.query or "",
                request_data.operation_name,
                self.settings.max_query_tokens,
            )
            result = await strawberry_path()
            if queries and request_data.query and result.data is not None:
                await self._prepare(queries, request_data, context, result, strawberry_path)
            return result
        except InvalidOperationTypeError as exc:
            if exc.operation_type is OperationType.SUBSCRIPTION:
                raise Refusal(
                    400,
                    "Subscriptions are served over a WebSocket at /graphql "
                    "(graphql-transport-ws), not over HTTP.",
                ) from exc
            raise Refusal(
                405, exc.as_http_error_reason(request_adapter.method), headers={"Allow": "POST"}
            ) from exc
        except CannotGetOperationTypeError as exc:
            raise Refusal(400, exc.as_http_error_reason()) from exc
        except MissingQueryError as exc:
            raise Refusal(400, "No GraphQL query found in the request: send `query`.") from exc
        finally:
            await context.release()

    async def _prepare(
        self,
        queries: PreparedQueries,
        request_data: GraphQLRequestData,
        context: Context,
        result: ExecutionResult,
        strawberry_path: Callable[[], Awaitable[ExecutionResult]],
    ) -> None:
        """Remember a query that ran to data; when verifying, run it the prepared way too."""
        query = request_data.query or ""
        prepared = queries.remember(query, request_data.operation_name)
        if prepared is None or not queries.verify or result.errors or result.data is None:
            return

        async def again() -> dict[str, Any] | None:
            await context.release()
            try:
                repeated = await strawberry_path()
            finally:
                await context.release()
            return None if repeated.errors else repeated.data

        await queries.verify_answer(prepared, request_data.variables, context, result.data, again)

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

    def encode_json(self, data: object) -> str:
        """orjson, as text (a WebSocket message must be a text frame); the stdlib for what
        orjson refuses (an integer past 64 bits in a JSON scalar)."""
        try:
            return orjson.dumps(data).decode()
        except orjson.JSONEncodeError:
            return json.dumps(data, separators=(",", ":"))

    def create_response(
        self,
        response_data: GraphQLHTTPResponse | list[GraphQLHTTPResponse],
        sub_response: Response,
    ) -> Response:
        response = super().create_response(response_data, sub_response)
        media = sub_response.media_type or JSON
        response.headers["content-type"] = f"{media}; charset=utf-8"
        return response
