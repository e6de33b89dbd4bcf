"""GraphiQL served from the app itself: the page and its vendored files come from this
origin, match their manifest and carry their licences; in real headless Chromium with
every request off 127.0.0.1 aborted, a key is entered once, a query shows its data and a
jobProgress subscription shows a launched job's events to the end."""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from starlette.applications import Starlette

from gql.app import create_app
from gql.graphiql.routes import STATIC_DIR
from services.settings import Settings
from tests.client import GraphQLClient
from tests.fakes.server import serve_app
from tests.jobs import GENERATE_IMAGE, job, launch

try:
    from playwright.async_api import (
        Browser,
        BrowserContext,
        ConsoleMessage,
        Page,
        Route,
        WebSocket,
        expect,
    )
except ImportError:  # CI installs it with the test extras; elsewhere, say what is missing
    if os.environ.get("CI"):
        raise
    pytest.skip("playwright is not installed: pip install -e '.[test]'", allow_module_level=True)


VENDOR = STATIC_DIR / "vendor"
LOCAL_HOSTS = {"127.0.0.1", "localhost"}
HTML = {"Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}

# The text of GraphiQL's query and response editors (CodeMirror 5 keeps its instance on
# its wrapper element); typing into the editor would fight its auto-closing brackets.
SET_QUERY = (
    "q => document.querySelector('.graphiql-query-editor .CodeMirror').CodeMirror.setValue(q)"
)
RESPONSE = "() => document.querySelector('.result-window .CodeMirror').CodeMirror.getValue()"
SET_HEADERS = """h => document.querySelector(
  '.graphiql-editor-tool .graphiql-editor:not(.hidden) .CodeMirror').CodeMirror.setValue(h)"""
# The operation GraphiQL will send, from the tab state it keeps in localStorage.
TAB_OPERATION = """name => {
  const state = JSON.parse(localStorage.getItem('graphiql:tabState') || 'null');
  return state && state.tabs[state.activeTabIndex].operationName === name;
}"""


@pytest.fixture(scope="module")
async def base_url(app: Starlette) -> AsyncIterator[str]:
    async with serve_app(app, ws="websockets-sansio", lifespan="off") as url:
        yield url


class Offline:
    """A browser context with no network but 127.0.0.1: every other request is aborted
    and recorded, and so is every WebSocket the page opens, with the frames it sends."""

    def __init__(self, context: BrowserContext) -> None:
        self.context = context
        self.blocked: list[str] = []
        self.sockets: list[str] = []
        self.sent: list[dict[str, Any]] = []
        self.received: list[dict[str, Any]] = []
        self.problems: list[str] = []

    @classmethod
    async def open(cls, browser: Browser) -> Offline:
        context = await browser.new_context(viewport={"width": 1280, "height": 900})
        offline = cls(context)
        await context.route("**/*", offline._route)
        return offline

    async def _route(self, route: Route) -> None:
        if urlsplit(route.request.url).hostname in LOCAL_HOSTS:
            await route.continue_()
        else:
            self.blocked.append(route.request.url)
            await route.abort("internetdisconnected")

    async def page(self) -> Page:
        page = await self.context.new_page()

        def on_console(message: ConsoleMessage) -> None:
            if message.type == "error":  # CSP refusals are console errors too
                self.problems.append(f"console: {message.text}")

        def on_socket(ws: WebSocket) -> None:
            self.sockets.append(ws.url)
            ws.on("framesent", lambda payload: self.sent.append(json.loads(payload)))
            ws.on("framereceived", lambda payload: self.received.append(json.loads(payload)))

        page.on("console", on_console)
        page.on("pageerror", lambda error: self.problems.append(f"page error: {error}"))
        page.on(
            "response",
            lambda r: (
                self.problems.append(f"HTTP {r.status}: {r.url}") if r.status >= 400 else None
            ),
        )
        page.on("websocket", on_socket)
        return page


async def run(page: Page, query: str, expected: str, timeout: float = 30_000) -> Any:
    """Put `query` in the editor, wait until GraphiQL has taken in its operation (it reads
    the editor a moment after a change), press its run button, wait until the response
    editor shows `expected`; the response, parsed."""
    await page.evaluate(SET_QUERY, query)
    name = re.match(r"(?:query|subscription|mutation) (\w+)", query)
    assert name, "name the operation: GraphiQL sends the name it last read"
    await page.wait_for_function(TAB_OPERATION, arg=name[1])
    await page.get_by_role("button", name=re.compile("Execute query")).click()
    await page.wait_for_function(
        f"e => ({RESPONSE})().includes(e)", arg=expected, timeout=timeout, polling=100
    )
    return json.loads(await page.evaluate(RESPONSE))


# -- the page and its files ------------------------------------------------------------


async def test_the_page_loads_only_files_of_this_app(http: httpx.AsyncClient) -> None:
    page = await http.get("/graphql", headers=HTML)
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    csp = page.headers["content-security-policy"]
    assert "script-src 'self';" in csp and "connect-src 'self';" in csp
    (nonce,) = re.findall(r'<meta name="csp-nonce" content="([^"]+)">', page.text)
    assert f"style-src 'self' 'nonce-{nonce}';" in csp and len(nonce) >= 24
    again = await http.get("/graphql", headers=HTML)
    assert nonce not in again.text and nonce not in again.headers["content-security-policy"]
    assert "unpkg" not in page.text and "://" not in page.text.replace("http://www.w3.org", "")
    assets = re.findall(r'<(?:script|link)[^>]*? (?:src|href)="([^"]+)"', page.text)
    local = [a for a in assets if not a.startswith("data:")]
    assert len(local) == 6 and all(a.startswith("/graphiql/static/") for a in local), assets
    for asset in local:
        response = await http.get(asset)
        assert response.status_code == 200, asset
        assert len(response.content) > 500, asset
    assert (await http.get("/graphiql/static/../routes.py")).status_code == 404
    assert (await http.get("/graphiql/static/vendor/THIRD-PARTY-LICENSES.txt")).status_code == 200


def test_vendored_files_are_npm_builds_with_their_licences() -> None:
    """Each vendored file is byte for byte the one its manifest names (what
    gql/graphiql/update_vendor.py copied out of the npm tarball), and the licence file
    covers every package they come from."""
    manifest = json.loads((VENDOR / "MANIFEST.json").read_text())
    licences = (VENDOR / "THIRD-PARTY-LICENSES.txt").read_text()
    files = manifest["files"]
    assert set(files) == {p.name for p in VENDOR.iterdir()} - {
        "MANIFEST.json",
        "THIRD-PARTY-LICENSES.txt",
    }
    for name, entry in files.items():
        data = (VENDOR / name).read_bytes()
        assert hashlib.sha256(data).hexdigest() == entry["sha256"], f"{name} was modified"
        assert f"\n{entry['package']}@{entry['version']} (MIT)\n" in licences, name
    for bundled in ("graphql@16.", "graphql-ws@5.", "codemirror@5.", "@graphiql/react@"):
        assert f"\n{bundled}" in licences, bundled
    assert licences.count("Permission is hereby granted") > 20  # texts, not just names


async def test_graphiql_off_serves_neither_page_nor_files(
    settings: Settings, tmp_path: Path
) -> None:
    off = create_app(settings.model_copy(update={"graphiql": False, "data_dir": tmp_path}))
    transport = httpx.ASGITransport(app=off)
    async with httpx.AsyncClient(transport=transport, base_url="http://off") as http:
        for path in ("/graphiql/static/page.js", "/graphiql/static/vendor/graphiql.min.js"):
            assert (await http.get(path)).status_code == 404


# -- in a browser, offline -------------------------------------------------------------


async def test_graphiql_works_offline_with_a_key_a_query_and_a_subscription(
    base_url: str, browser: Browser, tenant: GraphQLClient, admin: GraphQLClient
) -> None:
    offline = await Offline.open(browser)
    page = await offline.page()
    await page.goto(f"{base_url}/graphql")
    await expect(page.get_by_role("button", name=re.compile("Execute query"))).to_be_visible()
    await expect(page.locator("#key-state")).to_have_attribute("data-state", "none")
    await expect(page.locator(".graphiql-query-editor")).to_contain_text("query Viewer")

    # A key that does not work is refused and not kept.
    await page.fill("#api-key", "rg_not_a_key")
    await page.click("#use-key")
    await expect(page.locator("#key-state")).to_have_attribute("data-state", "rejected")
    assert await page.evaluate("localStorage.getItem('reelgraph.apiKey')") is None

    # The key, entered once: kept under the dashboard's name, sent with every query.
    await page.fill("#api-key", str(tenant.key))
    await page.click("#use-key")
    await expect(page.locator("#key-state")).to_have_attribute("data-state", "ok")
    await expect(page.locator("#key-state")).to_contain_text("client key")
    assert await page.evaluate("localStorage.getItem('reelgraph.apiKey')") == tenant.key
    assert tenant.client_id
    shown = await run(page, "query Me { viewer { role clientId } }", tenant.client_id)
    assert shown == {"data": {"viewer": {"role": "CLIENT", "clientId": tenant.client_id}}}

    # A subscription over WebSocket, the key in connection_init: the job's events to its end.
    campaign = await tenant.create_campaign(tenant.client_id, "GraphiQL")
    launched = await launch(tenant, GENERATE_IMAGE, campaignId=campaign, prompt="A blue kettle")
    follow = (
        f'subscription Follow {{ jobProgress(jobId: "{launched["id"]}") {{ seq type status }} }}'
    )
    last = await run(page, follow, '"succeeded"', timeout=120_000)
    done = await job(tenant, launched["id"])
    assert done["status"] == "SUCCEEDED"
    assert last["data"]["jobProgress"] == {
        "seq": done["lastSeq"], "type": "job.status", "status": "succeeded"
    }  # fmt: skip
    inits = [f for f in offline.sent if f["type"] == "connection_init"]
    assert inits and all(f["payload"]["Authorization"] == f"Bearer {tenant.key}" for f in inits)
    events = [f["payload"]["data"]["jobProgress"] for f in offline.received if f["type"] == "next"]
    assert [e["seq"] for e in events] == list(range(1, done["lastSeq"] + 1))
    assert offline.sockets and all(urlsplit(u).hostname in LOCAL_HOSTS for u in offline.sockets)

    # The schema came through (introspection), and a dialog opens within the page's CSP.
    await page.get_by_role("button", name=re.compile("Documentation Explorer")).click()
    await expect(page.locator(".graphiql-doc-explorer")).to_contain_text(
        "subscription: Subscription"
    )
    await page.get_by_role("button", name=re.compile("settings dialog")).click()
    dialog = page.get_by_role("dialog")
    await expect(dialog).to_contain_text("Theme")
    await page.keyboard.press("Escape")
    await expect(dialog).to_be_hidden()

    # A reload keeps the key: nothing to enter again.
    await page.reload()
    await expect(page.locator("#key-state")).to_have_attribute("data-state", "ok")
    await expect(page.locator("#key-state")).to_contain_text("saved in this browser")
    assert offline.blocked == [] and offline.problems == [], (offline.blocked, offline.problems)
    await offline.context.close()

    # A browser where the dashboard saved a key: GraphiQL uses it as it is.
    other = await Offline.open(browser)
    page = await other.page()
    await page.goto(f"{base_url}/healthz")  # any page of this origin
    await page.evaluate("k => localStorage.setItem('reelgraph.apiKey', k)", admin.key)
    await page.goto(f"{base_url}/graphql")
    await expect(page.locator("#key-state")).to_contain_text("admin key")
    shown = await run(page, "query Me { viewer { role } }", "ADMIN")
    assert shown == {"data": {"viewer": {"role": "ADMIN"}}}

    # An Authorization written in GraphiQL's Headers tab wins over the saved key.
    await page.get_by_role("button", name="Headers").click()
    written = json.dumps({"Authorization": f"Bearer {tenant.key}"})
    await page.evaluate(SET_HEADERS, written)  # read from the editor when the query runs
    shown = await run(page, "query Who { viewer { role } }", "CLIENT")
    assert shown == {"data": {"viewer": {"role": "CLIENT"}}}
    assert other.blocked == [] and other.problems == [], (other.blocked, other.problems)
    await other.context.close()
