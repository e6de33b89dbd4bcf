"""Cohorts: run each live event's selection set once per distinct document, not once
per subscriber, and send every socket of the cohort the same serialized payload.

Stock Strawberry executes a subscription's selection set for every subscriber on
every event. Here the WebSocket handlers tell the subscription resolver which
operation it serves (`current_operation`), and frames are sent without Strawberry:
an event is rendered once per cohort key (memoised on the event, which the hub
decodes once per process) and each socket gets the shared payload in its own frame
(`prefix + payload + "}"`). Live events go out through the cohort's lane (see lanes);
what only one subscriber needs (its replay, its refills) it renders and sends itself.

A cohort key is the document, the operation name, the viewer's scope and the values
of the variables the selection set can see. Variables used only as arguments of the
root field (`jobId`, `afterSeq`) shape the stream, not the payload, so subscribers
that differ only in those share a cohort: the channel (the job) is implied by the
event itself, and per-subscriber state (replay from `afterSeq`, de-duplication, gap
refills) stays in each subscriber's feed and cursor.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable, Coroutine, Hashable, Sequence
from contextvars import ContextVar
from dataclasses import dataclass
from inspect import isawaitable
from typing import Any, Literal

from graphql import (
    DocumentNode,
    ExecutionResult,
    FieldNode,
    GraphQLError,
    Node,
    OperationDefinitionNode,
    VariableNode,
)
from graphql.execution import Executor, execute_subscription_event

from gql.context import Info
from gql.error_masking import MaskUnexpectedErrors, is_unexpected
from gql.live.live_event import LiveEvent
from gql.types.events import JobEvent
from services.eta import EtaEstimator


@dataclass(frozen=True, slots=True)
class WsOperation:
    """One subscribe (graphql-transport-ws) or start (graphql-ws) message."""

    id: str
    frame: Literal["next", "data"]
    send_text: Callable[[str], Coroutine[Any, Any, None]]
    query: str
    variables: dict[str, Any] | None
    operation_name: str | None

    @property
    def prefix(self) -> str:
        if self.frame == "next":
            return '{"id":' + json.dumps(self.id) + ',"type":"next","payload":'
        return '{"type":"data","id":' + json.dumps(self.id) + ',"payload":'


class SocketGone(Exception):
    """The client went away while a frame was being sent."""


PARK_SECONDS = 60.0

current_operation: ContextVar[WsOperation | None] = ContextVar("ws_operation", default=None)
"""Set by the WebSocket handlers in each operation's own task."""

_masker = MaskUnexpectedErrors()


def _variables_in(node: Any, skip: frozenset[int] = frozenset()) -> set[str]:
    found: set[str] = set()
    stack = [node]
    while stack:
        item = stack.pop()
        if isinstance(item, list | tuple):
            stack.extend(item)
        elif isinstance(item, VariableNode):
            found.add(item.name.value)
        elif isinstance(item, Node) and id(item) not in skip:
            stack.extend(getattr(item, key, None) for key in item.keys if key != "loc")
    return found


def stream_only_variables(
    operation: OperationDefinitionNode, fragments: Sequence[Node]
) -> set[str]:
    """Variables used in the root fields' arguments and nowhere else in the document."""
    roots = [s for s in operation.selection_set.selections if isinstance(s, FieldNode)]
    arguments = [a for root in roots for a in root.arguments or ()]
    skip = frozenset(id(a) for a in arguments)
    elsewhere = _variables_in(
        [operation.selection_set, operation.directives or (), fragments], skip
    )
    return _variables_in(arguments) - elsewhere


_stream_only_cache: dict[tuple[str, str | None], frozenset[str]] = {}


def _stream_only(
    op: WsOperation, operation: OperationDefinitionNode, fragments: Sequence[Node]
) -> frozenset[str]:
    key = (op.query, op.operation_name)
    found = _stream_only_cache.get(key)
    if found is None:
        if len(_stream_only_cache) >= 256:
            _stream_only_cache.clear()
        found = _stream_only_cache[key] = frozenset(stream_only_variables(operation, fragments))
    return found


class _EventExecutor(Executor[Any]):
    """graphql-core memoises sub-field collection on the executor, keyed by the identity
    of per-event lists: shared with every per-event copy, that cache would grow by an
    entry per event for as long as the subscription lives. Each event gets its own."""

    def build_per_event_executor(self, payload: Any) -> Executor[Any]:
        executor = super().build_per_event_executor(payload)
        executor._relevant_sub_fields = {}
        return executor


class Renderer:
    """One subscriber's view of its cohort: the key it shares and how to render for it."""

    def __init__(self, info: Info, op: WsOperation) -> None:
        raw = info._raw_info
        fragments = list(raw.fragments.values())
        stream_only = _stream_only(op, raw.operation, fragments)
        variables = op.variables or {}
        shaping = tuple(sorted((k, json.dumps(v, sort_keys=True)) for k, v in variables.items()
                               if k not in stream_only))  # fmt: skip
        viewer = info.context.viewer
        scope = None if viewer is None else ("admin" if viewer.is_admin else str(viewer.client_id))
        self.key: Hashable = (op.query, op.operation_name, shaping, scope)
        executor = _EventExecutor.build(
            raw.schema,
            DocumentNode(definitions=(raw.operation, *fragments)),
            None,
            info.context,
            variables,
        )
        if isinstance(executor, list):  # cannot happen: the operation was validated
            raise executor[0]
        self._executor = executor

    def render(self, node: JobEvent) -> str | Awaitable[str]:
        result = execute_subscription_event(self._executor.build_per_event_executor(node))
        if isawaitable(result):
            return self._finish(result)
        return _payload(result)

    async def _finish(self, result: Awaitable[ExecutionResult]) -> str:
        return _payload(await result)


def _payload(result: ExecutionResult) -> str:
    payload: dict[str, Any] = {"data": result.data}
    if result.errors:
        payload["errors"] = [_mask(e).formatted for e in result.errors]
    return json.dumps(payload)


def _mask(error: GraphQLError) -> GraphQLError:
    return _masker.anonymise_error(error) if is_unexpected(error) else error


class DirectDelivery:
    """Sends one subscriber's events straight to its socket, sharing cohort payloads."""

    def __init__(self, info: Info, op: WsOperation, eta: EtaEstimator | None) -> None:
        self._renderer = Renderer(info, op)
        self.key = self._renderer.key
        self._prefix = op.prefix
        self._send_text = op.send_text
        self._eta = eta

    @classmethod
    def for_operation(cls, info: Info, eta: EtaEstimator | None) -> DirectDelivery | None:
        op = current_operation.get()
        return None if op is None else cls(info, op, eta)

    async def render(self, event: LiveEvent) -> str:
        """The cohort's payload for `event`, rendered once whoever asks."""
        payload = event.renders.get(self.key)
        if payload is None:
            node = await event.node(self._eta)
            payload = event.renders.get(self.key)  # rendered by another while we waited
            if payload is None:
                rendered = self._renderer.render(node)
                payload = rendered if isinstance(rendered, str) else await rendered
                event.renders[self.key] = payload
        return payload

    def write(self, payload: str) -> Coroutine[Any, Any, None]:
        return self._send_text(self._prefix + payload + "}")

    async def send(self, event: LiveEvent) -> None:
        try:
            await self.write(await self.render(event))
        except SocketGone:
            # The handler notices the closed socket and cancels every operation; wait
            # for that rather than end this one (its `complete` could not be sent).
            await asyncio.sleep(PARK_SECONDS)
            raise
