"""Thumbnails: a poster frame for every image and video, a waveform for every track,
made when the asset is stored (uploaded or generated) and served by a signed URL."""

from __future__ import annotations

import asyncio
import io

import httpx
from PIL import Image
from starlette.applications import Starlette

from tests.client import GraphQLClient
from tests.jobs import GENERATE_AUDIO, launch, wait_for_job
from tests.samples import Samples

THUMB = """query($id: ID!) { node(id: $id) { ... on Asset {
  kind width height thumbnail { url mimeType width height }
} } }"""


async def _thumbnail(client: GraphQLClient, asset_id: str) -> dict[str, object] | None:
    node = (await client.execute(THUMB, {"id": asset_id}))["node"]
    thumb: dict[str, object] | None = node["thumbnail"]
    return thumb


async def _image(http: httpx.AsyncClient, url: str) -> Image.Image:
    response = await http.get(url)
    assert response.status_code == 200, response.text
    assert response.headers["x-content-type-options"] == "nosniff"
    image = Image.open(io.BytesIO(response.content))
    image.load()
    return image


async def test_uploads_get_a_frame_or_a_waveform(
    tenant: GraphQLClient, samples: Samples, http: httpx.AsyncClient
) -> None:
    assert tenant.client_id
    campaign = await tenant.create_campaign(tenant.client_id, "Library")
    expected = {
        "png": ("a.png", samples.png, "image/jpeg", (64, 48)),
        "mp4": ("a.mp4", samples.mp4, "image/jpeg", (160, 90)),
        "wav": ("a.wav", samples.wav, "image/png", (640, 120)),
    }
    for name, (filename, data, mime, size) in expected.items():
        asset = await tenant.upload_ok(data, filename, campaign_id=campaign)
        thumb = await _thumbnail(tenant, asset["id"])
        assert thumb is not None, name
        assert thumb["mimeType"] == mime, name
        assert (thumb["width"], thumb["height"]) == size, name
        image = await _image(http, str(thumb["url"]))
        assert image.format == ("PNG" if mime == "image/png" else "JPEG"), name
        assert image.size == size, name
    document = await tenant.upload_ok(samples.pdf, "brief.pdf", campaign_id=campaign)
    assert await _thumbnail(tenant, document["id"]) is None


async def test_a_large_image_is_shrunk_and_links_are_signed(
    tenant: GraphQLClient, http: httpx.AsyncClient
) -> None:
    assert tenant.client_id
    buffer = io.BytesIO()
    Image.new("RGB", (1200, 600), (200, 40, 40)).save(buffer, "PNG")
    asset = await tenant.upload_ok(buffer.getvalue(), "wide.png", client_id=tenant.client_id)
    thumb = await _thumbnail(tenant, asset["id"])
    assert thumb is not None
    assert (thumb["width"], thumb["height"]) == (320, 160)
    url = str(thumb["url"])
    forged = url[:-4] + ("0000" if not url.endswith("0000") else "1111")
    assert (await http.get(forged)).status_code == 403
    assert (await http.get(url)).status_code == 200


async def test_generated_assets_get_thumbnails(
    tenant: GraphQLClient, app: Starlette, http: httpx.AsyncClient
) -> None:
    assert tenant.client_id
    campaign = await tenant.create_campaign(tenant.client_id, "Made")
    queued = await launch(tenant, GENERATE_AUDIO, campaignId=campaign, prompt="calm", duration=2)
    done = await wait_for_job(tenant, app, queued["id"])
    assert done["status"] == "SUCCEEDED", done["error"]
    # made by the worker right after it commits the success, off the render's path
    thumb = None
    async with asyncio.timeout(30):
        while thumb is None:
            thumb = await _thumbnail(tenant, done["outputAsset"]["id"])
            await asyncio.sleep(0.05)
    assert thumb["mimeType"] == "image/png"
    assert (await _image(http, str(thumb["url"]))).size == (640, 120)
