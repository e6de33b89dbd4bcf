"""End to end on the `replicate` provider: our real HTTP client against a loopback server
that speaks Replicate's documented API, with signed webhooks, 429s and failures."""

from __future__ import annotations

import asyncio
import json
import logging
import time
import uuid
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from arq.jobs import Job as ArqJob
from arq.jobs import JobStatus as ArqStatus
from starlette.applications import Starlette

from gql.app import create_app
from services.generation import submit, tasks, webhook_urls
from services.media.probe import probe
from services.providers.replicate import ReplicateProvider
from services.settings import Settings
from tests.client import GraphQLClient, decode_gid
from tests.conftest import issue_key
from tests.creative.workflow import CREATE_BRIEF, write_storyboard
from tests.fakes.replicate import FakeModel, FakeReplicate, new_webhook_secret, sign_webhook
from tests.fakes.server import serve_app
from tests.jobs import (
    CANCEL,
    GENERATE_IMAGE,
    GENERATE_VIDEO,
    JOB_FIELDS,
    PAIR_VIDEO,
    job,
    launch,
    wait_for_job,
)
from tests.rates import UNLIMITED_RATES
from tests.samples import Samples

TOKEN = "r8_e2e_token"
SECRET = new_webhook_secret()
IMAGE_MODEL = "google/nano-banana"
VIDEO_MODEL = "bytedance/seedance-1-lite"


@pytest.fixture(scope="module")
async def fake_server() -> AsyncIterator[tuple[FakeReplicate, str]]:
    fake = FakeReplicate(TOKEN, SECRET)
    async with serve_app(fake.app) as base_url:
        yield fake, base_url
    await fake.aclose()


@pytest.fixture(scope="module")
async def served(
    fake_server: tuple[FakeReplicate, str],
    tmp_path_factory: pytest.TempPathFactory,
    database_url: str | None,
    settings: Settings,
) -> AsyncIterator[tuple[Starlette, str]]:
    app_settings = Settings(
        **UNLIMITED_RATES,
        data_dir=tmp_path_factory.mktemp("replicate-app"),
        database_url=database_url,
        redis_url=settings.redis_url,
        redis_prefix=f"reelgraph-rep-{uuid.uuid4().hex[:8]}",
        run_worker=True,
        generation_provider="replicate",
        replicate_api_token=TOKEN,
        replicate_api_base=f"{fake_server[1]}/v1",
        replicate_webhook_secret=SECRET,
        poll_initial_seconds=0.05,
        poll_max_seconds=0.2,
        retry_backoff_seconds=0.05,
        max_attempts=3,
    )
    app = create_app(app_settings)
    async with serve_app(app) as base_url:
        app_settings.public_url = base_url  # providers send webhooks here
        yield app, base_url


@pytest.fixture
async def fake(fake_server: tuple[FakeReplicate, str], samples: Samples) -> FakeReplicate:
    replicate = fake_server[0]
    await replicate.reset()
    replicate.add_model(IMAGE_MODEL, FakeModel(mode="timed", duration=0.05,
                                               files={"out.png": samples.png}))  # fmt: skip
    replicate.add_model(VIDEO_MODEL, FakeModel(mode="timed", duration=0.1,
                                               files={"out.mp4": samples.mp4}))  # fmt: skip
    return replicate


@pytest.fixture
async def client(served: tuple[Starlette, str]) -> AsyncIterator[GraphQLClient]:
    app, base_url = served
    async with httpx.AsyncClient(base_url=base_url, timeout=30) as http:
        yield GraphQLClient(http, await issue_key(app.state.runtime))


@pytest.fixture
def app(served: tuple[Starlette, str]) -> Starlette:
    return served[0]


async def _campaign_with_images(client: GraphQLClient, samples: Samples, n: int) -> str:
    client_id = await client.create_client(f"Brand {uuid.uuid4().hex[:4]}")
    campaign = await client.create_campaign(client_id, "Replicate")
    for i in range(n):
        await client.upload_ok(samples.png + bytes([i]), f"{i}.png", campaign_id=campaign)
    return campaign


