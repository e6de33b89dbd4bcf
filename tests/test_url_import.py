"""createAssetsFromUrls: good URLs import, bad and private ones get typed errors, each on
its own; the fetcher never reaches a private address, however it is named or redirected."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response, StreamingResponse
from starlette.routing import Route

from gql.app import create_app
from services.settings import Settings
from tests.client import GraphQLClient
from tests.fakes.server import serve_app
from tests.live_support import peer_settings
from tests.samples import Samples

IMPORT = """mutation($input: CreateAssetsFromUrlsInput!) { createAssetsFromUrls(input: $input) {
  __typename
  ... on AssetsFromUrlsPayload {
    imported failed
    results { url asset { id kind mimeType filename } error { code field message } }
  }
  ... on Error { code field message }
} }"""

ASSETS = """query($id: ID!) { node(id: $id) { ... on Campaign {
  assets(first: 50) { edges { node { id kind } } }
} } }"""

MAX_BYTES = 100_000


def media_app(samples: Samples, stop: asyncio.Event) -> Starlette:
    async def slow(_: Request) -> Response:
        await stop.wait()  # answers only once the test is over
        return Response(b"late")

    async def endless(_: Request) -> StreamingResponse:
        async def body() -> AsyncIterator[bytes]:
            yield samples.png
            while True:  # until the fetcher hangs up (the sleep lets the loop see it)
                yield b"\0" * 65536
                await asyncio.sleep(0)

        return StreamingResponse(body(), media_type="image/png")  # no Content-Length

    routes = {
        "/photo.png": lambda _: Response(samples.png, media_type="image/png"),
        "/clip.mp4": lambda _: Response(samples.mp4, media_type="video/mp4"),
        "/to-photo": lambda _: RedirectResponse("/photo.png", status_code=302),
        "/to-private": lambda _: RedirectResponse("http://10.1.2.3/x.png", status_code=302),
        "/to-metadata": lambda _: RedirectResponse(
            "http://169.254.169.254/latest/meta-data/", status_code=307
        ),
        "/loop": lambda _: RedirectResponse("/loop", status_code=302),
        "/declared-huge": lambda _: Response(b"\0" * (MAX_BYTES + 1), media_type="image/png"),
        "/text": lambda _: Response(b"hello, not media", media_type="text/plain"),
        "/missing": lambda _: Response(b"", status_code=404),
    }
    return Starlette(
        routes=[
            *(Route(path, endpoint) for path, endpoint in routes.items()),
            Route("/slow", slow),
            Route("/endless", endless),
        ]
    )


@contextlib.asynccontextmanager
async def importer(
    app: Starlette, settings: Settings, **overrides: Any
) -> AsyncIterator[httpx.AsyncClient]:
    """An API instance that may fetch from 127.0.0.1 (only: not 127.0.0.2, not ::1)."""
    own = peer_settings(
        app, settings, url_import_allowed_networks="127.0.0.1/32", url_import_seconds=2.0,
        max_upload_bytes=MAX_BYTES, **overrides,
    )  # fmt: skip
    api = create_app(own)
    async with (
        api.router.lifespan_context(api),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=api), base_url="http://api") as http,
    ):
        yield http


async def test_good_urls_import_and_bad_or_private_ones_are_refused_each_on_its_own(
    app: Starlette, settings: Settings, tenant: GraphQLClient, samples: Samples
) -> None:
    assert tenant.client_id
    campaign = await tenant.create_campaign(tenant.client_id, "Imported")
    stop = asyncio.Event()
    async with serve_app(media_app(samples, stop)) as base, importer(app, settings) as http:
        port = base.rsplit(":", 1)[1]
        client = GraphQLClient(http, tenant.key)
        cases: list[tuple[str, str | None, str | None]] = [
            # (url, asset kind or None, error code or None)
            (f"{base}/photo.png", "IMAGE", None),
            (f"{base}/clip.mp4", "VIDEO", None),
            (f"{base}/to-photo", "IMAGE", None),
            (f"{base}/to-private", None, "URL_REFUSED"),
            (f"{base}/to-metadata", None, "URL_REFUSED"),
            ("http://10.0.0.1/a.png", None, "URL_REFUSED"),
            ("http://169.254.169.254/latest/meta-data/", None, "URL_REFUSED"),
            (f"http://127.0.0.2:{port}/photo.png", None, "URL_REFUSED"),
            (f"http://[::1]:{port}/photo.png", None, "URL_REFUSED"),
            (f"http://[::ffff:127.0.0.2]:{port}/photo.png", None, "URL_REFUSED"),
            (f"http://0.0.0.0:{port}/photo.png", None, "URL_REFUSED"),
            ("ftp://example.com/a.png", None, "URL_REFUSED"),
            (f"http://user:secret@127.0.0.1:{port}/photo.png", None, "URL_REFUSED"),
            ("not a url at all", None, "URL_REFUSED"),
            (f"{base}/loop", None, "FETCH_FAILED"),
            (f"{base}/missing", None, "FETCH_FAILED"),
            (f"{base}/slow", None, "FETCH_FAILED"),
            (f"{base}/declared-huge", None, "FILE_TOO_LARGE"),
            (f"{base}/endless", None, "FILE_TOO_LARGE"),
            (f"{base}/text", None, "UNSUPPORTED_FILE"),
        ]
        payload = await client.mutate(
            IMPORT, {"input": {"campaignId": campaign, "urls": [c[0] for c in cases]}}
        )
        stop.set()
    assert payload["__typename"] == "AssetsFromUrlsPayload", payload
    results = payload["results"]
    assert [r["url"] for r in results] == [c[0] for c in cases]
    for i, (result, (url, kind, code)) in enumerate(zip(results, cases, strict=True)):
        if kind is not None:
            assert result["error"] is None and result["asset"]["kind"] == kind, (url, result)
        else:
            assert result["asset"] is None, (url, result)
            assert (result["error"]["code"], result["error"]["field"]) == (code, f"urls.{i}"), (
                url, result,
            )  # fmt: skip
    assert (payload["imported"], payload["failed"]) == (3, len(cases) - 3)
    assert results[0]["asset"]["filename"] == "photo.png"

    data = await tenant.execute(ASSETS, {"id": campaign})
    stored = sorted(e["node"]["id"] for e in data["node"]["assets"]["edges"])
    assert stored == sorted(r["asset"]["id"] for r in results if r["asset"])


async def test_slow_hosts_cannot_hold_a_call_past_its_total_time(
    app: Starlette, settings: Settings, tenant: GraphQLClient, samples: Samples
) -> None:
    """Ten hung hosts, eight fetched at a time, 2 s each, 3 s for the call: the first eight
    time out on their own, the last two on the call's time, which has run out for them."""
    assert tenant.client_id
    campaign = await tenant.create_campaign(tenant.client_id, "Slow")
    stop = asyncio.Event()
    overrides = {"url_import_total_seconds": 3.0}
    async with (
        serve_app(media_app(samples, stop)) as base,
        importer(app, settings, **overrides) as http,
    ):
        urls = [f"{base}/slow?n={i}" for i in range(10)]
        payload = await GraphQLClient(http, tenant.key).mutate(
            IMPORT, {"input": {"campaignId": campaign, "urls": urls}}
        )
        stop.set()
    assert (payload["imported"], payload["failed"]) == (0, 10), payload
    errors = [r["error"] for r in payload["results"]]
    assert {e["code"] for e in errors} == {"FETCH_FAILED"}
    assert all("took longer than 2 s" in e["message"] for e in errors[:8]), errors
    assert all("the import's 3 s ran out" in e["message"] for e in errors[8:]), errors


@pytest.mark.parametrize(
    ("urls", "code", "field"),
    [([], "INVALID_INPUT", "urls"), (["http://a.invalid/x"] * 101, "INVALID_INPUT", "urls")],
)
async def test_a_list_out_of_bounds_is_refused_whole(
    tenant: GraphQLClient, urls: list[str], code: str, field: str
) -> None:
    assert tenant.client_id
    campaign = await tenant.create_campaign(tenant.client_id, "Bounds")
    payload = await tenant.mutate(IMPORT, {"input": {"campaignId": campaign, "urls": urls}})
    assert (payload["code"], payload["field"]) == (code, field), payload


async def test_someone_elses_campaign_is_not_found(
    tenant: GraphQLClient, admin: GraphQLClient
) -> None:
    other = await admin.create_client("Someone else")
    campaign = await admin.create_campaign(other, "Theirs")
    payload = await tenant.mutate(
        IMPORT, {"input": {"campaignId": campaign, "urls": ["http://10.0.0.1/x.png"]}}
    )
    assert (payload["code"], payload["field"]) == ("NOT_FOUND", "campaignId"), payload
