"""The live dashboard in real headless Chromium (Debian's `chromium`, driven by Playwright)
against the real app served by uvicorn, with a real worker on the `local` provider: paste
a key, pick a campaign, launch a pair video from the page, watch the bars reach 100% and
the video load; a job launched elsewhere shows up live and is canceled from the page; a
page cut off mid-job catches up on its own reconnect."""

from __future__ import annotations

import os
import shutil
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette

from gql.dashboard.routes import dashboard_routes
from services.media.render import render_image
from tests.client import GraphQLClient
from tests.fakes.relay import cuttable
from tests.fakes.server import serve_app
from tests.jobs import APPROVE, PAIR_VIDEO, job, launch

try:
    from playwright.async_api import Browser, ConsoleMessage, Page, async_playwright, expect
except ImportError:  # CI installs it with the test extras; elsewhere, say what is missing
    if os.environ.get("CI"):
        raise
    pytest.skip("playwright is not installed: pip install -e '.[test]'", allow_module_level=True)


CHROMIUM = os.environ.get("REELGRAPH_TEST_CHROMIUM") or shutil.which("chromium") or ""
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip
SCREENSHOT = Path("/tmp/dashboard.png")
BRAND = ["#0E7C86", "#F2C14E", "#1F2A44"]
SHOTS = ["Pour-over at dawn", "Beans on the counter", "Runner with a cup", "Flat whites"]

# Records every state the page draws, so the test can tell live updates from a final
# repaint: job statuses, and the progress values of the sub-job bars.
OBSERVE = """() => {
  window.seen = {jobStatus: [], subProgress: []};
  new MutationObserver((records) => {
    for (const r of records) {
      const el = r.target;
      if (r.attributeName === "data-status" && el.matches("article.job")) {
        window.seen.jobStatus.push(el.dataset.status);
      }
      if (r.attributeName === "data-progress" && el.matches(".sub .bar")) {
        window.seen.subProgress.push(Number(el.dataset.progress));
      }
    }
  }).observe(document.body, {subtree: true, attributes: true,
                             attributeFilter: ["data-status", "data-progress"]});
}"""


@pytest.fixture(scope="module")
def chromium() -> str:
    if not CHROMIUM:
        if os.environ.get("CI"):
            pytest.fail("chromium is not installed (apt-get install -y chromium)")
        pytest.skip("chromium is not installed (apt-get install -y chromium)")
    return CHROMIUM


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
async def browser(chromium: str) -> AsyncIterator[Browser]:
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            await browser.close()


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


async def test_dashboard_serves_its_files(base_url: str) -> None:
    async with httpx.AsyncClient(base_url=base_url) as http:
        page = await http.get("/dashboard")
        assert page.status_code == 200
        assert page.headers["content-type"].startswith("text/html")
        assert "default-src 'self'" in page.headers["content-security-policy"]
        for path in ("/dashboard/static/app.js", "/dashboard/static/style.css"):
            assert (await http.get(path)).status_code == 200
        vendored = await http.get("/dashboard/static/vendor/graphql-ws.js")
        assert vendored.status_code == 200
        assert "MIT License" in vendored.text[:1000] and "createClient" in vendored.text
        assert (await http.get("/dashboard/static/../routes.py")).status_code == 404