def _creates(fake: FakeReplicate, model: str) -> list[Any]:
    return fake.calls("POST", f"/v1/models/{model}/predictions")


async def test_pair_video_with_webhooks(
    client: GraphQLClient, app: Starlette, fake: FakeReplicate, samples: Samples, tmp_path: Path
) -> None:
    campaign = await _campaign_with_images(client, samples, 4)
    queued = await launch(
        client, PAIR_VIDEO, campaignId=campaign, numPairs=3, clipDuration=2, transition="fade"
    )
    done = await wait_for_job(client, app, queued["id"])
    assert done["status"] == "SUCCEEDED", (done["error"], [s["error"] for s in done["subJobs"]])
    creates = _creates(fake, VIDEO_MODEL)
    assert len(creates) == 3, "one prediction per clip, none paid twice"
    body = creates[0].body
    assert "/webhooks/replicate?sub=" in body["webhook"], "it names the sub-job"
    assert set(body["input"]) >= {"prompt", "image", "last_frame_image", "duration"}
    assert body["input"]["duration"] == 2
    assert creates[0].headers["cancel-after"]
    await fake.webhooks_sent()
    assert {d.status for d in fake.deliveries} == {200}
    response = await client.http.get(done["outputAsset"]["url"])
    (tmp_path / "final.mp4").write_bytes(response.content)
    info = await probe(tmp_path / "final.mp4", use_ffprobe=True)
    assert info.duration_seconds is not None
    assert abs(info.duration_seconds - (3 * 2 - 2 * 0.5)) <= 1 / 25 + 1e-3


async def test_polling_without_webhooks_and_429_on_create(
    client: GraphQLClient, app: Starlette, fake: FakeReplicate, samples: Samples
) -> None:
    settings = app.state.runtime.settings
    public_url, settings.public_url = settings.public_url, None
    try:
        fake.models[IMAGE_MODEL].mode = "per_poll"
        fake.fail_next("create", 429, times=2, retry_after="0")
        campaign = await _campaign_with_images(client, samples, 0)
        queued = await launch(client, GENERATE_IMAGE, campaignId=campaign, prompt="a shoe")
        done = await wait_for_job(client, app, queued["id"])
    finally:
        settings.public_url = public_url
    assert done["status"] == "SUCCEEDED", done["subJobs"]
    assert len(_creates(fake, IMAGE_MODEL)) == 3, "two 429s, retried with Retry-After"
    assert "webhook" not in _creates(fake, IMAGE_MODEL)[-1].body
    assert fake.calls("GET", f"/v1/predictions/{sub_prediction(fake)}"), "it polled"
    assert done["outputAsset"]["mimeType"] == "image/png"


def sub_prediction(fake: FakeReplicate) -> str:
    (prediction_id,) = fake.predictions
    return prediction_id


async def test_failed_predictions_retry_then_fail_with_the_reason(
    client: GraphQLClient, app: Starlette, fake: FakeReplicate, samples: Samples
) -> None:
    fake.models[IMAGE_MODEL].outcome = "failed"
    fake.models[IMAGE_MODEL].error = "NSFW content detected"
    campaign = await _campaign_with_images(client, samples, 0)
    queued = await launch(client, GENERATE_IMAGE, campaignId=campaign, prompt="a shoe")
    done = await wait_for_job(client, app, queued["id"])
    assert done["status"] == "FAILED"
    (sub,) = done["subJobs"]
    assert (sub["status"], sub["attempts"]) == ("FAILED", 3)
    assert "NSFW content detected" in sub["error"]
    assert sub["errorCode"] == "PROVIDER_ERROR"
    assert done["outputAsset"] is None
    assert len(_creates(fake, IMAGE_MODEL)) == 3


