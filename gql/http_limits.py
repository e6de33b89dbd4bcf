"""Request bodies bounded before they are read, and refusals as GraphQL error bodies.

A declared `Content-Length` over the cap is refused before a byte of the body is pulled;
a body without one (chunked) is counted as it streams in, and the read stops at the
cap. Either way the client gets a 413 and the rest of its body is not read: a short
rest is dropped so the client can read the answer, a longer one is left unread and
the answer says `Connection: close` (see `settle`).

Every refusal of the HTTP layer answers `{"errors": [{"message", "extensions": {"code"}}]}`
with a stable code, whatever went wrong, never plain text.
"""

from __future__ import annotations

import json
from collections.abc import Mapping

from starlette.requests import ClientDisconnect
from starlette.responses import Response
from starlette.types import Message, Receive, Scope

CODES = {
    400: "BAD_REQUEST",
    401: "UNAUTHENTICATED",
    404: "NOT_FOUND",
    405: "METHOD_NOT_ALLOWED",
    406: "NOT_ACCEPTABLE",
    413: "REQUEST_TOO_LARGE",
    414: "REQUEST_TOO_LARGE",
    415: "UNSUPPORTED_MEDIA_TYPE",
    429: "RATE_LIMITED",
}


class Refusal(Exception):
    """A request refused before execution: a 4xx with one GraphQL error."""

    def __init__(
        self,
        status: int,
        message: str,
        code: str | None = None,
        headers: Mapping[str, str] | None = None,
        extensions: Mapping[str, object] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.code = code or CODES.get(status, "BAD_REQUEST")
        self.headers = dict(headers or {})
        self.extensions = dict(extensions or {})

    def response(self, media_type: str = "application/json") -> Response:
        extensions = {"code": self.code, **self.extensions}
        body = {"errors": [{"message": self.message, "extensions": extensions}]}
        return Response(
            json.dumps(body, separators=(",", ":")),
            status_code=self.status,
            headers=self.headers,
            media_type=f"{media_type}; charset=utf-8",
        )


class TooLarge(Refusal):
    def __init__(self, limit: int) -> None:
        super().__init__(413, f"The request body is larger than the limit of {limit} bytes.")


def declared_length(scope: Scope) -> int | None:
    """The request's Content-Length, or None when absent; a malformed one is refused."""
    for name, value in scope["headers"]:
        if name == b"content-length":
            try:
                length = int(value)
            except ValueError:
                raise Refusal(400, "The Content-Length header is not a number.") from None
            if length < 0:
                raise Refusal(400, "The Content-Length header is negative.")
            return length
    return None


def check_declared(scope: Scope, limit: int) -> None:
    """Refuse at once a body that says it is over `limit`."""
    length = declared_length(scope)
    if length is not None and length > limit:
        raise TooLarge(limit)


class CappedBody:
    """An ASGI `receive` that raises TooLarge as soon as the body so far passes `limit`
    bytes, and knows how much of the body it has pulled and whether that was all."""

    def __init__(self, receive: Receive, limit: int) -> None:
        self.receive = receive
        self.limit = limit
        self.seen = 0
        self.finished = False
        self.started = False  # asked for the body: the server has said 100 Continue

    async def __call__(self) -> Message:
        self.started = True
        message = await self.receive()
        if message["type"] == "http.request":
            self.seen += len(message.get("body", b""))
            if self.seen > self.limit:
                raise TooLarge(self.limit)
            self.finished = not message.get("more_body", False)
        elif message["type"] == "http.disconnect":
            self.finished = True
        return message

    async def read(self) -> bytes:
        """The whole body, refused (TooLarge) the moment it passes the limit."""
        chunks: list[bytes] = []
        while not self.finished:
            message = await self()
            if message["type"] == "http.disconnect":
                raise ClientDisconnect
            chunks.append(message.get("body", b""))
        return b"".join(chunks)


def expects_continue(scope: Scope) -> bool:
    return any(
        name == b"expect" and value.strip().lower() == b"100-continue"
        for name, value in scope["headers"]
    )


def has_body(scope: Scope) -> bool:
    """Whether the request carries a body (a non-zero Content-Length, or chunked)."""
    for name, value in scope["headers"]:
        if name == b"transfer-encoding" or (name == b"content-length" and value.strip(b" 0")):
            return True
    return False


async def settle(response: Response, scope: Scope, body: CappedBody, budget: int) -> None:
    """Before answering a request whose body was left unread: a rest of at most `budget`
    bytes is read and dropped, so that the client, which may still be sending, can read
    the answer on a connection kept open; a longer rest is not read, and the answer says
    `Connection: close` (the server closes instead of draining it; a client still
    sending may then see a reset rather than the answer). A client that sent
    `Expect: 100-continue` and was never told to go on has sent no body: it gets the
    answer at once, and the connection closes (RFC 9110, 10.1.1)."""
    if body.finished or not has_body(scope):
        return
    if not body.started and expects_continue(scope):
        response.headers["connection"] = "close"
        return
    try:
        declared = declared_length(scope)
    except Refusal:
        declared = None
    if declared is None or declared - body.seen <= budget:
        while budget >= 0:
            message = await body.receive()
            if message["type"] != "http.request" or not message.get("more_body", False):
                return
            budget -= len(message.get("body", b""))
    response.headers["connection"] = "close"
