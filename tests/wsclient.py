"""A small GraphQL-over-WebSocket client for the tests, on the `websockets` library:
both protocols (graphql-transport-ws and the legacy graphql-ws), spoken by hand so the
tests can also misbehave (no connection_init, abrupt drops)."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
from collections import defaultdict
from collections.abc import AsyncIterator
from typing import Any

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

TRANSPORT_WS = "graphql-transport-ws"
LEGACY_WS = "graphql-ws"

JOB_PROGRESS = """
subscription($jobId: ID!, $afterSeq: Int) {
  jobProgress(jobId: $jobId, afterSeq: $afterSeq) {
    jobId subJobId seq type status progress message subJobIndex costUsd outputAssetId
    expectedSeconds etaSeconds createdAt
  }
}"""

CAMPAIGN_ACTIVITY = """
subscription($campaignId: ID!) {
  campaignActivity(campaignId: $campaignId) { jobId subJobId seq type status progress }
}"""


def ws_url(base_url: str) -> str:
    return base_url.replace("http://", "ws://", 1) + "/graphql"


class WsClient:
    """One connection; messages are sorted per operation id as they arrive."""

    def __init__(self, ws: ClientConnection, protocol: str) -> None:
        self.ws = ws
        self.protocol = protocol
        self.control: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.ops: defaultdict[str, asyncio.Queue[dict[str, Any]]] = defaultdict(asyncio.Queue)
        self._ids = itertools.count(1)
        self.started: list[str] = []
        self._reader = asyncio.create_task(self._read())

    @classmethod
    @contextlib.asynccontextmanager
    async def open(
        cls,
        base_url: str,
        *,
        protocol: str = TRANSPORT_WS,
        key: str | None = None,
        params: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
        origin: str | None = None,
        init: bool = True,
    ) -> AsyncIterator[WsClient]:
        ws = await connect(
            ws_url(base_url),
            subprotocols=[protocol],  # type: ignore[list-item]
            additional_headers=headers,
            origin=origin,  # type: ignore[arg-type]
            open_timeout=10,
        )
        client = cls(ws, protocol)
        try:
            if init:
                ack = await client.init(params if params is not None else {"apiKey": key})
                assert ack["type"] == "connection_ack", ack
            yield client
        finally:
            await client.close()

    async def _read(self) -> None:
        with contextlib.suppress(ConnectionClosed):
            async for raw in self.ws:
                message = json.loads(raw)
                if message.get("id") is not None:
                    await self.ops[message["id"]].put(message)
                elif message["type"] not in ("ka", "ping", "pong"):
                    await self.control.put(message)
                elif message["type"] == "ping":
                    await self.send({"type": "pong"})

    async def send(self, message: dict[str, Any]) -> None:
        await self.ws.send(json.dumps(message))

    async def init(self, params: dict[str, Any] | None) -> dict[str, Any]:
        await self.send({"type": "connection_init", "payload": params or {}})
        return await self.control_message()

    async def control_message(self, timeout: float = 10) -> dict[str, Any]:
        async with asyncio.timeout(timeout):
            return await self.control.get()

    async def subscribe(self, query: str, variables: dict[str, Any] | None = None) -> str:
        op_id = str(next(self._ids))
        self.started.append(op_id)
        kind = "subscribe" if self.protocol == TRANSPORT_WS else "start"
        await self.send(
            {"id": op_id, "type": kind, "payload": {"query": query, "variables": variables or {}}}
        )
        return op_id

    async def stop(self, op_id: str) -> None:
        await self.send(
            {"id": op_id, "type": "complete" if self.protocol == TRANSPORT_WS else "stop"}
        )

    async def message(self, op_id: str, timeout: float = 30) -> dict[str, Any]:
        async with asyncio.timeout(timeout):
            return await self.ops[op_id].get()

    async def event(self, op_id: str, timeout: float = 30) -> dict[str, Any]:
        """The next event's data of an operation; fails on anything else."""
        message = await self.message(op_id, timeout)
        assert message["type"] in ("next", "data"), message
        assert not message["payload"].get("errors"), message
        data: dict[str, Any] = next(iter(message["payload"]["data"].values()))
        return data

    async def until_complete(self, op_id: str, timeout: float = 60) -> list[dict[str, Any]]:
        """Every event up to the operation's `complete`."""
        events: list[dict[str, Any]] = []
        async with asyncio.timeout(timeout):
            while True:
                message = await self.ops[op_id].get()
                if message["type"] == "complete":
                    return events
                assert message["type"] in ("next", "data"), message
                assert not message["payload"].get("errors"), message
                events.append(next(iter(message["payload"]["data"].values())))

    async def hold(self) -> None:
        """Stop reading: the socket's buffers fill up and the server must wait to write."""
        self._reader.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._reader

    def release(self) -> None:
        """Read again."""
        self._reader = asyncio.create_task(self._read())

    def drop(self) -> None:
        """Vanish like a pulled cable: no close frame, the TCP connection just dies."""
        self.ws.transport.abort()

    async def closed(self, timeout: float = 10) -> tuple[int | None, str | None]:
        """Wait until the server closes the socket; its close code and reason."""
        async with asyncio.timeout(timeout):
            await self.ws.wait_closed()
        rcvd = self.ws.protocol.close_rcvd
        return (rcvd.code, rcvd.reason) if rcvd else (None, None)

    async def close(self) -> None:
        with contextlib.suppress(Exception):
            await self.ws.close()
        self._reader.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._reader
