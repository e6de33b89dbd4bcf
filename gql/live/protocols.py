"""Strawberry's two WebSocket protocol handlers, told to expose each operation to its
resolver (`cohort.current_operation`), so live subscriptions can send shared frames.

The legacy `graphql-ws` handler also gets the `connection_init` deadline that
Strawberry only enforces for `graphql-transport-ws`.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any, Literal, cast

from starlette.websockets import WebSocketDisconnect
from strawberry.asgi import ASGIWebSocketAdapter
from strawberry.subscriptions.protocols.graphql_transport_ws.handlers import (
    BaseGraphQLTransportWSHandler,
    Operation,
)
from strawberry.subscriptions.protocols.graphql_ws.handlers import BaseGraphQLWSHandler
from strawberry.subscriptions.protocols.graphql_ws.types import ConnectionInitMessage

from gql.context import Context
from gql.live.cohort import SocketGone, WsOperation, current_operation


def _sender(adapter: Any) -> Any:
    ws = cast(ASGIWebSocketAdapter, adapter).ws

    async def send_text(text: str) -> None:
        try:
            await ws.send_text(text)
        except (WebSocketDisconnect, OSError, RuntimeError):
            raise SocketGone from None

    return send_text


def _operation(
    adapter: Any,
    frame: Literal["next", "data"],
    op_id: str,
    query: str,
    variables: dict[str, Any] | None,
    operation_name: str | None,
) -> WsOperation:
    return WsOperation(
        id=op_id,
        frame=frame,
        send_text=_sender(adapter),
        query=query,
        variables=variables,
        operation_name=operation_name,
    )


class TransportWSHandler(BaseGraphQLTransportWSHandler[Context, None]):
    async def run_operation(self, operation: Operation[Context, None]) -> None:
        current_operation.set(
            _operation(
                self.websocket,
                "next",
                operation.id,
                operation.query,
                operation.variables,
                operation.operation_name,
            )
        )
        await super().run_operation(operation)


class LegacyWSHandler(BaseGraphQLWSHandler[Context, None]):
    _deadline: asyncio.Task[None] | None = None

    async def handle(self) -> None:
        self._deadline = asyncio.create_task(self._init_deadline())
        try:
            await super().handle()
        finally:
            await self._end_deadline()

    async def _init_deadline(self) -> None:
        await asyncio.sleep(self.view.connection_init_wait_timeout.total_seconds())
        with contextlib.suppress(Exception):
            await self.websocket.close(code=4408, reason="Connection initialisation timeout")

    async def _end_deadline(self) -> None:
        deadline, self._deadline = self._deadline, None
        if deadline is not None and deadline is not asyncio.current_task():
            deadline.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await deadline

    async def handle_connection_init(self, message: ConnectionInitMessage) -> None:
        await self._end_deadline()
        await super().handle_connection_init(message)

    async def handle_async_results(
        self,
        operation_id: str,
        query: str,
        operation_name: str | None,
        variables: dict[str, object] | None,
    ) -> None:
        current_operation.set(
            _operation(self.websocket, "data", operation_id, query, variables, operation_name)
        )
        await super().handle_async_results(operation_id, query, operation_name, variables)
