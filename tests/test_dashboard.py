"""The live dashboard in real headless Chromium (Debian's `chromium`, driven by Playwright)
against the real app served by uvicorn, with a real worker on the `local` provider: paste
a key, pick a campaign, launch a pair video from the page, watch the bars reach 100% and
the video load; a job launched elsewhere shows up live and is canceled from the page; a
page cut off mid-job catches up on its own reconnect; a storyboard is edited (reordered,
a frame replaced, a pair dropped) and approved, or rejected, and the API's refusals are
shown; ETAs say "unknown" before a model has history, and no start time is made up."""

from __future__ import annotations

import os
import re
import uuid
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette

from gql.ids import encode
from services.runtime import Runtime
from tests.client import GraphQLClient
from tests.dashboard_page import collect_problems, open_campaign
from tests.fakes.relay import cuttable
from tests.jobs import APPROVE, PAIR_VIDEO, job, launch, wait_for_job
from tests.scripted import scripted_job
from tests.test_eta import finished_runs, running

try:
    from playwright.async_api import Browser, expect
except ImportError:  # CI installs it with the test extras; elsewhere, say what is missing
    if os.environ.get("CI"):
        raise
    pytest.skip("playwright is not installed: pip install -e '.[test]'", allow_module_level=True)


SCREENSHOT = Path("/tmp/dashboard.png")
STORYBOARD_SHOT = Path("/tmp/dashboard-storyboard.png")

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


async def test_dashboard_serves_its_files(base_url: str) -> None:
    async with httpx.AsyncClient(base_url=base_url) as http:
        page = await http.get("/dashboard")
        assert page.status_code == 200
        assert page.headers["content-type"].startswith("text/html")
        assert "default-src 'self'" in page.headers["content-security-policy"]
        for name in ("app.js", "dom.js", "storyboard.js", "scenes.js", "briefs.js", "style.css"):
            path = f"/dashboard/static/{name}"
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


STORYBOARD = """query($id: ID!) { node(id: $id) { ... on Job { status costEstimateUsd startedAt
  storyboard { firstAsset { id } lastAsset { id } }
  subJobs { index pair { firstAsset { id } lastAsset { id } } }
  events(afterSeq: 0) { type status message } } } }"""


def frames(pairs: list[dict[str, Any]]) -> list[tuple[str, str]]:
    return [(p["firstAsset"]["id"], p["lastAsset"]["id"]) for p in pairs]


async def awaiting(tenant: GraphQLClient, app: Starlette, campaign: str, pairs: int) -> str:
    """A pair video of `pairs` 2 s clips, stopped at its storyboard."""
    launched = await launch(
        tenant, PAIR_VIDEO, campaignId=campaign, numPairs=pairs, clipDuration=2,
        resolution="480p", requireApproval=True,
    )  # fmt: skip
    held = await wait_for_job(tenant, app, launched["id"], {"AWAITING_APPROVAL"}, timeout=60)
    assert held["status"] == "AWAITING_APPROVAL", held
    job_id: str = launched["id"]
    return job_id


async def test_dashboard_approves_an_edited_storyboard(
    base_url: str, browser: Browser, tenant: GraphQLClient, app: Starlette, campaign: str
) -> None:
    job_id = await awaiting(tenant, app, campaign, pairs=3)
    chosen = await tenant.execute(STORYBOARD, {"id": job_id})
    original = frames(chosen["node"]["storyboard"])
    assert len(original) == 3 and chosen["node"]["startedAt"] is None

    page = await browser.new_page(viewport={"width": 1280, "height": 900})
    problems = collect_problems(page)
    await open_campaign(page, base_url, tenant, campaign)
    card = page.locator(f'article.job[data-job-id="{job_id}"]')
    await expect(card).to_have_attribute("data-status", "awaiting_approval")
    await expect(card.locator(".when")).not_to_contain_text("started")  # the API has no start
    board = card.locator(".storyboard")
    rows = board.locator(".sb-pair")
    await expect(rows).to_have_count(3)
    for i, (first, last) in enumerate(original):  # the pairs as the selector chose them
        await expect(rows.nth(i)).to_have_attribute("data-first-id", first)
        await expect(rows.nth(i)).to_have_attribute("data-last-id", last)
        await expect(rows.nth(i).locator(".sb-score")).to_contain_text("score ")
        await expect(rows.nth(i).locator(".sb-cost")).to_have_text("$0.036")  # 2 s x $0.018
    await expect(board.locator(".sb-reason").first).not_to_be_empty()
    await expect(board.locator(".sb-total")).to_have_text("est $0.108")
    await page.wait_for_function(  # both frames of every pair are drawn
        """() => [...document.querySelectorAll('.sb-pair .frame img')].length === 6 &&
                 [...document.querySelectorAll('.sb-pair .frame img')].every(
                   i => i.complete && i.naturalWidth > 0)"""
    )

    # Reorder: the third pair up to second. Drop the first. Replace the new first pair's
    # last frame with another image of the campaign.
    await rows.nth(2).locator(".up").click()
    await rows.nth(0).locator(".drop").click()
    await expect(rows).to_have_count(2)
    await rows.nth(0).locator(".frame.last").click()
    first, last = original[2]
    choices = board.locator(".sb-picker .sb-image")
    await expect(choices).to_have_count(4)
    ids = [await choices.nth(i).get_attribute("data-asset-id") for i in range(4)]
    replacement = next(i for i in ids if i not in (first, last))
    await board.locator(f'.sb-image[data-asset-id="{replacement}"]').click()
    await expect(board.locator(".sb-picker")).to_have_count(0)
    await expect(rows.nth(0)).to_have_attribute("data-last-id", str(replacement))
    await expect(board.locator(".sb-total")).to_have_text("est $0.072")
    await expect(board.locator(".sb-was")).to_have_text("(was $0.108)")
    await card.screenshot(path=str(STORYBOARD_SHOT), animations="disabled")

    await board.locator(".approve").click()
    await expect(card).not_to_have_attribute("data-status", "awaiting_approval")
    await expect(board).to_be_hidden()
    edited = [(first, str(replacement)), original[1]]
    after = (await tenant.execute(STORYBOARD, {"id": job_id}))["node"]
    assert after["status"] in ("RUNNING", "COMBINING", "SUCCEEDED"), after
    assert frames(after["storyboard"]) == edited
    subs = sorted(after["subJobs"], key=lambda s: s["index"])
    assert [tuple(frames([s["pair"]])[0]) for s in subs] == edited
    assert Decimal(after["costEstimateUsd"]) == Decimal("0.072")
    assert after["startedAt"] is not None
    await expect(card).to_have_attribute("data-status", "succeeded", timeout=120_000)
    await expect(card.locator(".sub")).to_have_count(2)
    await expect(card.locator(".when")).to_contain_text("started ")
    assert problems == [], problems


