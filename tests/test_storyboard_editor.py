"""The dashboard's storyboard editor in real headless Chromium against the real app and a
real worker on the `local` provider: a brief pasted as free text is read, a storyboard is
written from it by a job, its scenes show as cards with thumbnails, script and duration;
the person drags a card to reorder, edits a scene, has one rewritten, is told when an
edit made elsewhere got there first, approves, and watches the render to the video; on
a second storyboard, adds a scene, and picks the first one back to read it.
Every step is checked against the API, not only the page."""

from __future__ import annotations

import os
import re
from typing import Any

import pytest
from starlette.applications import Starlette

from tests.client import GraphQLClient
from tests.creative.workflow import STORYBOARD, STORYBOARDS, UPDATE_SCENE
from tests.dashboard_page import collect_problems, open_campaign

try:
    from playwright.async_api import Browser, Locator, expect
except ImportError:  # CI installs it with the test extras; elsewhere, say what is missing
    if os.environ.get("CI"):
        raise
    pytest.skip("playwright is not installed: pip install -e '.[test]'", allow_module_level=True)

BRIEF = """Product: Ember coffee
Key message: Roasted the morning it ships
Call to action: Order today
Music: warm acoustic guitar
Duration: 15 seconds
Format: 16:9"""

WRITING_JOBS = """query($id: ID!) { node(id: $id) { ... on Campaign {
  jobs(kind: STORYBOARD_WRITING) { totalCount } } } }"""

# Every progress value the editor's bars show, so the test can tell a live render from
# a final repaint.
OBSERVE = """() => {
  window.seen = {board: [], scene: []};
  new MutationObserver((records) => {
    for (const r of records) {
      const bar = r.target;
      if (bar.matches(".sbx-bar")) window.seen.board.push(Number(bar.dataset.progress));
      if (bar.matches(".scene-bar")) window.seen.scene.push(Number(bar.dataset.progress));
    }
  }).observe(document.body, {subtree: true, attributes: true,
                             attributeFilter: ["data-progress"]});
}"""


async def _storyboard(tenant: GraphQLClient, storyboard_id: str) -> dict[str, Any]:
    node: dict[str, Any] = (await tenant.execute(STORYBOARD, {"id": storyboard_id}))["node"]
    return node


async def _version(editor: Locator, version: int) -> None:
    await expect(editor).to_have_attribute("data-version", str(version))