async def test_dashboard_follows_jobs_live(
    base_url: str, browser: Browser, tenant: GraphQLClient, campaign: str
) -> None:
    page = await browser.new_page(viewport={"width": 1280, "height": 900})
    problems = collect_problems(page)
    await page.goto(f"{base_url}/dashboard")

    # A key that does not work is refused, and nothing is kept.
    await page.fill("#api-key", "rg_not_a_key")
    await page.click("#connect")
    await expect(page.locator("#conn")).to_have_attribute("data-state", "rejected")
    await expect(page.locator("#error")).to_contain_text("does not work")
    assert await page.evaluate("localStorage.getItem('reelgraph.apiKey')") is None

    await page.fill("#api-key", str(tenant.key))
    await page.click("#connect")
    await expect(page.locator("#conn")).to_have_attribute("data-state", "live")
    await page.select_option("#client", tenant.client_id)
    await page.select_option("#campaign", campaign)
    await expect(page.locator("#empty")).to_be_visible()
    await expect(page.locator("#estimate")).to_contain_text("$0.072")  # 2 clips x 2 s x $0.018

    # Launch from the page: the card appears at once and then moves live.
    await page.evaluate(OBSERVE)
    await page.click("#launch-button")
    card = page.locator("article.job").first
    await expect(card).to_have_attribute("data-status", "succeeded", timeout=120_000)
    bars = card.locator(".sub .bar")
    await expect(bars).to_have_count(2)
    for i in range(2):
        await expect(bars.nth(i)).to_have_attribute("data-progress", "1")
    await expect(card.locator(".job-bar .pct")).to_have_text("100%")
    await expect(card.locator("header .cost")).to_have_text("est $0.072 · actual $0.072")
    await expect(card.locator(".sub .cost").first).to_have_text("$0.036")
    await expect(card.locator(".cancel")).to_be_hidden()
    video = card.locator("video")
    await expect(video).to_have_count(1)
    await page.wait_for_function(
        "() => document.querySelector('article.job video').readyState >= 2", timeout=30_000
    )
    seen: dict[str, Any] = await page.evaluate("window.seen")
    assert "running" in seen["jobStatus"] and seen["jobStatus"][-1] == "succeeded", seen
    assert any(p < 1 for p in seen["subProgress"]) and seen["subProgress"][-1] == 1, seen
    duration = await video.evaluate("v => v.duration")
    assert abs(duration - (2 * 2 - 0.5)) < 0.2  # two 2 s clips, one 0.5 s fade
    await expect(page.locator("#spent")).to_have_text("$0.072")

    # A job launched elsewhere appears through campaignActivity; cancel it from the page.
    other = await launch(
        tenant, PAIR_VIDEO, campaignId=campaign, numPairs=2, clipDuration=2,
        resolution="480p", requireApproval=True,
    )  # fmt: skip
    other_card = page.locator(f'article.job[data-job-id="{other["id"]}"]')
    await expect(other_card).to_have_attribute("data-status", "awaiting_approval")
    await expect(page.locator("article.job").first).to_have_attribute("data-job-id", other["id"])
    await other_card.locator(".cancel").click()
    await expect(other_card).to_have_attribute("data-status", "canceled")
    assert (await job(tenant, other["id"]))["status"] == "CANCELED"

    await page.wait_for_function(  # the whole clip in: a first frame, no spinner
        "() => document.querySelector('article.job video').readyState === 4"
    )
    await page.screenshot(path=str(SCREENSHOT), full_page=True, animations="disabled")

    # A reload keeps the key and the choice, and draws the finished jobs again.
    await page.reload()
    await expect(page.locator("#conn")).to_have_attribute("data-state", "live")
    await expect(page.locator("#campaign")).to_have_value(campaign)
    await expect(page.locator("article.job")).to_have_count(2)
    await expect(page.locator("article.job").nth(1)).to_have_attribute("data-status", "succeeded")
    await page.wait_for_function(
        "() => document.querySelector('article.job video')?.readyState >= 2", timeout=30_000
    )
    assert problems == [], problems


async def test_dashboard_catches_up_after_a_dropped_connection(
    base_url: str, browser: Browser, tenant: GraphQLClient, campaign: str
) -> None:
    """The page is cut off while one job runs and another starts: on its own reconnect it
    draws both to the end (jobProgress replays after the last seq it holds; the campaign
    is read again for jobs it never heard of)."""
    held = await launch(
        tenant, PAIR_VIDEO, campaignId=campaign, numPairs=2, clipDuration=2,
        resolution="480p", requireApproval=True,
    )  # fmt: skip
    async with cuttable(base_url) as (relay_url, cut):
        page = await browser.new_page(viewport={"width": 1280, "height": 900})
        problems = collect_problems(page)
        await page.goto(f"{relay_url}/dashboard")
        await page.fill("#api-key", str(tenant.key))
        await page.click("#connect")
        await page.select_option("#client", tenant.client_id)
        await page.select_option("#campaign", campaign)
        held_card = page.locator(f'article.job[data-job-id="{held["id"]}"]')
        await expect(held_card).to_have_attribute("data-status", "awaiting_approval")
        await expect(page.locator("#conn")).to_have_attribute("data-state", "live")

        assert cut() >= 2
        await expect(page.locator("#conn")).to_have_attribute("data-state", "retrying")
        approved = await tenant.mutate(APPROVE, {"input": {"jobId": held["id"]}})
        assert approved["__typename"] == "JobPayload"
        fresh = await launch(
            tenant, PAIR_VIDEO, campaignId=campaign, numPairs=2, clipDuration=2,
            resolution="480p",
        )  # fmt: skip

        await expect(page.locator("#conn")).to_have_attribute("data-state", "live", timeout=30_000)
        for job_id in (held["id"], fresh["id"]):
            card = page.locator(f'article.job[data-job-id="{job_id}"]')
            await expect(card).to_have_attribute("data-status", "succeeded", timeout=60_000)
            await expect(card.locator(".sub .bar[data-progress='1']")).to_have_count(2)
            await expect(card.locator("video")).to_have_count(1)
        assert await page.locator("article.job").count() == 2
        # Loads the cut broke (thumbnails, say) were made again once back online.
        await page.wait_for_function(
            """() => [...document.querySelectorAll('.sub .pair img, video')].every(
                m => m.tagName === 'VIDEO' ? m.readyState >= 2 : m.complete && m.naturalWidth)""",
            timeout=30_000,
        )
    cut_off = "Failed to load resource: net::ERR_"  # requests in flight when the line was cut
    assert [p for p in problems if cut_off not in p and "WebSocket" not in p] == [], problems
