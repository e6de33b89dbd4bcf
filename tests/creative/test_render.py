"""From brief text to a rendered and exported ad, offline on the embedded default: an
approved storyboard renders each scene (its image, then its clip), a music bed under the
whole video, and the clips joined with each scene's transition; the ad is then exported
for each channel. Checked with ffprobe."""

from __future__ import annotations

import asyncio
import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette

from services.media.binaries import ffprobe_path
from tests.client import GraphQLClient
from tests.creative.workflow import (
    CREATE_BRIEF,
    PARSE_BRIEF,
    STORYBOARD,
    UPDATE_SCENE,
    write_storyboard,
)
from tests.jobs import JOB_FIELDS, REGENERATE, RENDITIONS, export_video, wait_for_job
from tests.samples import Samples

APPROVE = f"""mutation($input: ApproveStoryboardInput!) {{ approveStoryboard(input: $input) {{
  __typename
  ... on StoryboardRenderPayload {{
    storyboard {{ id status version job {{ id }} }} job {{ {JOB_FIELDS} }}
  }}
  ... on Error {{ code field message }}
}} }}"""

TEXT = """Product: Aurora trail shoes
Key message: Grip that keeps up with the city
Call to action: Shop now
Music: upbeat electronic
Duration: 15 seconds
Format: 16:9"""


