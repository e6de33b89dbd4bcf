"""Routes of the live dashboard: the page at /dashboard and its static files.

Plain HTML, CSS and JavaScript with no build step; the `graphql-ws` browser client is
vendored in `static/vendor/` (MIT, its licence at the top of the file). The page talks
to /graphql on its own origin: queries and mutations over HTTP, live progress over
WebSocket, the API key pasted by the user and kept in the browser's localStorage.
"""

from __future__ import annotations

from pathlib import Path

from starlette.requests import Request
from starlette.responses import FileResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

STATIC_DIR = Path(__file__).resolve().parent / "static"

# Everything comes from this origin (media URLs are signed links on it too); no inline
# script or style, so an asset name shown on the page can never run as code.
CSP = (
    "default-src 'self'; img-src 'self' data:; media-src 'self'; connect-src 'self'; "
    "style-src 'self'; script-src 'self'; base-uri 'none'; form-action 'none'; "
    "frame-ancestors 'none'"
)
HEADERS = {
    "Content-Security-Policy": CSP,
    "Cache-Control": "no-cache",
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
}


async def dashboard(request: Request) -> Response:
    return FileResponse(STATIC_DIR / "index.html", media_type="text/html", headers=HEADERS)


dashboard_routes: list[BaseRoute] = [
    Route("/dashboard", dashboard, methods=["GET", "HEAD"], name="dashboard"),
    Mount("/dashboard/static", StaticFiles(directory=STATIC_DIR), name="dashboard-static"),
]
