"""End to end on the offline `local` provider: mutations over HTTP, a real worker,
real media checked with ffprobe/PyAV."""

from __future__ import annotations

import re
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette

from services.media.probe import probe
from tests.client import GraphQLClient
from tests.jobs import (
    GENERATE_AUDIO,
    GENERATE_IMAGE,
    GENERATE_VIDEO,
    PAIR_VIDEO,
    launch,
    wait_for_job,
)
from tests.samples import Samples


async def _download(http: httpx.AsyncClient, url: str, dest: Path) -> Path:
    response = await http.get(url)
    assert response.status_code == 200
    dest.write_bytes(response.content)  # small test files
    return dest


@pytest.fixture
async def campaign(tenant: GraphQLClient) -> str:
    assert tenant.client_id
    await tenant.mutate(
        """mutation($input: UpdateClientInput!) { updateClient(input: $input) { __typename } }""",
        {"input": {"id": tenant.client_id, "brandGuidelines": {
            "colors": [{"hex": "#0E7C86", "name": "teal"}, {"hex": "#F2C14E"}], "tone": "warm"}}},
    )  # fmt: skip
    return await tenant.create_campaign(
        tenant.client_id, "Launch", goal="awareness", audience="runners", budgetUsd="100"
    )


async def test_generate_image(tenant: GraphQLClient, app: Starlette, campaign: str) -> None:
    queued = await launch(tenant, GENERATE_IMAGE, campaignId=campaign, prompt="A red sneaker")
    assert queued["status"] == "QUEUED"
    assert Decimal(queued["costEstimateUsd"]) == Decimal("0.039")
    done = await wait_for_job(tenant, app, queued["id"])
    assert done["status"] == "SUCCEEDED", (done["error"], [s["error"] for s in done["subJobs"]])
    asset = done["outputAsset"]
    assert (asset["kind"], asset["mimeType"]) == ("IMAGE", "image/png")
    assert (asset["width"], asset["height"]) == (1280, 720)
    (sub,) = done["subJobs"]
    assert sub["status"] == "SUCCEEDED"
    assert sub["outputAsset"]["origin"] == "GENERATED"
    assert "teal" in sub["input"]["prompt"], "brand guidelines are woven into the prompt"
    assert Decimal(done["costActualUsd"]) == Decimal("0.039")
    assert re.fullmatch(r"image-[0-9a-f]{8}-1\.png", await _filename(tenant, asset["id"]))


async def test_prompt_only_video_chains_image_then_video(
    tenant: GraphQLClient, app: Starlette, campaign: str, tmp_path: Path, http: httpx.AsyncClient
) -> None:
    queued = await launch(
        tenant, GENERATE_VIDEO, campaignId=campaign, prompt="Sneaker on a track", duration=3,
        resolution="480p", aspectRatio="9:16",
    )  # fmt: skip
    assert [s["model"] for s in queued["subJobs"]] == [
        "google/nano-banana",
        "bytedance/seedance-1-lite",
    ]
    done = await wait_for_job(tenant, app, queued["id"])
    assert done["status"] == "SUCCEEDED", (done["error"], [s["error"] for s in done["subJobs"]])
    _, video = done["subJobs"]
    assert video["input"]["image_asset_id"], "the video starts from the image sub-job's output"
    asset = done["outputAsset"]
    assert asset["id"] == video["outputAsset"]["id"]
    assert (asset["kind"], asset["width"], asset["height"]) == ("VIDEO", 480, 852)
    info = await probe(await _download(http, asset["url"], tmp_path / "v.mp4"), use_ffprobe=True)
    assert info.duration_seconds is not None
    assert abs(info.duration_seconds - 3) <= 1 / 24 + 1e-3
    assert Decimal(done["costActualUsd"]) == Decimal("0.039") + Decimal("0.018") * 3


async def test_generate_audio(tenant: GraphQLClient, app: Starlette, campaign: str) -> None:
    queued = await launch(tenant, GENERATE_AUDIO, campaignId=campaign, prompt="calm", duration=4)
    done = await wait_for_job(tenant, app, queued["id"])
    assert done["status"] == "SUCCEEDED", (done["error"], [s["error"] for s in done["subJobs"]])
    asset = done["outputAsset"]
    assert asset["kind"] == "AUDIO"
    assert abs(asset["durationSeconds"] - 4) < 0.05
    assert re.fullmatch(r"audio-[0-9a-f]{8}-1\.wav", await _filename(tenant, asset["id"]))


async def _filename(client: GraphQLClient, asset_id: str) -> str:
    data = await client.execute(
        "query($id: ID!) { node(id: $id) { ... on Asset { filename } } }", {"id": asset_id}
    )
    filename: str = data["node"]["filename"]
    return filename


async def _images(tenant: GraphQLClient, campaign: str, samples: Samples, n: int) -> list[str]:
    ids = []
    for i in range(n):
        content = samples.png if i % 2 == 0 else samples.jpeg
        asset = await tenant.upload_ok(content + bytes([i]), f"img{i}.png", campaign_id=campaign)
        ids.append(asset["id"])
    return ids