async def test_storyboard_editor_from_brief_to_video(
    base_url: str, browser: Browser, tenant: GraphQLClient, app: Starlette, campaign: str
) -> None:
    page = await browser.new_page(viewport={"width": 1280, "height": 1000})
    problems = collect_problems(page)
    await open_campaign(page, base_url, tenant, campaign)
    await expect(page.locator("#creative")).to_be_visible()
    await expect(page.locator("#briefs-empty")).to_be_visible()

    # The brief, as the agency wrote it: read into its parts.
    await page.fill("#brief-text", BRIEF)
    await page.click("#brief-read")
    brief = page.locator("article.brief")
    await expect(brief).to_have_count(1)
    await expect(brief.locator(".brief-product")).to_have_text("Ember coffee")
    await expect(brief.locator(".brief-head")).to_contain_text("15 s · 16:9")
    brief_id = await brief.get_attribute("data-brief-id")
    assert brief_id

    # Written by a job whose card moves in the job list; the editor opens on its end.
    await brief.locator(".write").click()
    writing = page.locator("article.job").first
    await expect(writing.locator(".kind")).to_have_text("storyboard writing")
    await expect(writing).to_have_attribute("data-status", "succeeded", timeout=60_000)
    editor = brief.locator(".sbx")
    cards = editor.locator(".scene")
    await expect(cards).to_have_count(3)
    await _version(editor, 1)
    await expect(editor).to_have_attribute("data-status", "draft")
    listed = (await tenant.execute(STORYBOARDS, {"id": brief_id}))["node"]["storyboards"]
    board = listed["nodes"][0]
    assert await editor.get_attribute("data-storyboard-id") == board["id"]
    for i, scene in enumerate(board["scenes"]):  # cards: the API's scenes, in order
        card = cards.nth(i)
        await expect(card).to_have_attribute("data-scene-id", scene["id"])
        await expect(card.locator(".scene-duration")).to_have_text(f"{scene['durationSeconds']} s")
        await expect(card.locator(".scene-description")).to_have_text(scene["description"])
        if scene["script"]:
            await expect(card.locator(".scene-script")).to_have_text(f"“{scene['script']}”")
    await expect(editor.locator(".approve")).to_contain_text(
        f"{float(board['costEstimateUsd']):.3f}"
    )
    await page.wait_for_function(  # a thumbnail per scene, each a real image
        """() => { const imgs = [...document.querySelectorAll('.scene-thumb img')];
                   return imgs.length === 3 && imgs.every(i => i.complete && i.naturalWidth > 0
                     && i.naturalWidth <= 320 && i.src.includes('/thumbnail')); }"""
    )
    ids = [s["id"] for s in board["scenes"]]

    # Drag the last card onto the first: it opens the ad, the others move along.
    await cards.nth(2).drag_to(cards.nth(0))
    await _version(editor, 2)
    order = [ids[2], ids[0], ids[1]]
    assert [s["id"] for s in (await _storyboard(tenant, board["id"]))["scenes"]] == order
    for i, scene_id in enumerate(order):
        await expect(cards.nth(i)).to_have_attribute("data-scene-id", scene_id)

    # Edit the second card's line.
    await cards.nth(1).locator(".edit").click()
    await cards.nth(1).locator("textarea[name=script]").fill("Fresh every morning.")
    await cards.nth(1).locator(".save").click()
    await _version(editor, 3)
    await expect(cards.nth(1).locator(".scene-script")).to_have_text("“Fresh every morning.”")
    before = await _storyboard(tenant, board["id"])
    assert before["scenes"][1]["script"] == "Fresh every morning."

    # A length the model cannot render is refused, said, and nothing changes.
    await cards.nth(1).locator(".edit").click()
    # seedance renders 2 to 12 s
    await cards.nth(1).locator("input[name=durationSeconds]").fill("1")
    await cards.nth(1).locator(".save").click()
    await expect(editor.locator(".sbx-error")).to_contain_text("INVALID_INPUT (durationSeconds)")
    await _version(editor, 3)
    assert await _storyboard(tenant, board["id"]) == before
    typed = cards.nth(1).locator("input[name=durationSeconds]")
    await expect(typed).to_have_value("1")  # the form keeps what was typed, to fix it
    await expect(editor.locator(".approve")).to_be_disabled()  # not with a change unsaved
    await cards.nth(1).locator(".cancel-edit").click()
    await expect(editor.locator(".approve")).to_be_enabled()

    # The writer rewrites the first scene only.
    await cards.nth(0).locator(".regenerate").click()
    await cards.nth(0).locator(".regenerate-form input").fill("closer on the cup")
    await cards.nth(0).locator(".regenerate-form .save").click()
    await _version(editor, 4)
    await expect(cards.nth(0).locator(".scene-description")).to_contain_text("closer on the cup")
    after = await _storyboard(tenant, board["id"])
    assert "closer on the cup" in after["scenes"][0]["description"]
    assert after["scenes"][1:] == before["scenes"][1:]

    # Someone else edits first: the page's edit, made on version 4, is refused, and the
    # editor shows what is there now.
    elsewhere = await tenant.mutate(UPDATE_SCENE, {"input": {
        "sceneId": order[2], "expectedVersion": 4, "script": "Edited in another tab.",
    }})  # fmt: skip
    assert elsewhere["__typename"] == "StoryboardPayload", elsewhere
    await cards.nth(2).locator(".edit").click()
    await cards.nth(2).locator("textarea[name=script]").fill("Mine.")
    await cards.nth(2).locator(".save").click()
    await expect(editor.locator(".sbx-error")).to_contain_text("CONFLICT")
    await _version(editor, 5)
    await expect(cards.nth(2).locator(".scene-script")).to_have_text("“Edited in another tab.”")
    assert (await _storyboard(tenant, board["id"]))["version"] == 5

    # Approve: read-only at once, then the render live to the video.
    await page.evaluate(OBSERVE)
    await editor.locator(".approve").click()
    await expect(editor).not_to_have_attribute("data-status", "draft")
    await expect(editor.locator(".scene-tools")).to_have_count(0)
    assert await cards.first.evaluate("card => card.draggable") is False
    render = page.locator("article.job").first
    await expect(render.locator(".kind")).to_have_text("storyboard")
    ended = re.compile("succeeded|failed|canceled")
    await expect(render).to_have_attribute("data-status", ended, timeout=240_000)
    assert await render.get_attribute("data-status") == "succeeded", await render.inner_text()
    await expect(editor).to_have_attribute("data-status", "rendered")
    await expect(editor.locator(".sbx-bar")).to_have_attribute("data-progress", "1")
    bars = editor.locator(".scene-bar")
    await expect(bars).to_have_count(3)
    for i in range(3):
        await expect(bars.nth(i)).to_have_attribute("data-progress", "1")
    await page.wait_for_function(
        "() => document.querySelector('.sbx-video')?.readyState >= 1", timeout=30_000
    )
    duration = await editor.locator(".sbx-video").evaluate("v => v.duration")
    final = await _storyboard(tenant, board["id"])
    assert final["status"] == "RENDERED"
    assert abs(duration - final["totalSeconds"]) <= 1.6, duration  # less the transitions
    seen: dict[str, list[float]] = await page.evaluate("window.seen")
    assert any(0 < p < 1 for p in seen["board"]) and seen["board"][-1] == 1, seen
    assert any(0 < p < 1 for p in seen["scene"]), seen

    # A fresh page shows it rendered, read-only, with its video.
    await page.reload()
    await expect(editor).to_have_attribute("data-status", "rendered")
    await expect(editor.locator(".sbx-video")).to_have_count(1)
    await expect(editor.locator(".approve")).to_have_count(0)

    # A second storyboard from the same brief (a double click asks for one): the editor
    # moves to it, a draft again, while the rendered one stays readable in the API.
    await brief.locator(".write").dblclick()
    again = page.locator("article.job").first
    await expect(again.locator(".kind")).to_have_text("storyboard writing")
    await expect(again).to_have_attribute("data-status", "succeeded", timeout=60_000)
    writes = (await tenant.execute(WRITING_JOBS, {"id": campaign}))["node"]["jobs"]
    assert writes["totalCount"] == 2, writes  # the first storyboard's, and one for this
    listed = (await tenant.execute(STORYBOARDS, {"id": brief_id}))["node"]["storyboards"]
    assert listed["totalCount"] == 2, listed
    newest = listed["nodes"][0]
    assert newest["id"] != board["id"]
    await expect(editor).to_have_attribute("data-storyboard-id", newest["id"])
    await expect(editor).to_have_attribute("data-status", "draft")
    await _version(editor, 1)
    await expect(editor.locator(".approve")).to_be_enabled()

    # A scene added at the end: its form opens focused, a length the model cannot render
    # is refused and kept to fix, then the scene is added, as the API then holds it.
    await editor.locator(".add-scene").click()
    form = editor.locator(".scene-new form")
    await expect(form.locator("textarea[name=description]")).to_be_focused()
    await expect(editor.locator(".approve")).to_be_disabled()
    last = newest["scenes"][-1]
    seconds = form.locator("input[name=durationSeconds]")
    await expect(seconds).to_have_value(str(last["durationSeconds"]))
    await form.locator("textarea[name=description]").fill("The bag on the counter, steam rising.")
    await form.locator("textarea[name=imagePrompt]").fill("A coffee bag on a kitchen counter")
    await form.locator("textarea[name=script]").fill("Ember. Order today.")
    await form.locator("select[name=shotType]").select_option("CLOSE_UP")
    await seconds.fill("1")  # seedance renders 2 to 12 s
    await form.locator(".save").click()
    await expect(editor.locator(".sbx-error")).to_contain_text("INVALID_INPUT (durationSeconds)")
    await _version(editor, 1)
    await expect(seconds).to_have_value("1")
    assert len((await _storyboard(tenant, newest["id"]))["scenes"]) == 3
    await seconds.fill("3")
    await form.locator(".save").click()
    await _version(editor, 2)
    await expect(cards).to_have_count(4)
    await expect(editor.locator(".scene-new")).to_have_count(0)
    await expect(cards.nth(3).locator(".scene-description")).to_have_text(
        "The bag on the counter, steam rising."
    )
    await expect(cards.nth(3).locator(".scene-duration")).to_have_text("3 s")
    added = (await _storyboard(tenant, newest["id"]))["scenes"]
    assert [s["id"] for s in added[:3]] == [s["id"] for s in newest["scenes"]]
    assert added[3]["imagePrompt"] == "A coffee bag on a kitchen counter"
    assert (added[3]["script"], added[3]["shotType"]) == ("Ember. Order today.", "CLOSE_UP")
    assert (added[3]["durationSeconds"], added[3]["position"]) == (3, 3)
    await expect(cards.nth(3)).to_have_attribute("data-scene-id", added[3]["id"])

    # Opened and dropped: nothing is sent.
    await editor.locator(".add-scene").click()
    await editor.locator(".scene-new .cancel-edit").click()
    await expect(editor.locator(".scene-new")).to_have_count(0)
    await _version(editor, 2)
    await expect(editor.locator(".approve")).to_be_enabled()

    # The first storyboard, picked from the brief's list: rendered, read-only, with its
    # video; then the newest again, the draft as it was left.
    pick = brief.locator(".board-pick")
    await expect(pick.locator("option")).to_have_text(
        ["Storyboard 2 of 2 (newest)", "Storyboard 1 of 2"]
    )
    await expect(pick).to_have_value(newest["id"])
    await pick.select_option(board["id"])
    await expect(editor).to_have_attribute("data-storyboard-id", board["id"])
    await expect(editor).to_have_attribute("data-status", "rendered")
    await expect(cards).to_have_count(3)
    await expect(editor.locator(".scene-tools")).to_have_count(0)
    await expect(editor.locator(".sbx-video")).to_have_count(1)
    await pick.select_option(newest["id"])
    await expect(editor).to_have_attribute("data-storyboard-id", newest["id"])
    await expect(editor).to_have_attribute("data-status", "draft")
    await _version(editor, 2)
    await expect(cards).to_have_count(4)
    assert problems == [], problems
