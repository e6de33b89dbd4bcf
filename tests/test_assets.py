"""Uploads: typed by bytes, probed, deduplicated, size-capped; downloads with Range."""

from __future__ import annotations

import hashlib
import time
import uuid

import httpx
import pytest

import gql.types.assets as assets_types
from services.runtime import Runtime
from services.storage import LocalStorage
from tests.client import GraphQLClient
from tests.samples import Samples

ASSETS = """
query($id: ID!, $kind: AssetKind, $origin: AssetOrigin) {
  node(id: $id) { ... on Campaign {
    assets(kind: $kind, origin: $origin) { totalCount edges { node { id kind origin } } }
  } }
}"""

DELETE = """
mutation($id: ID!) { deleteAsset(input: {id: $id}) {
  __typename ... on DeletePayload { deletedId } ... on Error { code field } } }"""


async def _campaign(tenant: GraphQLClient) -> str:
    assert tenant.client_id
    return await tenant.create_campaign(tenant.client_id, f"media {uuid.uuid4().hex[:4]}")


async def test_image_video_audio_pdf_are_typed_and_probed(
    tenant: GraphQLClient, samples: Samples
) -> None:
    campaign = await _campaign(tenant)
    png = await tenant.upload_ok(samples.png, "photo.png", campaign_id=campaign)
    assert (png["kind"], png["mimeType"], png["width"], png["height"]) == (
        "IMAGE",
        "image/png",
        64,
        48,
    )
    assert png["origin"] == "UPLOADED"
    assert png["durationSeconds"] is None
    assert png["sha256"] == hashlib.sha256(samples.png).hexdigest()
    assert png["sizeBytes"] == len(samples.png)

    mp4 = await tenant.upload_ok(samples.mp4, "ad.mp4", campaign_id=campaign)
    assert (mp4["kind"], mp4["mimeType"], mp4["width"], mp4["height"]) == (
        "VIDEO",
        "video/mp4",
        160,
        90,
    )
    assert abs(mp4["durationSeconds"] - 2.0) < 0.05

    wav = await tenant.upload_ok(samples.wav, "bed.wav", campaign_id=campaign)
    assert (wav["kind"], wav["mimeType"], wav["width"]) == ("AUDIO", "audio/wav", None)
    assert abs(wav["durationSeconds"] - 1.5) < 0.05

    pdf = await tenant.upload_ok(samples.pdf, "brief.pdf", campaign_id=campaign)
    assert (pdf["kind"], pdf["mimeType"]) == ("DOCUMENT", "application/pdf")

    images = await tenant.execute(ASSETS, {"id": campaign, "kind": "IMAGE"})
    assert [e["node"]["id"] for e in images["node"]["assets"]["edges"]] == [png["id"]]
    uploaded = await tenant.execute(ASSETS, {"id": campaign, "origin": "UPLOADED"})
    assert uploaded["node"]["assets"]["totalCount"] == 4
    generated = await tenant.execute(ASSETS, {"id": campaign, "origin": "GENERATED"})
    assert generated["node"]["assets"]["totalCount"] == 0


async def test_type_comes_from_bytes_not_name(tenant: GraphQLClient, samples: Samples) -> None:
    campaign = await _campaign(tenant)
    disguised = await tenant.upload_ok(samples.png, "trailer.mp4", campaign_id=campaign)
    assert (disguised["kind"], disguised["mimeType"]) == ("IMAGE", "image/png")
    assert disguised["filename"] == "trailer.mp4"


async def test_unsupported_files_are_rejected_and_nothing_written(
    tenant: GraphQLClient, samples: Samples, runtime: Runtime
) -> None:
    campaign = await _campaign(tenant)
    before = _blob_count(runtime.storage)
    for content, name in [
        (samples.elf, "setup.png"),
        (b"MZ\x90\x00" + b"\x00" * 200, "tool.jpg"),
        (b"just some text", "notes.txt"),
        (b"", "empty.png"),
        (samples.png[:40], "truncated.png"),
    ]:
        response = await tenant.upload(content, name, campaign_id=campaign)
        payload = response.json()["data"]["uploadAsset"]
        assert (payload["code"], payload["field"]) == ("UNSUPPORTED_FILE", "file"), (name, payload)
    listed = await tenant.execute(ASSETS, {"id": campaign})
    assert listed["node"]["assets"]["totalCount"] == 0
    assert _blob_count(runtime.storage) == before
    assert not list(runtime.storage.tmp.glob("upload-*"))


async def test_oversized_upload_is_refused(
    tenant: GraphQLClient, runtime: Runtime, samples: Samples
) -> None:
    campaign = await _campaign(tenant)
    limit = runtime.settings.max_upload_bytes
    response = await tenant.upload(samples.png + b"\x00" * limit, "huge.png", campaign_id=campaign)
    payload = response.json()["data"]["uploadAsset"]
    assert (payload["code"], payload["field"]) == ("FILE_TOO_LARGE", "file")
    listed = await tenant.execute(ASSETS, {"id": campaign})
    assert listed["node"]["assets"]["totalCount"] == 0


async def test_same_bytes_are_stored_once(
    tenant: GraphQLClient, samples: Samples, runtime: Runtime
) -> None:
    campaign = await _campaign(tenant)
    jpeg = samples.jpeg + uuid.uuid4().hex.encode()  # unique, and never a JPEG marker (0xFF)
    before = _blob_count(runtime.storage)
    first = await tenant.upload_ok(jpeg, "a.jpg", campaign_id=campaign)
    after_first = _blob_count(runtime.storage)
    assert after_first > before  # its bytes (and a thumbnail, unless one the same is kept)
    second = await tenant.upload_ok(jpeg, "b.jpg", campaign_id=campaign)
    assert first["id"] != second["id"]
    assert first["sha256"] == second["sha256"]
    assert _blob_count(runtime.storage) == after_first  # nothing stored twice


