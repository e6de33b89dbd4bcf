"""The Replicate provider against a loopback fake of Replicate's HTTP API."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from services.providers.base import PredictionStatus, ProviderError, WebhookError
from services.providers.replicate import ReplicateProvider, output_urls, progress_from_logs
from tests.fakes.replicate import FakeModel, FakeReplicate, new_webhook_secret, sign_webhook
from tests.fakes.server import serve_app
from tests.samples import Samples

TOKEN = "r8_test_token"
SECRET = new_webhook_secret()
MODEL = "acme/video"
CREATE_PATH = f"/v1/models/{MODEL}/predictions"
Signed = tuple[dict[str, str], bytes]
Received = list[Signed]


@pytest.fixture(scope="module")
async def served() -> AsyncIterator[tuple[FakeReplicate, str]]:
    fake = FakeReplicate(token=TOKEN, webhook_secret=SECRET)
    async with serve_app(fake.app) as base_url:
        yield fake, base_url


@pytest.fixture(scope="module")
async def receiver() -> AsyncIterator[tuple[Received, str]]:
    """A webhook endpoint that keeps what it is sent."""
    received: Received = []

    async def hook(request: Request) -> Response:
        received.append((dict(request.headers), await request.body()))
        return Response(status_code=204)

    async with serve_app(Starlette(routes=[Route("/hook", hook, methods=["POST"])])) as base:
        yield received, f"{base}/hook"


@pytest.fixture
async def fake(served: tuple[FakeReplicate, str]) -> AsyncIterator[FakeReplicate]:
    yield served[0]
    await served[0].reset()


@pytest.fixture
async def replicate(served: tuple[FakeReplicate, str]) -> AsyncIterator[ReplicateProvider]:
    provider = ReplicateProvider(TOKEN, base_url=f"{served[1]}/v1", webhook_secret=SECRET)
    yield provider
    await provider.aclose()


# -- pure functions -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("logs", "expected"),
    [
        (None, None),
        ("", None),
        ("Loading weights\nUsing guidance 50%\n", None),
        (" 45%|████▌     | 9/20 [00:02<00:02,  4.10it/s]", 0.45),
        ("progress: 45%", 0.45),
        ("Progress 12.5 %", 0.125),
        ("step 9/20", 0.45),
        ("Step 3 of 4: denoising", 0.75),
        ("  0%|          | 0/4\r 50%|#####     | 2/4\r 75%|#######   | 3/4", 0.75),
        ("100%|##########| 4/4 [loading]\n  5%|          | 1/20 [render]\nsaving\n", 0.05),
        ("150%| nonsense", None),
        ("frame 30/0", None),
    ],
)
def test_progress_from_logs(logs: str | None, expected: float | None) -> None:
    assert progress_from_logs(logs) == pytest.approx(expected)


@pytest.mark.parametrize(
    ("output", "expected"),
    [
        (None, []),
        ("https://replicate.delivery/a.mp4", ["https://replicate.delivery/a.mp4"]),
        (["https://r.d/1.png", "https://r.d/2.png"], ["https://r.d/1.png", "https://r.d/2.png"]),
        ({"video": "https://r.d/v.mp4", "seed": 4}, ["https://r.d/v.mp4"]),
        ("data:image/png;base64,AAAA", ["data:image/png;base64,AAAA"]),
        (42, []),
        (["Hel", "lo", None, 3], []),
    ],
)
def test_output_urls(output: object, expected: list[str]) -> None:
    assert output_urls(output) == expected


# -- lifecycle ------------------------------------------------------------------------------


async def test_create_then_poll_to_success(
    fake: FakeReplicate, replicate: ReplicateProvider, samples: Samples
) -> None:
    fake.add_model(MODEL, FakeModel(steps=2, files={"clip.mp4": samples.mp4}))
    created = await replicate.create(MODEL, {"prompt": "a red car"})
    assert (created.status, created.output, created.progress) == ("starting", [], None)

    (call,) = fake.calls("POST", CREATE_PATH)
    assert call.headers["authorization"] == f"Bearer {TOKEN}"
    assert call.body == {"input": {"prompt": "a red car"}}
    assert "cancel-after" not in call.headers

    seen = []
    for _ in range(4):  # processing 0/2, 1/2, 2/2, then the outcome
        fake.advance(created.id)
        got = await replicate.get(created.id)
        seen.append((got.status, got.progress))
    assert seen == [
        ("processing", 0.0),
        ("processing", 0.5),
        ("processing", 1.0),
        ("succeeded", 1.0),
    ]
    assert got.output == [f"{fake.prediction(created.id).base_url}files/{created.id}/clip.mp4"]
    assert got.predict_time is not None
    assert got.predict_time >= 0
    assert got.raw["id"] == created.id


async def test_pinned_version_uses_the_predictions_endpoint(
    fake: FakeReplicate, replicate: ReplicateProvider
) -> None:
    version = fake.add_model(MODEL).version
    created = await replicate.create(f"{MODEL}:{version}", {"prompt": "x"})
    (call,) = fake.calls("POST", "/v1/predictions")
    assert call.body == {"version": version, "input": {"prompt": "x"}}
    assert fake.prediction(created.id).model == MODEL


async def test_webhook_and_deadline_are_sent(
    fake: FakeReplicate, replicate: ReplicateProvider
) -> None:
    fake.add_model(MODEL)
    await replicate.create(
        MODEL, {"prompt": "x"}, webhook_url="https://example.test/hook", cancel_after="5m"
    )
    (call,) = fake.calls("POST", CREATE_PATH)
    assert call.headers["cancel-after"] == "5m"
    assert call.body["webhook"] == "https://example.test/hook"
    assert call.body["webhook_events_filter"] == ["start", "logs", "completed"]


@pytest.mark.parametrize("outcome", ["failed", "canceled"])
async def test_terminal_outcomes(
    fake: FakeReplicate, replicate: ReplicateProvider, outcome: str
) -> None:
    fake.add_model(MODEL, FakeModel(outcome=outcome, error="NSFW content detected"))  # type: ignore[arg-type]
    created = await replicate.create(MODEL, {"prompt": "x"})
    fake.advance(created.id)
    fake.finish(created.id)
    got = await replicate.get(created.id)
    assert got.status == outcome
    assert got.status.terminal
    assert got.output == []
    assert got.progress == 0.0
    assert got.error == ("NSFW content detected" if outcome == "failed" else None)


async def test_cancel(fake: FakeReplicate, replicate: ReplicateProvider) -> None:
    fake.add_model(MODEL)
    created = await replicate.create(MODEL, {"prompt": "x"})
    fake.advance(created.id)
    canceled = await replicate.cancel(created.id)
    assert canceled.status is PredictionStatus.CANCELED
    assert len(fake.calls("POST", f"/v1/predictions/{created.id}/cancel")) == 1
    assert (await replicate.cancel(created.id)).status is PredictionStatus.CANCELED


async def test_cancel_after_success_changes_nothing(
    fake: FakeReplicate, replicate: ReplicateProvider
) -> None:
    fake.add_model(MODEL)
    created = await replicate.create(MODEL, {"prompt": "x"})
    fake.finish(created.id)
    assert (await replicate.cancel(created.id)).status is PredictionStatus.SUCCEEDED


async def test_aborted_before_start(fake: FakeReplicate, replicate: ReplicateProvider) -> None:
    fake.add_model(MODEL, FakeModel(outcome="aborted"))
    created = await replicate.create(MODEL, {"prompt": "x"})
    fake.advance(created.id)
    got = await replicate.get(created.id)
    assert got.status is PredictionStatus.ABORTED
    assert got.status.terminal


async def test_deadline_aborts_a_prediction_that_never_started(
    fake: FakeReplicate, replicate: ReplicateProvider
) -> None:
    fake.add_model(MODEL)  # manual: stays "starting" until the deadline passes
    created = await replicate.create(MODEL, {"prompt": "x"}, cancel_after="20ms")
    await fake.wait_status(created.id, "aborted")
    assert (await replicate.get(created.id)).status is PredictionStatus.ABORTED


async def test_timed_and_per_poll_models_finish_on_their_own(
    fake: FakeReplicate, replicate: ReplicateProvider
) -> None:
    fake.add_model("acme/timed", FakeModel(mode="timed", duration=0.05))
    fake.add_model("acme/polled", FakeModel(mode="per_poll", steps=1))
    timed = await replicate.create("acme/timed", {"prompt": "x"})
    polled = await replicate.create("acme/polled", {"prompt": "x"})
    await fake.wait_status(timed.id, "succeeded")
    statuses = [(await replicate.get(polled.id)).status for _ in range(4)]
    assert statuses == ["processing", "processing", "succeeded", "succeeded"]


@pytest.mark.parametrize(
    ("model", "expected"),
    [
        (FakeModel(files={"a.png": b"1", "b.png": b"2"}, single=False), 2),
        (FakeModel(files={"a.png": b"1"}, single=False), 1),
        (FakeModel(files={}), 0),
        (FakeModel(output={"nonsense": 3, "text": "hello"}), 0),
        (FakeModel(files={"a.png": b"1"}, data_uri=True), 1),
    ],
)
async def test_output_shapes(
    fake: FakeReplicate, replicate: ReplicateProvider, model: FakeModel, expected: int
) -> None:
    fake.add_model(MODEL, model)
    created = await replicate.create(MODEL, {"prompt": "x"})
    fake.finish(created.id)
    got = await replicate.get(created.id)
    assert got.status is PredictionStatus.SUCCEEDED
    assert len(got.output) == expected


# -- errors ---------------------------------------------------------------------------------


async def test_create_retries_throttling_as_told(
    fake: FakeReplicate, replicate: ReplicateProvider
) -> None:
    fake.add_model(MODEL)
    fake.fail_next("create", 429, times=2, retry_after="0")
    created = await replicate.create(MODEL, {"prompt": "x"})
    assert created.status is PredictionStatus.STARTING
    assert len(fake.calls("POST", CREATE_PATH)) == 3
    assert len(fake.predictions) == 1


async def test_create_gives_up_after_its_retries(
    fake: FakeReplicate, served: tuple[FakeReplicate, str]
) -> None:
    fake.add_model(MODEL)
    fake.fail_next("create", 429, times=5, retry_after="0")
    provider = ReplicateProvider(TOKEN, base_url=f"{served[1]}/v1", max_create_retries=2)
    with pytest.raises(ProviderError) as caught:
        await provider.create(MODEL, {"prompt": "x"})
    await provider.aclose()
    assert caught.value.retryable
    assert caught.value.retry_after == 0
    assert len(fake.calls("POST", CREATE_PATH)) == 3
    assert not fake.predictions


@pytest.mark.parametrize(("header", "expected"), [("30", 30.0), (None, 30.0)])
async def test_create_does_not_wait_long_in_process(
    fake: FakeReplicate, replicate: ReplicateProvider, header: str | None, expected: float
) -> None:
    """A long Retry-After (or the "resets in ~30s" detail) goes back to the caller."""
    fake.add_model(MODEL)
    fake.fail_next("create", 429, retry_after=header)
    with pytest.raises(ProviderError) as caught:
        await replicate.create(MODEL, {"prompt": "x"})
    assert caught.value.retryable
    assert caught.value.retry_after == expected
    assert len(fake.calls("POST", CREATE_PATH)) == 1


async def test_invalid_input_is_final_with_replicates_detail(
    fake: FakeReplicate, replicate: ReplicateProvider
) -> None:
    fake.add_model(MODEL, FakeModel(required=("prompt", "duration")))
    with pytest.raises(ProviderError) as caught:
        await replicate.create(MODEL, {"prompt": "x"})
    assert not caught.value.retryable
    assert "422" in str(caught.value)
    assert "duration is required" in str(caught.value)
    assert not fake.predictions


@pytest.mark.parametrize(
    ("model", "token", "status"),
    [("acme/missing", TOKEN, "404"), (MODEL, "r8_wrong", "401"), ("no-owner", TOKEN, None)],
)
async def test_refusals_are_final(
    fake: FakeReplicate, served: tuple[FakeReplicate, str], model: str, token: str, status: str
) -> None:
    fake.add_model(MODEL)
    provider = ReplicateProvider(token, base_url=f"{served[1]}/v1")
    with pytest.raises(ProviderError) as caught:
        await provider.create(model, {"prompt": "x"})
    await provider.aclose()
    assert not caught.value.retryable
    assert status is None or f"({status})" in str(caught.value)


@pytest.mark.parametrize(("status", "retry_after"), [(429, 2.0), (503, 1.5), (500, None)])
async def test_get_failures_are_retryable(
    fake: FakeReplicate,
    replicate: ReplicateProvider,
    status: int,
    retry_after: float | None,
) -> None:
    fake.add_model(MODEL)
    created = await replicate.create(MODEL, {"prompt": "x"})
    header = None if retry_after is None else str(retry_after)
    fake.fail_next("get", status, retry_after=header, detail="try later")
    with pytest.raises(ProviderError) as caught:
        await replicate.get(created.id)
    assert caught.value.retryable
    assert caught.value.retry_after == retry_after
    assert (await replicate.get(created.id)).status is PredictionStatus.STARTING


async def test_unknown_prediction_is_final(replicate: ReplicateProvider) -> None:
    with pytest.raises(ProviderError) as caught:
        await replicate.get("doesnotexist")
    assert not caught.value.retryable
    assert "(404)" in str(caught.value)


async def test_network_errors_are_retryable() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    async with httpx.AsyncClient(transport=httpx.MockTransport(refuse)) as http:
        provider = ReplicateProvider(TOKEN, http=http)
        with pytest.raises(ProviderError) as caught:
            await provider.get("abc")
        await provider.aclose()  # does not close a client it was given
        assert not http.is_closed
    assert caught.value.retryable


async def test_a_create_whose_answer_is_lost_is_unsure() -> None:
    """The POST went out and the connection closed before an answer: the prediction may
    exist (`unsure`). A GET that fails so did nothing, and a refused connection sent
    nothing at all."""

    async def hang_up(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.close()

    server = await asyncio.start_server(hang_up, "127.0.0.1", 0)
    base = f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}/v1"
    async with server:
        provider = ReplicateProvider(TOKEN, base_url=base)
        with pytest.raises(ProviderError) as created:
            await provider.create(MODEL, {"prompt": "x"})
        with pytest.raises(ProviderError) as read:
            await provider.get("abc")
        await provider.aclose()
    assert created.value.retryable and created.value.unsure
    assert read.value.retryable and not read.value.unsure
    server.close()
    await server.wait_closed()
    provider = ReplicateProvider(TOKEN, base_url=base)  # nobody listens there now
    with pytest.raises(ProviderError) as refused:
        await provider.create(MODEL, {"prompt": "x"})
    await provider.aclose()
    assert refused.value.retryable and not refused.value.unsure


# -- downloads ------------------------------------------------------------------------------


def _names(directory: Path) -> list[str]:
    return sorted(path.name for path in directory.iterdir())


async def _succeeded(fake: FakeReplicate, replicate: ReplicateProvider, model: FakeModel) -> str:
    fake.add_model(MODEL, model)
    created = await replicate.create(MODEL, {"prompt": "x"})
    fake.finish(created.id)
    (url,) = (await replicate.get(created.id)).output
    return url


async def test_download_streams_the_output(
    fake: FakeReplicate, replicate: ReplicateProvider, samples: Samples, tmp_path: Path
) -> None:
    big = samples.mp4 * 8  # several chunks on the wire
    url = await _succeeded(fake, replicate, FakeModel(files={"clip.mp4": big}))
    dest = tmp_path / "nested" / "clip.mp4"
    assert await replicate.download(url, dest) == dest
    assert dest.read_bytes() == big
    assert _names(dest.parent) == ["clip.mp4"]
    (call,) = fake.calls("GET", httpx.URL(url).path)
    assert "authorization" not in call.headers  # the token stays with the API


async def test_download_data_uri(
    fake: FakeReplicate, replicate: ReplicateProvider, samples: Samples, tmp_path: Path
) -> None:
    url = await _succeeded(fake, replicate, FakeModel(files={"a.png": samples.png}, data_uri=True))
    assert url.startswith("data:image/png;base64,")
    dest = await replicate.download(url, tmp_path / "a.png")
    assert dest.read_bytes() == samples.png


@pytest.mark.parametrize("status", [404, 410])
async def test_expired_output_is_final(
    fake: FakeReplicate, replicate: ReplicateProvider, tmp_path: Path, status: int
) -> None:
    url = await _succeeded(fake, replicate, FakeModel(files={"a.png": b"png"}))
    fake.expire(status=status)
    with pytest.raises(ProviderError) as caught:
        await replicate.download(url, tmp_path / "a.png")
    assert not caught.value.retryable
    assert f"({status})" in str(caught.value)
    assert _names(tmp_path) == []


async def test_download_failures_are_retryable_and_leave_nothing(
    fake: FakeReplicate, replicate: ReplicateProvider, samples: Samples, tmp_path: Path
) -> None:
    url = await _succeeded(fake, replicate, FakeModel(files={"clip.mp4": samples.mp4 * 8}))
    fake.fail_next("file", 502)
    fake.truncate_next_file()
    for _ in range(2):  # a 502, then a body cut off midway
        with pytest.raises(ProviderError) as caught:
            await replicate.download(url, tmp_path / "clip.mp4")
        assert caught.value.retryable
        assert _names(tmp_path) == []
    await replicate.download(url, tmp_path / "clip.mp4")
    assert (tmp_path / "clip.mp4").read_bytes() == samples.mp4 * 8


@pytest.mark.parametrize("url", ["file:///etc/passwd", "data:image/png;base64,@@@", "data:x"])
async def test_download_refuses_bad_urls(
    replicate: ReplicateProvider, tmp_path: Path, url: str
) -> None:
    with pytest.raises(ProviderError) as caught:
        await replicate.download(url, tmp_path / "out")
    assert not caught.value.retryable


# -- webhooks -------------------------------------------------------------------------------


async def test_webhooks_arrive_signed_in_order(
    fake: FakeReplicate,
    replicate: ReplicateProvider,
    receiver: tuple[Received, str],
) -> None:
    received, hook_url = receiver
    received.clear()
    fake.add_model(MODEL, FakeModel(steps=1))
    created = await replicate.create(MODEL, {"prompt": "x"}, webhook_url=hook_url)
    while not fake.prediction(created.id).terminal:
        fake.advance(created.id)
    await fake.webhooks_sent()

    # We ask for start, logs and completed: no delivery per partial output.
    assert [d.event for d in fake.deliveries] == ["start", "logs", "logs", "completed"]
    assert all(d.status == 204 and d.attempts == 1 for d in fake.deliveries)
    parsed = [replicate.parse_webhook(headers, body) for headers, body in received]
    assert [p.status for p in parsed] == ["starting", "processing", "processing", "succeeded"]
    assert [p.progress for p in parsed] == [None, 0.0, 1.0, 1.0]
    assert parsed[-1].output != []
    assert parsed[-1].id == created.id


def _delivery(secret: str = SECRET, *, age: int = 0, body: bytes | None = None) -> Signed:
    body = body if body is not None else json.dumps({"id": "p1", "status": "succeeded"}).encode()
    return sign_webhook(secret, "msg_1", int(time.time()) - age, body), body


def test_webhook_accepted(replicate: ReplicateProvider) -> None:
    headers, body = _delivery(age=200)
    headers = {k.title(): v for k, v in headers.items()}  # header names in any case
    prediction = replicate.parse_webhook(headers, body)
    assert (prediction.id, prediction.status) == ("p1", PredictionStatus.SUCCEEDED)


def test_webhook_accepts_any_of_several_signatures(replicate: ReplicateProvider) -> None:
    headers, body = _delivery()
    forged = _delivery(new_webhook_secret())[0]["webhook-signature"]
    headers["webhook-signature"] = f"{forged} {headers['webhook-signature']}"
    assert replicate.parse_webhook(headers, body).id == "p1"


def _forged() -> Signed:
    return _delivery(new_webhook_secret())


def _stale() -> Signed:
    return _delivery(age=6 * 60)


def _future() -> Signed:
    return _delivery(age=-6 * 60)


def _tampered() -> Signed:
    headers, _ = _delivery()
    return headers, json.dumps({"id": "p1", "status": "failed"}).encode()


def _without(name: str) -> Signed:
    headers, body = _delivery()
    del headers[name]
    return headers, body


def _garbled() -> Signed:
    headers, body = _delivery()
    return {**headers, "webhook-signature": "v1,not base64!! nonsense"}, body


def _not_json() -> Signed:
    return _delivery(body=b"<html>")


def _not_a_prediction() -> Signed:
    return _delivery(body=b'{"id": "p1", "status": "exploded"}')


@pytest.mark.parametrize(
    "make",
    [
        _forged,
        _stale,
        _future,
        _tampered,
        lambda: _without("webhook-id"),
        lambda: _without("webhook-timestamp"),
        lambda: _without("webhook-signature"),
        _garbled,
        _not_json,
        _not_a_prediction,
    ],
)
def test_webhook_rejected(replicate: ReplicateProvider, make: Callable[[], Signed]) -> None:
    headers, body = make()
    with pytest.raises(WebhookError):
        replicate.parse_webhook(headers, body)


async def test_webhook_needs_a_secret() -> None:
    provider = ReplicateProvider(TOKEN)
    headers, body = _delivery()
    with pytest.raises(WebhookError):
        provider.parse_webhook(headers, body)
    await provider.aclose()


async def test_fetch_webhook_secret(replicate: ReplicateProvider) -> None:
    assert await replicate.fetch_webhook_secret() == SECRET


async def test_fake_retries_webhooks_the_receiver_refuses(
    fake: FakeReplicate, replicate: ReplicateProvider, receiver: tuple[Received, str]
) -> None:
    fake.add_model(MODEL)
    created = await replicate.create(MODEL, {"prompt": "x"}, webhook_url=receiver[1] + "-missing")
    fake.finish(created.id)
    await fake.webhooks_sent()
    started, delivery = fake.deliveries
    assert (started.event, started.status, started.attempts) == ("start", 404, 1)
    assert (delivery.event, delivery.status, delivery.attempts) == ("completed", 404, 3)