@pytest.mark.parametrize("garbage", ["not a url", {"weird": 1}, "bytes"])
async def test_garbage_output_fails_the_sub_job(
    client: GraphQLClient, app: Starlette, fake: FakeReplicate, samples: Samples, garbage: Any
) -> None:
    model = fake.models[IMAGE_MODEL]
    if garbage == "bytes":
        model.files = {"out.png": b"this is not an image at all"}
    else:
        model.output = garbage
    campaign = await _campaign_with_images(client, samples, 0)
    queued = await launch(client, GENERATE_IMAGE, campaignId=campaign, prompt="a shoe")
    done = await wait_for_job(client, app, queued["id"])
    assert done["status"] == "FAILED"
    (sub,) = done["subJobs"]
    assert sub["status"] == "FAILED"
    assert sub["error"]
    expected = "BAD_OUTPUT" if garbage == "bytes" else "PROVIDER_ERROR"
    assert sub["errorCode"] == expected
    assets = await client.execute(
        "query($id: ID!) { node(id: $id) { ... on Campaign { assets { totalCount } } } }",
        {"id": campaign},
    )
    assert assets["node"]["assets"]["totalCount"] == 0, "nothing half-written"


async def test_cancel_stops_the_prediction(
    client: GraphQLClient, app: Starlette, fake: FakeReplicate, samples: Samples
) -> None:
    fake.models[VIDEO_MODEL].mode = "manual"
    campaign = await _campaign_with_images(client, samples, 1)
    image = await client.execute(
        "query($id: ID!) { node(id: $id) { ... on Campaign { assets { nodes { id } } } } }",
        {"id": campaign},
    )
    image_id = image["node"]["assets"]["nodes"][0]["id"]
    queued = await launch(client, GENERATE_VIDEO, campaignId=campaign, imageAssetId=image_id)
    await fake.wait_for(lambda: len(fake.predictions) == 1, within=30)
    prediction_id = sub_prediction(fake)
    await wait_for_job(client, app, queued["id"], statuses={"RUNNING"})
    payload = await client.mutate(CANCEL, {"input": {"jobId": queued["id"]}})
    assert payload["job"]["status"] == "CANCELED"
    assert payload["job"]["subJobs"][0]["status"] == "CANCELED"
    await fake.wait_status(prediction_id, "canceled")
    again = await client.mutate(CANCEL, {"input": {"jobId": queued["id"]}})
    assert again["code"] == "CONFLICT"


async def test_webhooks_are_verified_and_deduplicated(
    served: tuple[Starlette, str], fake: FakeReplicate
) -> None:
    _, base_url = served
    body = json.dumps({"id": "unknown", "status": "succeeded", "output": None}).encode()
    good = sign_webhook(SECRET, "msg_1", int(__import__("time").time()), body)
    async with httpx.AsyncClient(base_url=base_url) as http:
        forged = {**good, "webhook-signature": "v1,AAAA"}
        assert (
            await http.post("/webhooks/replicate", content=body, headers=forged)
        ).status_code == 401
        stale = sign_webhook(SECRET, "msg_2", 1_000_000, body)
        assert (
            await http.post("/webhooks/replicate", content=body, headers=stale)
        ).status_code == 401
        first = await http.post("/webhooks/replicate", content=body, headers=good)
        assert first.json() == {"status": "unknown prediction"}
        replay = await http.post("/webhooks/replicate", content=body, headers=good)
        assert replay.json() == {"status": "duplicate"}


async def test_per_provider_concurrency_limit(
    client: GraphQLClient, app: Starlette, fake: FakeReplicate, samples: Samples
) -> None:
    settings = app.state.runtime.settings
    limit, settings.provider_concurrency = settings.provider_concurrency, 2
    try:
        fake.models[VIDEO_MODEL].mode = "manual"
        campaign = await _campaign_with_images(client, samples, 5)
        queued = await launch(client, PAIR_VIDEO, campaignId=campaign, numPairs=4, clipDuration=2)
        await fake.wait_for(lambda: len(fake.predictions) == 2, within=30)
        current = await wait_for_job(client, app, queued["id"], statuses={"RUNNING"})
        waiting = [s for s in current["subJobs"] if s["status"] == "QUEUED"]
        assert len(waiting) == 2, "two sub-jobs wait for a free slot"
        for prediction_id in list(fake.predictions)[:2]:
            fake.finish(prediction_id, "succeeded")
        await fake.wait_for(lambda: len(fake.predictions) == 4, within=30)
        for prediction_id in list(fake.predictions)[2:]:
            fake.finish(prediction_id, "succeeded")
        done = await wait_for_job(client, app, queued["id"])
    finally:
        settings.provider_concurrency = limit
    assert done["status"] == "SUCCEEDED", done["error"]
    assert len(_creates(fake, VIDEO_MODEL)) == 4
    assert fake.peak_running == 2, "never more than the limit at once"


