"""Whole-request rate limits: every /graphql request and WebSocket connect is counted
before it is read, and a refused one answers 429 with `Retry-After`.

Who is counted, without touching the database:
- a request that presents a well-formed API key (`Authorization: Bearer rg_...`) counts
  against `rate_limit_requests` under a hash of that key;
- any other request counts against `rate_limit_anonymous` under its client address: the
  ASGI client, which uvicorn's `--proxy-headers` sets from X-Forwarded-For for trusted
  proxies only; the header itself is never read here. An IPv6 client counts under its
  /64, which one host can fill with addresses at will.

Launches and uploads are limited per key in their resolvers (`Context.check_rate`).
"""

from __future__ import annotations

import hashlib
import ipaddress
import json
import re

from starlette.requests import HTTPConnection
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from services.rate_limits import Limit, RateLimiter, Refusal

_KEY = re.compile(r"bearer\s+(rg_[a-z0-9]{1,32}_[A-Za-z0-9_-]{16,128})", re.IGNORECASE)
"""A bearer token shaped like the keys services.api_keys issues."""


def limiter_of(conn: HTTPConnection) -> RateLimiter | None:
    """The app's limiter (set by its lifespan), or None when limits are off."""
    app = conn.scope.get("app")
    limiter = getattr(getattr(app, "state", None), "rate_limiter", None)
    return limiter if isinstance(limiter, RateLimiter) else None


def client_address(conn: HTTPConnection) -> str:
    host = conn.client.host if conn.client else ""
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return host or "unknown"  # a unix socket, or a test client's name
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ipaddress.ip_network((address, 64), strict=False))
    return str(address)


def identify(conn: HTTPConnection) -> tuple[Limit, str]:
    """The limit a request counts against, and under which name."""
    match = _KEY.fullmatch((conn.headers.get("authorization") or "").strip())
    if match is None:
        return Limit.ANONYMOUS, client_address(conn)
    digest = hashlib.blake2b(match[1].encode(), digest_size=16, person=b"rg-rate-limit")
    return Limit.REQUESTS, digest.hexdigest()


def refused_response(refusal: Refusal) -> Response:
    error = refusal.error()
    body = {
        "errors": [
            {
                "message": error.message,
                "extensions": {"code": error.code.value, "retryAfter": refusal.retry_after},
            }
        ]
    }
    return Response(
        json.dumps(body),
        status_code=429,
        headers={"Retry-After": str(refusal.retry_after)},
        media_type="application/json",
    )


class RateLimitMiddleware:
    def __init__(self, app: ASGIApp, *, path: str = "/graphql") -> None:
        self.app = app
        self.path = path

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket") or scope["path"] != self.path:
            await self.app(scope, receive, send)
            return
        conn = HTTPConnection(scope)
        limiter = limiter_of(conn)
        refusal = await limiter.hit(*identify(conn)) if limiter is not None else None
        if refusal is None:
            await self.app(scope, receive, send)
        elif scope["type"] == "http" or "websocket.http.response" in scope.get("extensions", {}):
            await refused_response(refusal)(scope, receive, send)  # websocket: a denial response
        else:  # a server without denial responses: closing before accept answers 403
            await send({"type": "websocket.close", "code": 1013, "reason": "rate limited"})
