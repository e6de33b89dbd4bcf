"""Hostile media through the public surface: pixel bombs, files that only look right, and
downloads a browser must not be tricked by; /healthz that says nothing internal."""

from __future__ import annotations

import hashlib
import hmac
import logging
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest
from PIL import Image

from gql.app import create_app
from gql.routes import content_disposition
from services.runtime import Runtime
from services.settings import Settings
from tests.client import GraphQLClient
from tests.samples import (
    Samples,
    fake_pdf,
    png_bomb,
    real_pdf,
    truncated_jpeg,
    video_bomb,
)

ASSETS = """
query($id: ID!) { node(id: $id) { ... on Campaign { assets { totalCount } } } }"""

SANDBOX = "default-src 'none'; style-src 'unsafe-inline'; sandbox"


async def _campaign(tenant: GraphQLClient) -> str:
    assert tenant.client_id
    return await tenant.create_campaign(tenant.client_id, f"safety {uuid.uuid4().hex[:4]}")


def _stored(runtime: Runtime) -> set[Path]:
    root = runtime.settings.data_dir / "media"
    return set(root.glob("??/??/*")) | set(root.glob("tmp/*"))


async def _refused(
    tenant: GraphQLClient, runtime: Runtime, content: bytes, name: str
) -> dict[str, Any]:
    """Upload `content`; assert it is refused as a file and leaves no row and no file."""
    campaign = await _campaign(tenant)
    before = _stored(runtime)
    response = await tenant.upload(content, name, campaign_id=campaign)
    assert response.status_code == 200, response.text
    payload: dict[str, Any] = response.json()["data"]["uploadAsset"]
    assert (payload["code"], payload["field"]) == ("UNSUPPORTED_FILE", "file"), payload
    listed = await tenant.execute(ASSETS, {"id": campaign})
    assert listed["node"]["assets"]["totalCount"] == 0
    assert _stored(runtime) == before
    return payload


async def test_png_pixel_bomb_is_refused_with_the_limit(
    tenant: GraphQLClient, runtime: Runtime
) -> None:
    bomb = png_bomb(16000, 16000)
    assert len(bomb) < 1_000_000
    payload = await _refused(tenant, runtime, bomb, "cat.png")
    assert str(runtime.settings.max_image_pixels) in payload["message"]


async def test_a_bomb_just_over_the_limit_is_refused_and_one_under_is_not(
    tenant: GraphQLClient, runtime: Runtime
) -> None:
    limit = runtime.settings.max_image_pixels
    side = int(limit**0.5)
    payload = await _refused(tenant, runtime, png_bomb(side + 1, side + 1), "big.png")
    assert f"{side + 1}x{side + 1}" in payload["message"]
    assert str(limit) in payload["message"]
    campaign = await _campaign(tenant)
    small = await tenant.upload_ok(png_bomb(2000, 1000), "ok.png", campaign_id=campaign)
    assert (small["kind"], small["width"], small["height"]) == ("IMAGE", 2000, 1000)


def test_pillow_itself_refuses_bombs_anywhere_in_the_process(runtime: Runtime) -> None:
    import io

    assert Image.MAX_IMAGE_PIXELS is not None
    assert runtime.settings.max_image_pixels >= Image.MAX_IMAGE_PIXELS
    with pytest.raises(Image.DecompressionBombError):
        Image.open(io.BytesIO(png_bomb(16000, 16000)))


async def test_video_with_a_giant_frame_size_is_refused(
    tenant: GraphQLClient, runtime: Runtime, media_dir: Path
) -> None:
    payload = await _refused(tenant, runtime, video_bomb(media_dir), "clip.mkv")
    assert str(runtime.settings.max_image_pixels) in payload["message"]


async def test_truncated_jpeg_is_refused(
    tenant: GraphQLClient, runtime: Runtime, media_dir: Path
) -> None:
    payload = await _refused(tenant, runtime, truncated_jpeg(media_dir), "photo.jpg")
    assert "image/jpeg" in payload["message"]


async def test_pdf_header_with_junk_is_refused(tenant: GraphQLClient, runtime: Runtime) -> None:
    await _refused(tenant, runtime, fake_pdf(), "brief.pdf")


async def test_real_pdf_is_accepted(tenant: GraphQLClient) -> None:
    asset = await tenant.upload_ok(real_pdf(3), "brief.pdf", campaign_id=await _campaign(tenant))
    assert (asset["kind"], asset["mimeType"]) == ("DOCUMENT", "application/pdf")


async def _download(http: httpx.AsyncClient, asset: dict[str, Any]) -> httpx.Response:
    response = await http.get(asset["url"])
    assert response.status_code == 200
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["content-security-policy"] == SANDBOX
    assert response.headers["etag"] == f'"{asset["sha256"]}"'
    assert response.headers["cache-control"] == "private, max-age=3600"
    return response


