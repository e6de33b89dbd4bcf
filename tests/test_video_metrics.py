"""Results: recordVideoMetrics, and its rollups per video, campaign and client with spend."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from starlette.applications import Starlette

from tests.client import GraphQLClient, decode_gid
from tests.conftest import issue_key
from tests.jobs import GENERATE_VIDEO, launch, wait_for_job
from tests.samples import Samples

RECORD = """mutation($input: RecordVideoMetricsInput!) { recordVideoMetrics(input: $input) {
  __typename
  ... on VideoMetricsPayload { metric { periodStart periodEnd views clicks conversions } }
  ... on Error { code field message }
} }"""

RESULTS = """fragment R on Results {
  views clicks conversions spendUsd clickThroughRate costPerViewUsd costPerConversionUsd
}
query($video: ID!, $upload: ID!, $campaign: ID!, $client: ID!, $period: PeriodInput) {
  video: node(id: $video) { ... on Asset {
    results(period: $period) { ...R } metrics(period: $period) { periodStart views }
  } }
  upload: node(id: $upload) { ... on Asset { results(period: $period) { ...R } } }
  campaign: node(id: $campaign) { ... on Campaign {
    results(period: $period) { ...R } stats { totalSpendUsd }
  } }
  client: node(id: $client) { ... on Client { results(period: $period) { ...R } } }
}"""

WEEK_1 = {"start": "2026-11-01", "end": "2026-11-07"}
WEEK_2 = {"start": "2026-11-08", "end": "2026-11-14"}


async def record(client: GraphQLClient, asset: str, period: dict[str, str], *counts: int) -> Any:
    views, clicks, conversions = counts
    return await client.mutate(RECORD, {"input": {
        "assetId": asset, "period": period, "views": views, "clicks": clicks,
        "conversions": conversions,
    }})  # fmt: skip


def money(value: str | None) -> Decimal | None:
    return None if value is None else Decimal(value)


@pytest.fixture
async def videos(tenant: GraphQLClient, app: Starlette, samples: Samples) -> dict[str, str]:
    """A campaign with a generated video (local provider) and an uploaded one."""
    assert tenant.client_id
    campaign = await tenant.create_campaign(tenant.client_id, "Results")
    queued = await launch(
        tenant, GENERATE_VIDEO, campaignId=campaign, prompt="Runner", duration=2, resolution="480p"
    )
    done = await wait_for_job(tenant, app, queued["id"])
    assert done["status"] == "SUCCEEDED", done["error"]
    upload = await tenant.upload_ok(samples.mp4, "shot.mp4", campaign_id=campaign)
    assert upload["kind"] == "VIDEO"
    return {
        "campaign": campaign, "client": tenant.client_id, "video": done["outputAsset"]["id"],
        "upload": upload["id"], "spend": done["costActualUsd"],
    }  # fmt: skip


async def test_results_roll_up_per_video_campaign_and_client(
    tenant: GraphQLClient, videos: dict[str, str]
) -> None:
    spend = Decimal(videos["spend"])
    assert spend == Decimal("0.039") + Decimal("0.018") * 2  # the image it started from too
    for asset, period, counts in (
        (videos["video"], WEEK_1, (1000, 50, 5)),
        (videos["video"], WEEK_2, (500, 10, 0)),
        (videos["upload"], WEEK_1, (1500, 30, 1)),
    ):
        payload = await record(tenant, asset, period, *counts)
        assert payload["__typename"] == "VideoMetricsPayload", payload
        metric = payload["metric"]
        assert (metric["periodStart"], metric["periodEnd"]) == (period["start"], period["end"])

    ids = {k: videos[k] for k in ("video", "upload", "campaign", "client")}
    every = await tenant.execute(RESULTS, {**ids, "period": None})
    video = every["video"]["results"]
    assert (video["views"], video["clicks"], video["conversions"]) == (1500, 60, 5)
    assert money(video["spendUsd"]) == spend  # the job that made it, whole
    assert video["clickThroughRate"] == pytest.approx(0.04)
    assert money(video["costPerViewUsd"]) == Decimal("0.00005")
    assert money(video["costPerConversionUsd"]) == Decimal("0.015")
    assert [m["periodStart"] for m in every["video"]["metrics"]] == ["2026-11-01", "2026-11-08"]
    upload = every["upload"]["results"]
    assert (upload["views"], upload["spendUsd"], upload["costPerViewUsd"]) == (1500, None, None)
    assert upload["clickThroughRate"] == pytest.approx(0.02)
    client = every["client"]["results"]
    assert (client["views"], client["clicks"], client["conversions"]) == (3000, 90, 6)
    assert money(client["spendUsd"]) == spend
    assert money(client["costPerViewUsd"]) == Decimal("0.000025")
    assert money(client["costPerConversionUsd"]) == Decimal("0.0125")

    week = await tenant.execute(RESULTS, {**ids, "period": WEEK_1})
    campaign = week["campaign"]["results"]
    assert (campaign["views"], campaign["clicks"], campaign["conversions"]) == (2500, 80, 6)
    assert money(campaign["spendUsd"]) == money(week["campaign"]["stats"]["totalSpendUsd"])
    assert campaign["clickThroughRate"] == pytest.approx(0.032)
    assert money(campaign["costPerViewUsd"]) == Decimal("0.00003")
    assert [m["periodStart"] for m in week["video"]["metrics"]] == ["2026-11-01"]
    october = {"start": "2026-10-01", "end": "2026-10-31"}
    quiet = await tenant.execute(RESULTS, {**ids, "period": october})
    assert quiet["campaign"]["results"]["views"] == 0
    assert quiet["campaign"]["results"]["clickThroughRate"] is None
    assert quiet["campaign"]["results"]["costPerViewUsd"] is None

    again = await record(tenant, videos["video"], WEEK_2, 600, 12, 1)  # a resent week replaces
    assert again["metric"]["views"] == 600
    after = await tenant.execute(RESULTS, {**ids, "period": None})
    assert after["video"]["results"]["views"] == 1600
    assert len(after["video"]["metrics"]) == 2


async def test_bad_results_are_refused_and_nothing_is_written(
    tenant: GraphQLClient, admin: GraphQLClient, runtime: Any, videos: dict[str, str],
    samples: Samples,
) -> None:  # fmt: skip
    assert (await record(tenant, videos["video"], WEEK_1, 10, 1, 0))["__typename"] != "Error"
    tomorrow_plus = (datetime.now(UTC).date() + timedelta(days=3)).isoformat()
    image = await tenant.upload_ok(samples.png, "still.png", campaign_id=videos["campaign"])
    other_client = await admin.create_client(f"Other {uuid.uuid4().hex[:6]}")
    other = GraphQLClient(admin.http, await issue_key(runtime, decode_gid(other_client)))
    refused = [
        ((videos["video"], {"start": "2026-11-05", "end": "2026-11-10"}, (1, 1, 1)),
         ("CONFLICT", "period")),
        ((videos["video"], {"start": "2026-11-10", "end": "2026-11-09"}, (1, 1, 1)),
         ("INVALID_INPUT", "period.end")),
        ((videos["video"], {"start": "2026-11-20", "end": tomorrow_plus}, (1, 1, 1)),
         ("INVALID_INPUT", "period.end")),
        ((videos["video"], {"start": "2024-01-01", "end": "2025-06-01"}, (1, 1, 1)),
         ("INVALID_INPUT", "period")),
        ((videos["video"], WEEK_2, (-1, 0, 0)), ("INVALID_INPUT", "views")),
        ((image["id"], WEEK_2, (1, 0, 0)), ("INVALID_INPUT", "assetId")),
        ((videos["campaign"], WEEK_2, (1, 0, 0)), ("NOT_FOUND", "assetId")),
    ]  # fmt: skip
    for (asset, period, counts), (code, field) in refused:
        payload = await record(tenant, asset, period, *counts)
        assert (payload.get("code"), payload.get("field")) == (code, field), (period, payload)
    payload = await record(other, videos["video"], WEEK_2, 1, 0, 0)
    assert (payload["code"], payload["field"]) == ("NOT_FOUND", "assetId")

    ids = {k: videos[k] for k in ("video", "upload", "campaign", "client")}
    data = await tenant.execute(RESULTS, {**ids, "period": None})
    assert data["video"]["metrics"] == [{"periodStart": "2026-11-01", "views": 10}]
    assert data["client"]["results"]["views"] == 10

    backwards = {"start": "2026-11-02", "end": "2026-11-01"}
    body = (await tenant.post(RESULTS, {**ids, "period": backwards})).json()
    codes = {e["extensions"]["code"] for e in body["errors"]}
    assert codes == {"INVALID_INPUT"}, body


async def test_overlapping_periods_sent_at_once_leave_one(
    tenant: GraphQLClient, videos: dict[str, str]
) -> None:
    """Records of one video take turns: of two overlapping periods sent together, one is
    kept and the other refused, never both."""
    periods = [{"start": "2026-11-01", "end": f"2026-11-{d:02d}"} for d in range(3, 10)]
    sent = await asyncio.gather(*(record(tenant, videos["video"], p, 5, 1, 0) for p in periods))
    kinds = sorted(p["__typename"] for p in sent)
    assert kinds.count("VideoMetricsPayload") == 1, sent
    assert {p.get("code") for p in sent if p["__typename"] != "VideoMetricsPayload"} == {"CONFLICT"}
    ids = {k: videos[k] for k in ("video", "upload", "campaign", "client")}
    data = await tenant.execute(RESULTS, {**ids, "period": None})
    assert len(data["video"]["metrics"]) == 1
    assert data["video"]["results"]["views"] == 5
