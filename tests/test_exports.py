"""exportVideo: renditions made by a job with progress, each an asset linked to the
original, of the asked size and never stretched (a padded one has its bars)."""

from __future__ import annotations

from pathlib import Path

import av
import httpx
from starlette.applications import Starlette

from tests.client import GraphQLClient
from tests.jobs import RENDITIONS, export_video, wait_for_job
from tests.samples import Samples

EVENTS = """query($id: ID!) { node(id: $id) { ... on Job {
  events(first: 100) { type message progress }
} } }"""


def _top_left(data: bytes, path: Path) -> tuple[int, int, int]:
    path.write_bytes(data)
    with av.open(str(path)) as container:
        image = next(container.decode(video=0)).to_image()  # type: ignore[no-untyped-call]
    red, green, blue = image.convert("RGB").getpixel((2, 2))
    return int(red), int(green), int(blue)


async def test_renditions_for_every_channel(
    tenant: GraphQLClient, app: Starlette, samples: Samples, http: httpx.AsyncClient,
    tmp_path: Path,
) -> None:  # fmt: skip
    assert tenant.client_id
    campaign = await tenant.create_campaign(tenant.client_id, "Export")
    video = await tenant.upload_ok(samples.mp4, "ad.mp4", campaign_id=campaign)
    payload = await export_video(
        tenant, video["id"],
        {"rendition": "SD_480P"}, {"rendition": "HD_720P"}, {"rendition": "FULL_HD_1080P"},
        {"rendition": "VERTICAL_9_16", "fit": "PAD"}, {"rendition": "VERTICAL_9_16", "fit": "CROP"},
        {"rendition": "SQUARE_1_1", "fit": "CROP"},
    )  # fmt: skip
    assert payload["__typename"] == "ExportPayload", payload
    assert payload["job"]["kind"] == "EXPORT"
    done = await wait_for_job(tenant, app, payload["job"]["id"])
    assert done["status"] == "SUCCEEDED", done["error"]
    found = (await tenant.execute(RENDITIONS, {"id": video["id"]}))["node"]["renditions"]
    sizes = {r["rendition"]: (r["width"], r["height"]) for r in found}
    assert sizes == {
        "480p": (854, 480), "720p": (1280, 720), "1080p": (1920, 1080),
        "9:16 pad": (1080, 1920), "9:16 crop": (1080, 1920), "1:1 crop": (1080, 1080),
    }  # fmt: skip
    assert {r["source"]["id"] for r in found} == {video["id"]}
    by_name = {r["rendition"]: r for r in found}
    padded = (await http.get(by_name["9:16 pad"]["url"])).content
    assert max(_top_left(padded, tmp_path / "pad.mp4")) < 20  # a black bar above
    cropped = (await http.get(by_name["9:16 crop"]["url"])).content
    assert max(_top_left(cropped, tmp_path / "crop.mp4")) > 40  # picture to the edge
    events = (await tenant.execute(EVENTS, {"id": done["id"]}))["node"]["events"]
    progress = [e["progress"] for e in events if e["type"] == "job.progress"]
    assert progress and progress == sorted(progress) and progress[-1] == 1.0
    assert any(e["message"] == "1:1 crop ready (1080x1080)" for e in events)


async def test_bad_exports_are_refused(
    tenant: GraphQLClient, admin: GraphQLClient, samples: Samples
) -> None:
    assert tenant.client_id
    campaign = await tenant.create_campaign(tenant.client_id, "Bad export")
    image = await tenant.upload_ok(samples.png, "a.png", campaign_id=campaign)
    video = await tenant.upload_ok(samples.mp4, "a.mp4", campaign_id=campaign)
    not_video = await export_video(tenant, image["id"], {"rendition": "HD_720P"})
    assert (not_video["code"], not_video["field"]) == ("INVALID_INPUT", "assetId")
    nothing = await export_video(tenant, video["id"])
    assert (nothing["code"], nothing["field"]) == ("INVALID_INPUT", "renditions")
    other = await admin.create_client("Other brand")
    other_campaign = await admin.create_campaign(other, "Theirs")
    theirs = await admin.upload_ok(samples.mp4, "t.mp4", campaign_id=other_campaign)
    foreign = await export_video(tenant, theirs["id"], {"rendition": "HD_720P"})
    assert (foreign["code"], foreign["field"]) == ("NOT_FOUND", "assetId")