async def _probe(path: Path) -> list[dict[str, Any]]:
    """The file's streams as ffprobe reads them: codec type, duration, and size for video."""
    binary = ffprobe_path()
    assert binary, "ffprobe is installed with ffmpeg"
    proc = await asyncio.create_subprocess_exec(
        binary, "-v", "error", "-show_entries", "stream=codec_type,duration,width,height",
        "-of", "json", str(path), stdout=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, _ = await proc.communicate()
    streams: list[dict[str, Any]] = json.loads(out)["streams"]
    return streams


async def _streams(path: Path) -> dict[str, float]:
    """Each stream's duration in seconds, by codec type."""
    return {s["codec_type"]: float(s["duration"]) for s in await _probe(path)}


async def _approve(client: GraphQLClient, board: dict[str, Any]) -> dict[str, Any]:
    payload: dict[str, Any] = await client.mutate(
        APPROVE, {"input": {"storyboardId": board["id"], "expectedVersion": board["version"]}}
    )
    return payload


async def test_brief_to_rendered_ad(
    tenant: GraphQLClient,
    app: Starlette,
    samples: Samples,
    http: httpx.AsyncClient,
    tmp_path: Path,
) -> None:
    assert tenant.client_id
    campaign = await tenant.create_campaign(tenant.client_id, "Render", goal="Sell shoes")
    await tenant.upload_ok(samples.png, "street.png", campaign_id=campaign)
    brief = (await tenant.mutate(PARSE_BRIEF, {"input": {"campaignId": campaign, "text": TEXT}}))[
        "brief"
    ]
    _, board = await write_storyboard(tenant, app, brief["id"])
    assert [s["durationSeconds"] for s in board["scenes"]] == [5, 5, 5]
    assert board["scenes"][0]["transition"] == "fade"
    # the second scene loses its reference image (its start image is generated first),
    # and cuts to the third
    edited = await tenant.mutate(UPDATE_SCENE, {"input": {
        "sceneId": board["scenes"][1]["id"], "expectedVersion": 1, "referenceAssetIds": [],
        "transition": "none",
    }})  # fmt: skip
    board = edited["storyboard"]
    approved = await _approve(tenant, board)
    assert approved["__typename"] == "StoryboardRenderPayload", approved
    assert approved["storyboard"]["status"] == "RENDERING"
    job = approved["job"]
    assert job["kind"] == "STORYBOARD"
    assert approved["storyboard"]["job"]["id"] == job["id"]
    roles = [s["input"]["role"] for s in job["subJobs"]]
    assert roles == ["clip", "image", "clip", "clip", "music"]
    assert Decimal(job["costEstimateUsd"]) == Decimal(board["costEstimateUsd"])

    twice = await _approve(tenant, board)
    assert (twice["code"], twice["field"]) == ("CONFLICT", "storyboardId")
    late_edit = await tenant.mutate(UPDATE_SCENE, {"input": {
        "sceneId": board["scenes"][0]["id"], "expectedVersion": board["version"], "script": "x",
    }})  # fmt: skip
    assert (late_edit["code"], late_edit["field"]) == ("CONFLICT", "storyboardId")

    done = await wait_for_job(tenant, app, job["id"])
    assert done["status"] == "SUCCEEDED", (done["error"], [s["error"] for s in done["subJobs"]])
    final = await tenant.execute(STORYBOARD, {"id": board["id"]})
    assert final["node"]["status"] == "RENDERED"
    response = await http.get(done["outputAsset"]["url"])
    assert response.status_code == 200
    path = tmp_path / "ad.mp4"
    path.write_bytes(response.content)
    streams = await _streams(path)
    # three scenes of 5 s: a half-second fade into the second, a cut to the third; the
    # music bed under the whole of it
    assert abs(streams["video"] - 14.5) <= 0.1, streams
    assert abs(streams["audio"] - streams["video"]) <= 0.1, streams
    assert (done["outputAsset"]["width"], done["outputAsset"]["height"]) == (1280, 720)

    # exported for each channel: the same ad, music and all, at each size
    ad = done["outputAsset"]["id"]
    export = await export_video(
        tenant, ad, {"rendition": "SD_480P"}, {"rendition": "VERTICAL_9_16", "fit": "PAD"}
    )
    assert export["__typename"] == "ExportPayload", export
    exported = await wait_for_job(tenant, app, export["job"]["id"])
    assert exported["status"] == "SUCCEEDED", exported["error"]
    renditions = (await tenant.execute(RENDITIONS, {"id": ad}))["node"]["renditions"]
    assert {r["rendition"] for r in renditions} == {"480p", "9:16 pad"}
    for rendition in renditions:
        copy = tmp_path / f"{rendition['id']}.mp4"
        copy.write_bytes((await http.get(rendition["url"])).content)
        probed = {s["codec_type"]: s for s in await _probe(copy)}
        size = (probed["video"]["width"], probed["video"]["height"])
        assert size == (rendition["width"], rendition["height"]), (rendition, probed)
        for kind in ("video", "audio"):
            assert abs(float(probed[kind]["duration"]) - streams["video"]) <= 0.1, probed

    # one scene rendered again: the video is joined again, the storyboard stays rendered
    clip = next(s for s in done["subJobs"] if s["input"]["role"] == "clip")
    again = await tenant.mutate(REGENERATE, {"input": {"subJobId": clip["id"]}})
    assert again["__typename"] == "JobPayload", again
    redone = await wait_for_job(tenant, app, job["id"])
    assert redone["status"] == "SUCCEEDED", redone["error"]
    assert redone["outputAsset"]["id"] != done["outputAsset"]["id"]
    assert (await tenant.execute(STORYBOARD, {"id": board["id"]}))["node"]["status"] == "RENDERED"


async def test_render_refused_over_budget_leaves_a_draft(
    tenant: GraphQLClient, app: Starlette, samples: Samples
) -> None:
    assert tenant.client_id
    campaign = await tenant.create_campaign(tenant.client_id, "Tight", budgetUsd="0.05")
    await tenant.upload_ok(samples.png, "a.png", campaign_id=campaign)
    brief = (await tenant.mutate(PARSE_BRIEF, {"input": {"campaignId": campaign, "text": TEXT}}))[
        "brief"
    ]
    _, board = await write_storyboard(tenant, app, brief["id"])
    refused = await _approve(tenant, board)
    assert refused["code"] == "BUDGET_EXCEEDED"
    after = (await tenant.execute(STORYBOARD, {"id": board["id"]}))["node"]
    assert (after["status"], after["version"]) == ("DRAFT", 1)
    jobs = await tenant.execute(
        "query($id: ID!) { node(id: $id) { ... on Campaign { jobs { totalCount } } } }",
        {"id": campaign},
    )
    assert jobs["node"]["jobs"]["totalCount"] == 1  # the writing job only


@pytest.mark.parametrize("budget", [None, "0.05"])
async def test_auto_approve_renders_once_written(
    tenant: GraphQLClient, app: Starlette, samples: Samples, budget: str | None
) -> None:
    assert tenant.client_id
    campaign = await tenant.create_campaign(tenant.client_id, "Auto", budgetUsd=budget)
    await tenant.upload_ok(samples.png, "a.png", campaign_id=campaign)
    created = await tenant.mutate(CREATE_BRIEF, {"input": {
        "campaignId": campaign, "product": "Aurora", "durationSeconds": 4,
        "videoModel": "bytedance/seedance-1-lite", "autoApprove": True,
    }})  # fmt: skip
    assert created["brief"]["autoApprove"] is True
    _, board = await write_storyboard(tenant, app, created["brief"]["id"])
    if budget is not None:  # not enough: it stays a draft, and says why
        assert board["status"] == "DRAFT"
        assert any(n.startswith("Not rendered: this costs") for n in board["notes"])
        return
    assert board["status"] == "RENDERING"
    job_id = (
        await tenant.execute(
            "query($id: ID!) { node(id: $id) { ... on Storyboard { job { id } } } }",
            {"id": board["id"]},
        )
    )["node"]["job"]["id"]
    done = await wait_for_job(tenant, app, job_id)
    assert done["status"] == "SUCCEEDED", done["error"]
    rendered = (await tenant.execute(STORYBOARD, {"id": board["id"]}))["node"]
    assert rendered["status"] == "RENDERED"
