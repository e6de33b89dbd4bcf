"""People in the loop: storyboard approval (reorder, replace, reject), regenerating a
clip, and temp files gone when jobs end. Offline `local` provider, real worker."""

from __future__ import annotations

from decimal import Decimal

from starlette.applications import Starlette

from services.runtime import Runtime
from tests.client import GraphQLClient
from tests.jobs import APPROVE, PAIR_VIDEO, REGENERATE, REJECT, launch, wait_for_job
from tests.samples import Samples


async def _campaign(tenant: GraphQLClient, samples: Samples, images: int) -> tuple[str, list[str]]:
    assert tenant.client_id
    campaign = await tenant.create_campaign(tenant.client_id, "Storyboard")
    ids = []
    for i in range(images):
        asset = await tenant.upload_ok(samples.png + bytes([i]), f"{i}.png", campaign_id=campaign)
        ids.append(asset["id"])
    return campaign, ids


async def test_storyboard_waits_for_approval_and_takes_new_pairs(
    tenant: GraphQLClient, app: Starlette, samples: Samples
) -> None:
    campaign, images = await _campaign(tenant, samples, 4)
    queued = await launch(
        tenant, PAIR_VIDEO, campaignId=campaign, numPairs=2, clipDuration=2, resolution="480p",
        requireApproval=True, transition="none",
    )  # fmt: skip
    waiting = await wait_for_job(tenant, app, queued["id"], statuses={"AWAITING_APPROVAL"})
    board = waiting["storyboard"]
    assert len(board) == 2
    assert all(p["reason"] and 0 <= p["score"] <= 1 for p in board)
    assert Decimal(waiting["costEstimateUsd"]) == sum(Decimal(p["costUsd"]) for p in board)
    assert all(s["status"] == "QUEUED" and s["attempts"] == 0 for s in waiting["subJobs"])

    chosen = [(images[3], images[0]), (images[1], images[2]), (images[0], images[1])]
    approved = await tenant.mutate(
        APPROVE,
        {"input": {"jobId": queued["id"], "pairs": [
            {"firstAssetId": a, "lastAssetId": b} for a, b in chosen]}},
    )  # fmt: skip
    assert approved["job"]["status"] == "RUNNING", approved
    done = await wait_for_job(tenant, app, queued["id"])
    assert done["status"] == "SUCCEEDED", done["error"]
    got = [(s["pair"]["firstAsset"]["id"], s["pair"]["lastAsset"]["id"]) for s in done["subJobs"]]
    assert got == chosen
    assert abs(done["outputAsset"]["durationSeconds"] - 3 * 2) < 0.1  # hard cuts: no overlap

    again = await tenant.mutate(APPROVE, {"input": {"jobId": queued["id"]}})
    assert again["code"] == "CONFLICT"


async def test_bad_replacement_pairs_are_refused(
    tenant: GraphQLClient, admin: GraphQLClient, app: Starlette, samples: Samples
) -> None:
    campaign, images = await _campaign(tenant, samples, 2)
    queued = await launch(tenant, PAIR_VIDEO, campaignId=campaign, requireApproval=True)
    await wait_for_job(tenant, app, queued["id"], statuses={"AWAITING_APPROVAL"})
    other = await admin.create_campaign(await admin.create_client("Else"))
    foreign = await admin.upload_ok(samples.png, "f.png", campaign_id=other)
    for pairs, field in [
        ([{"firstAssetId": images[0], "lastAssetId": images[0]}], "pairs.0"),
        ([{"firstAssetId": images[0], "lastAssetId": foreign["id"]}], "pairs.0.lastAssetId"),
        ([], "pairs"),
    ]:
        payload = await tenant.mutate(APPROVE, {"input": {"jobId": queued["id"], "pairs": pairs}})
        assert payload.get("field") == field, payload
    still = await wait_for_job(tenant, app, queued["id"], statuses={"AWAITING_APPROVAL"})
    assert len(still["subJobs"]) == len(still["storyboard"])

    rejected = await tenant.mutate(REJECT, {"input": {"jobId": queued["id"]}})
    assert rejected["job"]["status"] == "CANCELED"
    assert {s["status"] for s in rejected["job"]["subJobs"]} == {"CANCELED"}


async def test_regenerate_one_clip_recombines(
    tenant: GraphQLClient, app: Starlette, samples: Samples, runtime: Runtime
) -> None:
    campaign, _ = await _campaign(tenant, samples, 2)
    queued = await launch(
        tenant, PAIR_VIDEO, campaignId=campaign, numPairs=1, clipDuration=2, resolution="480p"
    )
    first = await wait_for_job(tenant, app, queued["id"])
    assert first["status"] == "SUCCEEDED", first["error"]
    sub = first["subJobs"][0]
    payload = await tenant.mutate(
        REGENERATE, {"input": {"subJobId": sub["id"], "prompt": "slower, moodier"}}
    )
    assert payload["job"]["status"] == "RUNNING", payload
    second = await wait_for_job(tenant, app, queued["id"])
    assert second["status"] == "SUCCEEDED", second["error"]
    prompt, branding = second["subJobs"][0]["input"]["prompt"].split("\n\n", 1)
    assert prompt == "slower, moodier"
    assert branding == sub["input"]["prompt"].split("\n\n", 1)[1], "branded like the first"
    assert second["subJobs"][0]["outputAsset"]["id"] != sub["outputAsset"]["id"]
    assert second["outputAsset"]["id"] != first["outputAsset"]["id"]
    assert Decimal(second["costActualUsd"]) == 2 * Decimal(first["costActualUsd"]), "both paid"
    assert Decimal(second["costEstimateUsd"]) == 2 * Decimal(first["costEstimateUsd"])
    leftovers = [
        p.name for p in runtime.storage.tmp.glob("*") if p.name.startswith(("sub-", "combine-"))
    ]
    assert leftovers == [], "temp files are removed when a job ends"