async def _image_job_held(
    client: GraphQLClient, fake: FakeReplicate, samples: Samples
) -> tuple[str, uuid.UUID]:
    """Launch an image job and wait until its create reached the fake (which holds it):
    the job's id and its one sub-job's."""
    campaign = await _campaign_with_images(client, samples, 0)
    queued = await launch(client, GENERATE_IMAGE, campaignId=campaign, prompt="a shoe")
    await fake.wait_for(lambda: len(_creates(fake, IMAGE_MODEL)) == 1)
    (sub,) = (await job(client, queued["id"]))["subJobs"]
    assert sub["status"] == "SUBMITTED"
    return queued["id"], decode_gid(sub["id"])


async def _task_ended(broker: Any, task_id: str, unless: Callable[[], bool] = bool) -> None:
    """Wait until the worker is done with arq task `task_id` (or `unless()` holds)."""
    task = ArqJob(task_id, broker.pool, _queue_name=broker.queue_name)
    ended = (ArqStatus.complete, ArqStatus.not_found)
    async with asyncio.timeout(30):
        while not unless() and await task.status() not in ended:  # noqa: ASYNC110 - no event
            await asyncio.sleep(0.02)


async def test_throttled_creates_cost_no_attempt(
    client: GraphQLClient, app: Starlette, fake: FakeReplicate, samples: Samples
) -> None:
    # Each try makes 4 POSTs (3 short 429s are waited out inline); three tries are
    # throttled in full, more than max_attempts (3), then the account has room again.
    fake.fail_next("create", 429, times=12, retry_after="0")
    campaign = await _campaign_with_images(client, samples, 0)
    queued = await launch(client, GENERATE_IMAGE, campaignId=campaign, prompt="a shoe")
    done = await wait_for_job(client, app, queued["id"])
    assert done["status"] == "SUCCEEDED", done["subJobs"]
    (sub,) = done["subJobs"]
    assert sub["attempts"] == 1, "a 429 started nothing, so it used up no attempt"
    assert len(_creates(fake, IMAGE_MODEL)) == 13
    assert len(fake.predictions) == 1


async def test_a_second_run_leaves_a_create_under_way_alone(
    client: GraphQLClient, app: Starlette, fake: FakeReplicate, samples: Samples
) -> None:
    fake.hold_creates()
    job_id, sub_id = await _image_job_held(client, fake, samples)

    # What the reconciler does for a sub-job it takes for lost: run it again, under
    # another task id than the one still creating its prediction.
    broker = app.state.broker
    duplicate = f"run:{sub_id}:again"
    assert await broker.enqueue(tasks.RUN_SUB_JOB, str(sub_id), job_id=duplicate)
    await _task_ended(broker, duplicate, unless=lambda: len(_creates(fake, IMAGE_MODEL)) > 1)
    assert len(_creates(fake, IMAGE_MODEL)) == 1, "the second run must not create again"

    fake.release_creates()
    done = await wait_for_job(client, app, job_id)
    assert done["status"] == "SUCCEEDED", done["subJobs"]
    assert done["subJobs"][0]["attempts"] == 1
    assert len(fake.predictions) == 1, "one prediction paid for"