async def test_downloads_are_never_sniffed_and_documents_are_attachments(
    tenant: GraphQLClient, samples: Samples, http: httpx.AsyncClient
) -> None:
    campaign = await _campaign(tenant)
    for content, name, disposition in [
        (samples.png, "a.png", "inline"),
        (samples.jpeg, "a.jpg", "inline"),
        (samples.mp4, "a.mp4", "inline"),
        (samples.wav, "a.wav", "inline"),
        (real_pdf(), "a.pdf", "attachment"),
    ]:
        asset = await tenant.upload_ok(content, name, campaign_id=campaign)
        response = await _download(http, asset)
        assert response.content == content
        assert response.headers["content-type"].startswith(asset["mimeType"])
        assert response.headers["content-disposition"] == (
            f"{disposition}; filename=\"{name}\"; filename*=UTF-8''{name}"
        )


async def test_download_filename_is_sanitised(
    tenant: GraphQLClient, http: httpx.AsyncClient
) -> None:
    campaign = await _campaign(tenant)
    name = "C:\\Users\\x\\Q4 plan; v2 — it's résumé.pdf"
    asset = await tenant.upload_ok(real_pdf(), name, campaign_id=campaign)
    header = (await _download(http, asset)).headers["content-disposition"]
    assert header == (
        "attachment; "
        'filename="Q4 plan v2 _ its r_sum_.pdf"; '
        "filename*=UTF-8''Q4%20plan%20v2%20%E2%80%94%20its%20r%C3%A9sum%C3%A9.pdf"
    )


@pytest.mark.parametrize(
    ("stored", "mime_type", "expected"),
    [
        ('a"b".mp4', "video/mp4", "inline; filename=\"ab.mp4\"; filename*=UTF-8''ab.mp4"),
        (
            "../../etc/passwd\r\nX-Evil: 1",
            "application/pdf",
            "attachment; filename=\"passwdX-Evil: 1\"; filename*=UTF-8''passwdX-Evil%3A%201",
        ),
        ("\x00\x7f\u202e", "image/png", "inline; filename=\"download\"; filename*=UTF-8''download"),
        (
            "clip.MP4",
            "application/octet-stream",
            "attachment; filename=\"clip.MP4\"; filename*=UTF-8''clip.MP4",
        ),
    ],
)
def test_content_disposition_never_carries_paths_quotes_or_controls(
    stored: str, mime_type: str, expected: str
) -> None:
    assert content_disposition(stored, mime_type) == expected


async def test_range_still_works_on_a_sandboxed_download(
    tenant: GraphQLClient, samples: Samples, http: httpx.AsyncClient
) -> None:
    asset = await tenant.upload_ok(samples.mp4, "ad.mp4", campaign_id=await _campaign(tenant))
    part = await http.get(asset["url"], headers={"Range": "bytes=0-99"})
    assert part.status_code == 206
    assert part.content == samples.mp4[:100]
    assert part.headers["x-content-type-options"] == "nosniff"
    assert part.headers["content-security-policy"] == SANDBOX


async def test_refused_media_links_are_not_sniffed_either(
    tenant: GraphQLClient, samples: Samples, http: httpx.AsyncClient
) -> None:
    asset = await tenant.upload_ok(samples.png, "a.png", campaign_id=await _campaign(tenant))
    forged = httpx.URL(asset["url"]).copy_merge_params({"sig": "0" * 32})
    urls: list[httpx.URL | str] = [forged, f"/media/{uuid.uuid4()}?expires=x"]
    for url in urls:
        response = await http.get(url)
        assert response.status_code in (403, 404)
        assert response.headers["x-content-type-options"] == "nosniff"


async def test_media_links_are_signed_with_standard_hmac_sha256(
    tenant: GraphQLClient, samples: Samples, settings: Settings
) -> None:
    """The signer keeps the key's HMAC states precomputed; what it signs must stay what
    `hmac` signs, or links issued by a process of another version stop working."""
    asset = await tenant.upload_ok(samples.png, "a.png", campaign_id=await _campaign(tenant))
    url = httpx.URL(asset["url"])
    message = f"{url.path.rsplit('/', 1)[1]}:{url.params['expires']}".encode()
    expected = hmac.new(settings.signing_key(), message, hashlib.sha256).hexdigest()[:32]
    assert url.params["sig"] == expected


async def test_healthz_ok(http: httpx.AsyncClient) -> None:
    response = await http.get("/healthz")
    assert (response.status_code, response.json()) == (200, {"status": "ok"})


async def test_healthz_with_the_database_down_says_nothing_internal(
    settings: Settings, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    secret = "s3cret-Pa55"
    down = settings.model_copy(
        update={
            "data_dir": tmp_path,
            # a port nothing listens on; the password must not leak anywhere
            "database_url": f"postgresql://reelgraph:{secret}@127.0.0.1:9/reelgraph",
            "run_worker": False,
        }
    )
    app = create_app(down)
    caplog.set_level(logging.WARNING, logger="gql.routes")
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
            first = await http.get("/healthz")
            second = await http.get("/healthz")
    for response in (first, second):
        assert response.status_code == 503
        assert response.json() == {"status": "unavailable"}
    warnings = [r for r in caplog.records if r.name == "gql.routes"]
    assert len(warnings) == 1  # once per outage, not once per probe
    assert warnings[0].levelno == logging.WARNING
    assert secret not in caplog.text
    assert warnings[0].exc_info is None
