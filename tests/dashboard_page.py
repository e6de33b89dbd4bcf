"""The dashboard served by the test app, and what its browser tests share: a branded
campaign with four stills, a page that records its problems, a page opened on a
campaign. Registered by tests/conftest.py as a plugin."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from starlette.applications import Starlette

from gql.dashboard.routes import dashboard_routes
from services.media.render import render_image
from tests.client import GraphQLClient
from tests.fakes.server import serve_app

if TYPE_CHECKING:
    from playwright.async_api import ConsoleMessage, Page

BRAND = ["#0E7C86", "#F2C14E", "#1F2A44"]
SHOTS = ["Pour-over at dawn", "Beans on the counter", "Runner with a cup", "Flat whites"]


@pytest.fixture(scope="module")
async def base_url(app: Starlette) -> AsyncIterator[str]:
    """The session's app with the dashboard routes appended, as gql/app.py does."""
    app.router.routes.extend(dashboard_routes)
    try:
        async with serve_app(app, ws="websockets-sansio", lifespan="off") as url:
            yield url
    finally:
        for route in dashboard_routes:
            app.router.routes.remove(route)


@pytest.fixture
async def campaign(tenant: GraphQLClient, tmp_path: Path) -> str:
    """A branded client's campaign with four generated stills to pair."""
    assert tenant.client_id
    await tenant.mutate(
        """mutation($input: UpdateClientInput!) { updateClient(input: $input) { __typename } }""",
        {"input": {"id": tenant.client_id, "brandGuidelines": {
            "colors": [{"hex": h} for h in BRAND], "tone": "warm"}}},
    )  # fmt: skip
    campaign = await tenant.create_campaign(tenant.client_id, "Spring launch", budgetUsd="5")
    for i, shot in enumerate(SHOTS):
        path = tmp_path / f"shot{i}.png"
        await render_image(path, prompt=shot, width=640, height=360, colors=BRAND[i % 2 :])
        await tenant.upload_ok(path.read_bytes(), path.name, campaign_id=campaign)
    return campaign


def collect_problems(page: Page) -> list[str]:
    problems: list[str] = []

    def on_console(message: ConsoleMessage) -> None:
        if message.type == "error":
            problems.append(f"console: {message.text}")

    page.on("console", on_console)
    page.on("pageerror", lambda error: problems.append(f"page error: {error}"))
    page.on(
        "response",
        lambda r: problems.append(f"HTTP {r.status}: {r.url}") if r.status >= 400 else None,
    )
    return problems


async def open_campaign(page: Page, base_url: str, tenant: GraphQLClient, campaign: str) -> None:
    """The dashboard with the tenant's key pasted, live, on `campaign`."""
    from playwright.async_api import expect

    await page.goto(f"{base_url}/dashboard")
    await page.fill("#api-key", str(tenant.key))
    await page.click("#connect")
    await expect(page.locator("#conn")).to_have_attribute("data-state", "live")
    await page.select_option("#client", tenant.client_id)
    await page.select_option("#campaign", campaign)