async def test_pair_video_end_to_end(
    tenant: GraphQLClient,
    app: Starlette,
    campaign: str,
    samples: Samples,
    tmp_path: Path,
    http: httpx.AsyncClient,
) -> None:
    images = await _images(tenant, campaign, samples, 4)
    queued = await launch(
        tenant, PAIR_VIDEO, campaignId=campaign, numPairs=3, clipDuration=2, resolution="480p",
        transition="fade", fps=24,
    )  # fmt: skip
    assert Decimal(queued["costEstimateUsd"]) == 3 * 2 * Decimal("0.018")
    done = await wait_for_job(tenant, app, queued["id"])
    assert done["status"] == "SUCCEEDED", (done["error"], [s["error"] for s in done["subJobs"]])
    assert len(done["storyboard"]) == 3
    for pair, sub in zip(done["storyboard"], done["subJobs"], strict=True):
        assert pair["firstAsset"]["id"] in images and pair["lastAsset"]["id"] in images
        assert pair["firstAsset"]["id"] != pair["lastAsset"]["id"]
        assert 0 <= pair["score"] <= 1 and pair["reason"]
        assert sub["status"] == "SUCCEEDED"
        assert sub["pair"]["firstAsset"]["id"] == pair["firstAsset"]["id"]
    final = done["outputAsset"]
    path = await _download(http, final["url"], tmp_path / "final.mp4")
    info = await probe(path, use_ffprobe=True)
    expected = 3 * 2 - 2 * 0.5  # clips x clipDuration minus transition overlaps
    assert info.duration_seconds is not None
    assert abs(info.duration_seconds - expected) <= 1 / 24 + 1e-3, info
    assert Decimal(done["costActualUsd"]) == Decimal(done["costEstimateUsd"])


async def test_a_join_that_runs_too_long_fails_the_job(
    tenant: GraphQLClient,
    app: Starlette,
    campaign: str,
    samples: Samples,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(app.state.runtime.settings, "combine_timeout_seconds", 0.001)
    await _images(tenant, campaign, samples, 2)
    queued = await launch(
        tenant, PAIR_VIDEO, campaignId=campaign, numPairs=1, clipDuration=2,
        resolution="480p", transition="fade",
    )  # fmt: skip
    done = await wait_for_job(tenant, app, queued["id"])
    assert done["status"] == "FAILED"
    assert done["errorCode"] == "COMBINE_FAILED"
    assert "combining took longer than 0.001 s" in done["error"]
    assert [s["status"] for s in done["subJobs"]] == ["SUCCEEDED"], "the clip itself is kept"
    assert done["outputAsset"] is None


async def test_invalid_generation_inputs_write_nothing(
    tenant: GraphQLClient, admin: GraphQLClient, campaign: str, samples: Samples
) -> None:
    other = await admin.create_campaign(await admin.create_client("Other"))
    foreign = await admin.upload_ok(samples.png, "x.png", campaign_id=other)
    cases: list[tuple[str, dict[str, Any], str, str]] = [
        (GENERATE_VIDEO, {"prompt": "x", "model": "acme/unknown"}, "INVALID_INPUT", "model"),
        (
            GENERATE_VIDEO,
            {"prompt": "x", "model": "google/veo-3", "duration": 5},
            "INVALID_INPUT",
            "duration",
        ),
        (
            GENERATE_VIDEO,
            {"prompt": "x", "model": "kwaivgi/kling-v2.1", "mode": "turbo"},
            "INVALID_INPUT",
            "mode",
        ),
        (GENERATE_VIDEO, {"imageAssetId": foreign["id"]}, "NOT_FOUND", "imageAssetId"),
        (GENERATE_IMAGE, {}, "INVALID_INPUT", "prompt"),
        (PAIR_VIDEO, {}, "INVALID_INPUT", "campaignId"),
        (PAIR_VIDEO, {"model": "google/veo-3"}, "INVALID_INPUT", "model"),
        (PAIR_VIDEO, {"transition": "explode"}, "INVALID_INPUT", "transition"),
        (GENERATE_AUDIO, {"prompt": "x", "duration": 99}, "INVALID_INPUT", "duration"),
    ]
    for mutation, fields, code, field in cases:
        payload = await tenant.mutate(mutation, {"input": {"campaignId": campaign, **fields}})
        assert (payload.get("code"), payload.get("field")) == (code, field), (fields, payload)
    jobs = await tenant.execute(
        "query($id: ID!) { node(id: $id) { ... on Campaign { jobs { totalCount } } } }",
        {"id": campaign},
    )
    assert jobs["node"]["jobs"]["totalCount"] == 0


async def test_budget_is_enforced(tenant: GraphQLClient, campaign: str) -> None:
    await tenant.mutate(
        "mutation($input: UpdateCampaignInput!) { updateCampaign(input: $input) { __typename } }",
        {"input": {"id": campaign, "budgetUsd": "0.05"}},
    )
    estimate = await tenant.execute(
        """query($input: EstimateCostInput!) { estimateCost(input: $input) {
          __typename ... on CostEstimate { totalUsd withinBudget remainingUsd
            lines { description model usd rule } }
          ... on Error { code field } } }""",
        {"input": {"video": {"campaignId": campaign, "prompt": "x", "duration": 4}}},
    )
    est = estimate["estimateCost"]
    assert est["withinBudget"] is False
    assert [line["model"] for line in est["lines"]] == [
        "google/nano-banana",
        "bytedance/seedance-1-lite",
    ]
    assert Decimal(est["totalUsd"]) == Decimal("0.039") + 4 * Decimal("0.036")
    assert "per second" in est["lines"][1]["rule"]
    refused = await tenant.mutate(
        GENERATE_VIDEO, {"input": {"campaignId": campaign, "prompt": "x", "duration": 4}}
    )
    assert (refused["code"], refused["field"]) == ("BUDGET_EXCEEDED", "campaignId")
    jobs = await tenant.execute(
        "query($id: ID!) { node(id: $id) { ... on Campaign { jobs { totalCount } } } }",
        {"id": campaign},
    )
    assert jobs["node"]["jobs"]["totalCount"] == 0