async def test_a_create_whose_answer_was_lost_is_adopted_from_its_webhook(
    client: GraphQLClient, app: Starlette, fake: FakeReplicate, samples: Samples
) -> None:
    fake.models[IMAGE_MODEL].mode = "manual"
    fake.hold_answers()
    job_id, sub_id = await _image_job_held(client, fake, samples)
    await fake.wait_for(lambda: len(fake.predictions) == 1)
    named = parse_qs(urlsplit(_creates(fake, IMAGE_MODEL)[0].body["webhook"]).query)
    assert (named["sub"], named["try"]) == ([str(sub_id)], ["1"]), "it names sub-job and try"

    # The worker dies in the call: Replicate made the prediction, we never heard its id.
    broker = app.state.broker
    running = f"run:{sub_id}:0"
    await broker.abort(running)
    await _task_ended(broker, running)
    fake.release_creates()
    (prediction_id,) = fake.predictions
    fake.finish(prediction_id, "succeeded")  # its signed webhook names the sub-job

    done = await wait_for_job(client, app, job_id, timeout=30)
    assert done["status"] == "SUCCEEDED", done["subJobs"]
    assert done["subJobs"][0]["attempts"] == 1
    assert len(_creates(fake, IMAGE_MODEL)) == 1, "followed, not paid for again"


async def test_only_a_signed_name_of_the_waiting_attempt_adopts(
    client: GraphQLClient, app: Starlette, fake: FakeReplicate, samples: Samples
) -> None:
    fake.hold_creates()  # the sub-job waits for its create's answer, with no prediction
    job_id, sub_id = await _image_job_held(client, fake, samples)
    settings = app.state.runtime.settings
    current = webhook_urls.webhook_url(settings, "replicate", sub_id, 1)
    earlier = webhook_urls.webhook_url(settings, "replicate", sub_id, 0)
    assert current and earlier

    async def deliver(url: str, prediction_id: str) -> Any:
        body = json.dumps({"id": prediction_id, "status": "processing", "model": IMAGE_MODEL})
        headers = sign_webhook(SECRET, f"msg_{prediction_id}", int(time.time()), body.encode())
        async with httpx.AsyncClient() as http:
            return (await http.post(url, content=body, headers=headers)).json()

    forged = current.replace("sig=", "sig=0")
    assert await deliver(forged, "forged-name") == {"status": "unknown prediction"}
    assert await deliver(earlier, "earlier-try") == {"status": "unknown prediction"}
    # Named rightly but for an attempt that is over: nobody wants it, so it is canceled.
    await fake.wait_for(lambda: bool(fake.calls("POST", "/v1/predictions/earlier-try/cancel")))
    assert not fake.calls("POST", "/v1/predictions/forged-name/cancel")

    fake.release_creates()
    done = await wait_for_job(client, app, job_id, timeout=30)
    assert done["status"] == "SUCCEEDED", done["subJobs"]
    assert len(_creates(fake, IMAGE_MODEL)) == 1