async def test_upload_to_foreign_or_missing_target(
    tenant: GraphQLClient, admin: GraphQLClient, samples: Samples
) -> None:
    other_client = await admin.create_client("Foreign")
    other_campaign = await admin.create_campaign(other_client)
    for campaign_id, client_id, field in [
        (other_campaign, None, "campaignId"),
        (None, other_client, "clientId"),
        ("bogus", None, "campaignId"),
    ]:
        response = await tenant.upload(
            samples.png, "x.png", campaign_id=campaign_id, client_id=client_id
        )
        payload = response.json()["data"]["uploadAsset"]
        assert (payload["code"], payload["field"]) == ("NOT_FOUND", field)
    neither = (await tenant.upload(samples.png, "x.png")).json()["data"]["uploadAsset"]
    assert neither["code"] == "INVALID_INPUT"


async def test_multipart_requires_a_preflight_header(
    tenant: GraphQLClient, samples: Samples
) -> None:
    campaign = await _campaign(tenant)
    response = await tenant.upload(samples.png, "x.png", campaign_id=campaign, preflight=False)
    assert response.status_code == 400
    assert "Apollo-Require-Preflight" in response.text
    listed = await tenant.execute(ASSETS, {"id": campaign})
    assert listed["node"]["assets"]["totalCount"] == 0


async def test_download_url_supports_range_and_is_signed(
    tenant: GraphQLClient, samples: Samples, http: httpx.AsyncClient
) -> None:
    campaign = await _campaign(tenant)
    asset = await tenant.upload_ok(samples.mp4, "ad.mp4", campaign_id=campaign)
    url = httpx.URL(asset["url"])
    assert url.path.startswith("/media/")
    full = await http.get(url)
    assert full.status_code == 200
    assert full.content == samples.mp4
    assert full.headers["content-type"] == "video/mp4"
    assert full.headers["accept-ranges"] == "bytes"

    part = await http.get(url, headers={"Range": "bytes=10-109"})
    assert part.status_code == 206
    assert part.content == samples.mp4[10:110]
    assert part.headers["content-range"] == f"bytes 10-109/{len(samples.mp4)}"

    forged = url.copy_merge_params({"sig": "0" * 32})
    assert (await http.get(forged)).status_code == 403
    expired = url.copy_merge_params({"expires": "1000"})
    assert (await http.get(expired)).status_code == 403


PAGE_URLS = """query($id: ID!) { node(id: $id) { ... on Client {
  campaigns(first: 5) { edges { node { assets(first: 5) { edges { node { url } } } } } }
} } }"""


async def test_a_page_signs_its_urls_once_and_again_when_the_hour_turns(
    tenant: GraphQLClient,
    samples: Samples,
    http: httpx.AsyncClient,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Every asset of a page gets a URL that downloads, all with one expiry (what signs
    them is made once per request); a request whose clock passes an hour (a WebSocket's
    context lives for hours) signs the later pages' URLs with the later expiry."""
    assert tenant.client_id
    for name in ("png", "mp4"):
        campaign = await _campaign(tenant)
        content = samples.png if name == "png" else samples.mp4
        for i in range(2):
            await tenant.upload_ok(content[:-1] + bytes([i]), f"{i}.{name}", campaign_id=campaign)

    async def urls() -> list[list[httpx.URL]]:
        data = await tenant.execute(PAGE_URLS, {"id": tenant.client_id})
        return [
            [httpx.URL(a["node"]["url"]) for a in c["node"]["assets"]["edges"]]
            for c in data["node"]["campaigns"]["edges"]
        ]

    pages = await urls()
    assert [len(p) for p in pages] == [2, 2], pages
    assert len({u.params["expires"] for p in pages for u in p}) == 1
    for url in (u for p in pages for u in p):
        assert (await http.get(url)).status_code == 200, url

    class Clock:  # an hour later at every look
        at = time.time()

        @classmethod
        def time(cls) -> float:
            cls.at += 3600
            return cls.at

    monkeypatch.setattr(assets_types, "time", Clock)
    later = await urls()
    per_page = [{u.params["expires"] for u in p} for p in later]
    assert all(len(e) == 1 for e in per_page), per_page  # a page's URLs: one expiry
    first, second = sorted(int(e.pop()) for e in per_page)
    assert second - first == 3600  # the second page's signer was made an hour on


async def test_delete_asset(tenant: GraphQLClient, admin: GraphQLClient, samples: Samples) -> None:
    campaign = await _campaign(tenant)
    asset = await tenant.upload_ok(samples.png, "x.png", campaign_id=campaign)
    other = await admin.create_client("Thief")
    thief_campaign = await admin.create_campaign(other)
    assert thief_campaign
    payload = await tenant.mutate(DELETE, {"id": asset["id"]})
    assert payload == {"__typename": "DeletePayload", "deletedId": asset["id"]}
    assert (await tenant.mutate(DELETE, {"id": asset["id"]}))["code"] == "NOT_FOUND"


def _blob_count(storage: LocalStorage) -> int:
    return sum(1 for _ in storage.root.glob("??/??/*"))
