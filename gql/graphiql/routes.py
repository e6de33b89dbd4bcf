"""The GraphiQL page and its static files, all from this origin.

`GraphQLView.render_graphql_ide` answers a browser's GET /graphql with `graphiql_page()`;
the app mounts `graphiql_routes` when `Settings.graphiql` is on. The page loads GraphiQL,
React and its own script and stylesheet from /graphiql/static, nothing from a CDN, so it
works with no network; the vendored builds are in `static/vendor/` with their licences
(`update_vendor.py` fetches them from npm).
"""

from __future__ import annotations

import secrets
from pathlib import Path

from starlette.responses import HTMLResponse
from starlette.routing import BaseRoute, Mount
from starlette.staticfiles import StaticFiles

HERE = Path(__file__).resolve().parent
STATIC_DIR = HERE / "static"
PAGE = (HERE / "page.html").read_text(encoding="utf-8")

# Scripts and styles from this origin only, none inline, but for the <style> elements that
# GraphiQL's dialogs add (react-remove-scroll), which carry the nonce that page.js hands them
# through `__webpack_nonce__`; its fonts are data: URLs in its stylesheet; fetch and
# WebSocket go to this origin ('self' covers ws: and wss: to it).
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'nonce-{nonce}'; "
    "img-src 'self' data:; font-src 'self' data:; connect-src 'self'; base-uri 'none'; "
    "form-action 'none'; frame-ancestors 'none'"
)
HEADERS = {
    "Cache-Control": "no-store",  # the nonce is new in every answer
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
}


def graphiql_page() -> HTMLResponse:
    nonce = secrets.token_urlsafe(18)
    headers = {**HEADERS, "Content-Security-Policy": CSP.format(nonce=nonce)}
    return HTMLResponse(PAGE.replace("{nonce}", nonce), headers=headers)


graphiql_routes: list[BaseRoute] = [
    Mount("/graphiql/static", StaticFiles(directory=STATIC_DIR), name="graphiql-static"),
]