async def test_creates_that_keep_getting_lost_end_the_sub_job(
    client: GraphQLClient,
    app: Starlette,
    fake: FakeReplicate,
    samples: Samples,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    settings = app.state.runtime.settings
    monkeypatch.setattr(settings, "max_attempts", 1)
    monkeypatch.setattr(settings, "public_url", None)  # no webhook will name the prediction
    monkeypatch.setattr(submit, "SUBMIT_LOST_SECONDS", 0)  # every create is "long lost"
    fake.hold_answers()
    job_id, sub_id = await _image_job_held(client, fake, samples)
    await fake.wait_for(lambda: len(fake.predictions) == 1)
    # The reconciler's second run finds the only attempt's create unanswered: it fails
    # the sub-job rather than create again, and again.
    broker = app.state.broker
    await broker.enqueue(tasks.RUN_SUB_JOB, str(sub_id), job_id=f"run:{sub_id}:again")
    done = await wait_for_job(client, app, job_id, timeout=30)
    fake.release_creates()
    assert done["status"] == "FAILED"
    assert (done["subJobs"][0]["errorCode"], done["subJobs"][0]["attempts"]) == (
        "PROVIDER_ERROR",
        1,
    )
    assert "no answer to 1 creates" in done["subJobs"][0]["error"]
    assert len(_creates(fake, IMAGE_MODEL)) == 1


class Bug(RuntimeError):
    """What a bug raises."""


@pytest.mark.parametrize("stage", ["get", "download", "parse_prediction"])
async def test_a_bug_while_following_a_prediction_fails_after_the_attempts(
    client: GraphQLClient,
    app: Starlette,
    fake: FakeReplicate,
    samples: Samples,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    stage: str,
) -> None:
    """A bug in a poll (`get`), a download, or a webhook's worker half (`parse_prediction`)
    counts as a failed attempt (tests/test_generation_faults.py has the rest)."""
    settings = app.state.runtime.settings
    if stage == "get":  # polls lead: no webhooks, and the prediction runs until polled
        monkeypatch.setattr(settings, "public_url", None)
        fake.models[IMAGE_MODEL].mode = "per_poll"

    def bug(*args: Any, **kwargs: Any) -> Any:
        raise Bug(f"a bug in {stage}")

    async def async_bug(*args: Any, **kwargs: Any) -> Any:
        bug()

    monkeypatch.setattr(ReplicateProvider, stage, bug if stage == "parse_prediction" else async_bug)
    caplog.set_level(logging.INFO)
    campaign = await _campaign_with_images(client, samples, 0)
    queued = await launch(client, GENERATE_IMAGE, campaignId=campaign, prompt="a shoe")
    done = await wait_for_job(client, app, queued["id"], timeout=60)

    assert done["status"] == "FAILED"
    (sub,) = done["subJobs"]
    assert (sub["errorCode"], sub["attempts"]) == ("INTERNAL_ERROR", settings.max_attempts)
    assert sub["error"].startswith("an internal error (ref "), sub["error"]
    assert len(_creates(fake, IMAGE_MODEL)) == settings.max_attempts
    if stage == "get":  # nobody follows an abandoned prediction: it is canceled
        for prediction_id in fake.predictions:
            await fake.wait_status(prediction_id, "canceled")
    reports = [r for r in caplog.records if r.name == "services.generation.faults"]
    assert [bool(r.exc_info) for r in reports] == [True] + [False] * (settings.max_attempts - 1)
    assert not [r for r in caplog.records if r.name.startswith("arq") and r.exc_info]


async def test_storyboard_renders_through_replicate(
    client: GraphQLClient, app: Starlette, fake: FakeReplicate, samples: Samples, tmp_path: Path
) -> None:
    fake.add_model("meta/musicgen", FakeModel(mode="timed", duration=0.05,
                                              files={"bed.wav": samples.wav}))  # fmt: skip
    campaign = await _campaign_with_images(client, samples, 1)
    created = await client.mutate(CREATE_BRIEF, {"input": {
        "campaignId": campaign, "product": "Aurora", "durationSeconds": 8,
        "musicStyle": "warm lo-fi beat",
    }})  # fmt: skip
    _, board = await write_storyboard(client, app, created["brief"]["id"])
    scenes = board["scenes"]
    assert [s["durationSeconds"] for s in scenes] == [4, 4]
    approve = f"""mutation($input: ApproveStoryboardInput!) {{ approveStoryboard(input: $input) {{
      __typename ... on StoryboardRenderPayload {{ job {{ {JOB_FIELDS} }} }}
      ... on Error {{ code message }} }} }}"""
    payload = await client.mutate(
        approve, {"input": {"storyboardId": board["id"], "expectedVersion": 1}}
    )
    assert payload["__typename"] == "StoryboardRenderPayload", payload
    done = await wait_for_job(client, app, payload["job"]["id"])
    assert done["status"] == "SUCCEEDED", (done["error"], [s["error"] for s in done["subJobs"]])
    clips = _creates(fake, VIDEO_MODEL)
    assert [c.body["input"]["duration"] for c in clips] == [4, 4]
    assert all(c.body["input"]["image"].startswith("http") for c in clips)  # a signed URL
    (music,) = _creates(fake, "meta/musicgen")
    assert music.body["input"]["prompt"] == "warm lo-fi beat"
    assert music.body["input"]["duration"] == 8
    response = await client.http.get(done["outputAsset"]["url"])
    (tmp_path / "ad.mp4").write_bytes(response.content)
    info = await probe(tmp_path / "ad.mp4", use_ffprobe=True)
    assert info.has_video and info.has_audio