async def test_dashboard_rejects_a_storyboard_and_shows_refusals(
    base_url: str, browser: Browser, tenant: GraphQLClient, app: Starlette, campaign: str
) -> None:
    job_id = await awaiting(tenant, app, campaign, pairs=2)
    # The budget is cut below what the storyboard will cost: approving it is refused.
    cut = await tenant.mutate(
        "mutation($input: UpdateCampaignInput!) { updateCampaign(input: $input) { __typename } }",
        {"input": {"id": campaign, "budgetUsd": "0.01"}},
    )
    assert cut["__typename"] == "CampaignPayload", cut

    page = await browser.new_page(viewport={"width": 1280, "height": 900})
    problems = collect_problems(page)
    await open_campaign(page, base_url, tenant, campaign)
    card = page.locator(f'article.job[data-job-id="{job_id}"]')
    board = card.locator(".storyboard")
    await expect(board.locator(".sb-pair")).to_have_count(2)
    await board.locator(".approve").click()
    await expect(board.locator(".sb-error")).to_contain_text("BUDGET_EXCEEDED")
    await expect(board.locator(".sb-error")).to_contain_text("budget")
    await expect(card).to_have_attribute("data-status", "awaiting_approval")
    assert (await job(tenant, job_id))["status"] == "AWAITING_APPROVAL"

    # Every pair dropped: nothing to approve.
    for _ in range(2):
        await board.locator(".sb-pair .drop").first.click()
    await expect(board.locator(".approve")).to_be_disabled()
    await board.locator(".reset").click()
    await expect(board.locator(".sb-pair")).to_have_count(2)

    await board.locator(".reject").click()
    await expect(card).to_have_attribute("data-status", "canceled")
    await expect(board).to_be_hidden()
    await expect(card.locator(".when")).to_contain_text("never started")
    after = (await tenant.execute(STORYBOARD, {"id": job_id}))["node"]
    assert after["status"] == "CANCELED" and after["startedAt"] is None
    assert after["events"][-1]["message"] == "storyboard rejected"
    assert problems == [], problems


async def test_dashboard_etas_and_start_times_come_from_the_api(
    base_url: str, browser: Browser, tenant: GraphQLClient, app: Starlette, runtime: Runtime,
    campaign: str,
) -> None:  # fmt: skip
    """A running job of a model with no history: its clip says "ETA unknown", and the job
    shows no start time (the API has none). Once the model has history, the page says
    how long is left, as the API does."""
    job_uuid = await scripted_job(runtime, campaign)  # running, `startedAt` null
    model = f"test/eta-{uuid.uuid4().hex[:8]}"
    await running(app, job_uuid, 0, model, ran=3.0, progress=0.3)
    job_id = encode("Job", job_uuid)

    page = await browser.new_page(viewport={"width": 1280, "height": 900})
    problems = collect_problems(page)
    await open_campaign(page, base_url, tenant, campaign)
    card = page.locator(f'article.job[data-job-id="{job_id}"]')
    eta = card.locator(".sub .eta")
    await expect(eta).to_have_text("ETA unknown")
    await expect(eta).to_have_attribute("data-eta", "unknown")
    await expect(card.locator(".when")).to_have_text(re.compile(r"^created "))
    assert (await job(tenant, job_id))["startedAt"] is None

    await finished_runs(runtime, job_uuid, model, [10.0] * 3, first_index=10)
    await running(app, job_uuid, 1, model, ran=2.0, progress=0.2)  # news: fetched, with ETAs
    rows = card.locator(".sub")
    await expect(rows).to_have_count(5)
    second = rows.nth(1).locator(".eta")
    await expect(second).to_have_text(re.compile(r"^~\d+s left$"))
    seconds = float(await second.get_attribute("data-eta") or "nan")
    assert 4.0 <= seconds <= 12.0, seconds  # 8 s left at its pace and its history's
    shown = await rows.nth(0).locator(".eta").text_content()
    assert shown and shown != "~0s left", shown
    assert problems == [], problems
