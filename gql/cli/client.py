"""A small client of this API for terminals: GraphQL over HTTP, and the `jobProgress`
subscription over graphql-transport-ws, resumed after the last `seq` when a connection
drops. (A terminal client of our own: PyPI's `gql` client library would install a
top-level `gql` package over this project's.)"""

from __future__ import annotations

import asyncio
import functools
import json
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus
from websockets.typing import Subprotocol

FINAL = frozenset({"succeeded", "failed", "canceled"})
TRANSPORT_WS = Subprotocol("graphql-transport-ws")
EVENT_FIELDS = """jobId subJobId subJobIndex seq type status progress message costUsd
  outputAssetId etaSeconds"""
JOB_PROGRESS = f"""subscription($jobId: ID!, $afterSeq: Int) {{
  jobProgress(jobId: $jobId, afterSeq: $afterSeq) {{ {EVENT_FIELDS} }} }}"""
JOB = """query($id: ID!) { node(id: $id) { __typename ... on Job {
  id kind status costEstimateUsd costActualUsd errorCode error lastSeq
  outputAsset { id kind url }
  subJobs { id index model status progress costUsd error } } } }"""


UPLOAD = """mutation($input: UploadAssetInput!) { uploadAsset(input: $input) {
  ... on AssetPayload { asset { id } } ... on Error { code message } } }"""


class ApiError(Exception):
    """The server said no: a GraphQL error, a `UserError` payload, a refused socket."""


def ws_url(base_url: str) -> str:
    scheme, _, rest = base_url.rstrip("/").partition("://")
    return ("wss" if scheme == "https" else "ws") + "://" + rest + "/graphql"


def _errors_text(errors: Any) -> str:
    if isinstance(errors, list) and errors:
        return "; ".join(
            str(e.get("message", e)) if isinstance(e, dict) else str(e) for e in errors
        )
    return str(errors)


class Api:
    """GraphQL over HTTP with an API key (enough for the CLI's few requests)."""

    def __init__(self, http: httpx.AsyncClient, key: str) -> None:
        self.http, self.key = http, key

    async def execute(self, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        response = await self.http.post(
            "/graphql",
            json={"query": query, "variables": variables or {}},
            headers={"Authorization": f"Bearer {self.key}", "Accept": "application/json"},
        )
        try:
            body = response.json()
        except ValueError:
            status = response.status_code
            raise ApiError(f"{response.url}: HTTP {status}: {response.text[:200]}") from None
        if response.status_code != 200 or body.get("errors"):
            raise ApiError(_errors_text(body.get("errors")) or f"HTTP {response.status_code}")
        data: dict[str, Any] = body["data"]
        return data

    async def mutate(self, query: str, input: dict[str, Any]) -> dict[str, Any]:
        """The payload of a one-field mutation; a `UserError` raises ApiError."""
        (payload,) = (await self.execute(query, {"input": input})).values()
        if "code" in payload:
            raise ApiError(f"{payload['code']}: {payload.get('message')}")
        result: dict[str, Any] = payload
        return result

    async def upload(self, filename: str, content: bytes, campaign_id: str) -> str:
        operations = {
            "query": UPLOAD,
            "variables": {"input": {"file": None, "campaignId": campaign_id}},
        }
        response = await self.http.post(
            "/graphql",
            data={"operations": json.dumps(operations), "map": '{"0": ["variables.input.file"]}'},
            files={"0": (filename, content, "application/octet-stream")},
            headers={"Authorization": f"Bearer {self.key}", "Apollo-Require-Preflight": "true"},
        )
        body = response.json()
        payload = (body.get("data") or {}).get("uploadAsset") or {}
        if "asset" not in payload:
            raise ApiError(payload.get("message") or _errors_text(body.get("errors")))
        asset_id: str = payload["asset"]["id"]
        return asset_id

    async def job(self, job_id: str) -> dict[str, Any]:
        node = (await self.execute(JOB, {"id": job_id}))["node"]
        if node is None or node.get("__typename") != "Job":
            raise ApiError(f"no such job: {job_id} (or not one this key can see)")
        job: dict[str, Any] = node
        return job


class _Dropped(Exception):
    """The socket closed before the subscription completed."""


async def job_events(
    base_url: str,
    key: str,
    job_id: str,
    after_seq: int = 0,
    *,
    retries: int = 5,
    notify: Callable[[str], None] = lambda text: None,
) -> AsyncIterator[dict[str, Any]]:
    """`jobProgress` events after `after_seq`, until the job ends. A dropped connection
    is reopened (up to `retries` times in a row) and resumes after the last `seq` seen.
    `notify` hears about each connection made or lost."""
    last, failures = after_seq, 0
    while True:
        try:
            async with connect(
                ws_url(base_url), subprotocols=[TRANSPORT_WS], open_timeout=10
            ) as ws:
                variables = {"jobId": job_id, "afterSeq": last}
                acked = functools.partial(notify, f"live: following events after {last}")
                async for event in _operation(ws, key, JOB_PROGRESS, variables, acked):
                    failures, last = 0, max(last, int(event["seq"]))
                    yield event
                return
        except ConnectionClosed as exc:
            code = exc.rcvd.code if exc.rcvd else None
            if code is not None and 4000 <= code < 5000:  # the server refused: not worth a retry
                reason = exc.rcvd.reason if exc.rcvd else ""
                raise ApiError(f"the server closed the subscription ({code} {reason})") from None
            problem = f"connection lost (close code {code})" if code else "connection lost"
        except InvalidStatus as exc:
            status = exc.response.status_code
            raise ApiError(f"{ws_url(base_url)} refused the WebSocket: HTTP {status}") from None
        except (_Dropped, InvalidHandshake, OSError, TimeoutError) as exc:
            problem = f"connection lost ({exc.__class__.__name__})"
        failures += 1
        if failures > retries:
            raise ApiError(f"{ws_url(base_url)}: {problem}; gave up after {retries} retries")
        notify(f"{problem}: reconnecting, resuming after event {last}")
        await asyncio.sleep(min(0.25 * 2**failures, 5.0))  # backoff before reconnecting


async def _operation(
    ws: ClientConnection,
    key: str,
    query: str,
    variables: dict[str, Any],
    on_ack: Callable[[], None],
) -> AsyncIterator[dict[str, Any]]:
    """One graphql-transport-ws subscription on a fresh socket: init, subscribe, events."""
    await ws.send(
        json.dumps({"type": "connection_init", "payload": {"Authorization": f"Bearer {key}"}})
    )
    async for raw in ws:
        message = json.loads(raw)
        kind = message.get("type")
        if kind == "ping":
            await ws.send(json.dumps({"type": "pong"}))
        elif kind == "connection_ack":
            on_ack()
            payload = {"query": query, "variables": variables}
            await ws.send(json.dumps({"id": "1", "type": "subscribe", "payload": payload}))
        elif kind == "next":
            if message["payload"].get("errors"):
                raise ApiError(_errors_text(message["payload"]["errors"]))
            yield next(iter(message["payload"]["data"].values()))
        elif kind == "error":
            raise ApiError(_errors_text(message.get("payload")))
        elif kind == "complete":
            return
    raise _Dropped
