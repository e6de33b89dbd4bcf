from __future__ import annotations

import email.utils
import io
import json
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from PIL import Image

from services.pairing.base import CampaignBrief, ImageCandidate, PairingError
from services.pairing.xai import DEFAULT_MODEL, XaiPairSelector, parse_retry_after
from tests.fakes.server import serve_app
from tests.fakes.xai import FakeXai
from tests.pairing import make_image

BASE = "http://xai.test/v1"
BRIEF = CampaignBrief(
    client_name="Acme",
    campaign_name="Spring launch",
    goal="Drive sign-ups for the spring trial",
    audience="Runners aged 25-40",
    product_url="https://acme.example/shoes",
    tone="energetic",
    colors=["Acme red #E10600", "navy"],
    dos=["Show the product in motion"],
    donts=["No competitor logos"],
)


@pytest.fixture
def fake() -> FakeXai:
    return FakeXai()


@pytest.fixture
async def http(fake: FakeXai) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=fake.app())
    async with httpx.AsyncClient(transport=transport, base_url="http://xai.test") as client:
        yield client


@pytest.fixture
def selector(fake: FakeXai, http: httpx.AsyncClient) -> XaiPairSelector:
    return XaiPairSelector(fake.api_key, base_url=BASE, http=http)


@pytest.fixture
def four(tmp_path: Path) -> list[ImageCandidate]:
    return [
        make_image(tmp_path, "red", (200, 30, 30)),
        make_image(tmp_path, "blue", (30, 40, 200), ext="jpg"),
        make_image(tmp_path, "green", (30, 190, 40)),
        make_image(tmp_path, "yellow", (240, 220, 30), ext="jpg"),
    ]


def _answer(pairs: Any) -> str:
    return json.dumps({"pairs": pairs})


def _pair(first: Any, last: Any, score: Any = 0.8, reason: Any = "good match") -> dict[str, Any]:
    return {"first": first, "last": last, "score": score, "reason": reason}


async def test_good_answer_maps_indices_to_assets_in_play_order(
    selector: XaiPairSelector, four: list[ImageCandidate]
) -> None:
    choices = await selector.select(four, BRIEF, 2)

    # the fake answers (1 -> 0), (3 -> 2), ...: order and direction are the model's
    assert [(c.first, c.last) for c in choices] == [
        (four[1].asset_id, four[0].asset_id),
        (four[3].asset_id, four[2].asset_id),
    ]
    assert [c.score for c in choices] == [0.95, 0.94]
    assert choices[0].reason == "image 1 to 0"


async def test_request_shows_every_image_with_the_brief(
    selector: XaiPairSelector, fake: FakeXai, four: list[ImageCandidate]
) -> None:
    await selector.select(four, BRIEF, 2)

    [body] = fake.requests
    assert body["model"] == DEFAULT_MODEL
    schema = body["response_format"]["json_schema"]
    assert schema["strict"] is True
    assert schema["schema"]["properties"]["pairs"]["items"]["required"] == [
        "first",
        "last",
        "score",
        "reason",
    ]
    system, user = body["messages"]
    assert system["role"] == "system"
    assert "FIRST frame" in system["content"]
    texts = [p["text"] for p in user["content"] if p["type"] == "text"]
    parts = [p for p in user["content"] if p["type"] == "image_url"]
    brief = texts[0]
    for expected in (
        "Drive sign-ups for the spring trial",
        "Runners aged 25-40",
        "https://acme.example/shoes",
        "energetic",
        "Acme red #E10600",
        "Show the product in motion",
        "No competitor logos",
        "Choose 2 ordered pairs",
    ):
        assert expected in brief
    assert texts[1:] == ["Image 0:", "Image 1:", "Image 2:", "Image 3:"]
    assert all(p["image_url"]["detail"] == "high" for p in parts)
    assert [mime for mime, _ in fake.images] == ["image/png", "image/jpeg"] * 2


async def test_jpg_and_png_are_sent_as_they_are(
    selector: XaiPairSelector, fake: FakeXai, four: list[ImageCandidate]
) -> None:
    await selector.select(four, BRIEF, 1)

    assert [data for _, data in fake.images] == [i.path.read_bytes() for i in four]


async def test_other_formats_and_large_images_go_as_resized_jpeg(
    selector: XaiPairSelector, fake: FakeXai, tmp_path: Path
) -> None:
    images = [
        make_image(tmp_path, "webp", (200, 30, 30), ext="webp", size=(300, 200)),
        make_image(tmp_path, "gif", (30, 40, 200), ext="gif", size=(120, 80)),
        make_image(tmp_path, "wide", (30, 190, 40), size=(3000, 600)),
        make_image(tmp_path, "unknown", (240, 220, 30), known_size=False),
    ]

    await selector.select(images, BRIEF, 2)

    assert [mime for mime, _ in fake.images] == ["image/jpeg"] * 4
    sizes = [Image.open(io.BytesIO(data)).size for _, data in fake.images]
    assert sizes == [(300, 200), (120, 80), (2048, 410), (96, 64)]
    red = Image.open(io.BytesIO(fake.images[0][1])).convert("RGB").getpixel((150, 100))
    assert isinstance(red, tuple)
    r, g, b = red[:3]
    assert r > 150
    assert max(g, b) < 80


async def test_duplicates_are_dropped_and_scores_clamped(
    selector: XaiPairSelector, fake: FakeXai, four: list[ImageCandidate]
) -> None:
    fake.content = _answer(
        [_pair(0, 1, 1.7), _pair(0, 1, 0.2), _pair(2, 3, -0.5, "  lands on yellow  ")]
    )

    choices = await selector.select(four, BRIEF, None)

    assert [(c.first, c.last, c.score, c.reason) for c in choices] == [
        (four[0].asset_id, four[1].asset_id, 1.0, "good match"),
        (four[2].asset_id, four[3].asset_id, 0.0, "lands on yellow"),
    ]


async def test_extra_pairs_are_cut_to_the_request(
    selector: XaiPairSelector, four: list[ImageCandidate]
) -> None:
    choices = await selector.select(four, BRIEF, 3)

    assert len(choices) == 3


async def test_num_pairs_is_capped_by_the_images(
    selector: XaiPairSelector, fake: FakeXai, tmp_path: Path
) -> None:
    images = [make_image(tmp_path, "a", (0, 0, 0)), make_image(tmp_path, "b", (9, 9, 9))]

    choices = await selector.select(images, BRIEF, 50)

    assert {(c.first, c.last) for c in choices} == {
        (images[0].asset_id, images[1].asset_id),
        (images[1].asset_id, images[0].asset_id),
    }
    assert "Choose 2 ordered pairs" in fake.requests[0]["messages"][1]["content"][0]["text"]


@pytest.mark.parametrize(
    ("content", "finish_reason", "expected"),
    [
        ("Sure! Red goes with blue.", "stop", "not valid JSON"),
        ('{"pairs": [', "stop", "not valid JSON"),
        ('{"pairs": [{"first": 0, "last": 1,', "length", "cut off"),
        ("", "stop", "empty"),
        ("[]", "stop", '"pairs" list'),
        ('{"pairs": {}}', "stop", '"pairs" list'),
        ('{"pairs": [], "extra": 1}', "stop", '"pairs" list'),
        (_answer([]), "stop", "no pairs"),
        (_answer([[0, 1, 0.5, "x"]]), "stop", "pair 0 is not an object"),
        (_answer([{"first": 0, "last": 1, "score": 0.5}]), "stop", "pair 0 is not an object"),
        (_answer([_pair(0, 1), _pair(2, 4)]), "stop", "pair 1: last image index 4 is out of range"),
        (_answer([_pair(-1, 1)]), "stop", "first image index -1 is out of range"),
        (_answer([_pair(2, 2)]), "stop", "first and last are the same image"),
        (_answer([_pair("0", 1)]), "stop", "first is not an integer"),
        (_answer([_pair(0, 1.0)]), "stop", "last is not an integer"),
        (_answer([_pair(True, 1)]), "stop", "first is not an integer"),
        (_answer([_pair(0, 1, "high")]), "stop", "score is not a finite number"),
        ('{"pairs": [{"first": 0, "last": 1, "score": NaN, "reason": "x"}]}', "stop", "finite"),
        (_answer([_pair(0, 1, 0.5, "   ")]), "stop", "reason is empty"),
        (_answer([_pair(0, 1, 0.5, None)]), "stop", "reason is empty"),
    ],
)
async def test_invalid_answers_are_refused(
    selector: XaiPairSelector,
    fake: FakeXai,
    four: list[ImageCandidate],
    content: str,
    finish_reason: str,
    expected: str,
) -> None:
    fake.content, fake.finish_reason = content, finish_reason

    with pytest.raises(PairingError) as caught:
        await selector.select(four, BRIEF, None)

    assert expected in str(caught.value)
    assert not caught.value.retryable


async def test_garbage_mode(
    selector: XaiPairSelector, fake: FakeXai, four: list[ImageCandidate]
) -> None:
    fake.mode = "garbage"

    with pytest.raises(PairingError, match="not valid JSON") as caught:
        await selector.select(four, BRIEF, 2)

    assert not caught.value.retryable


async def test_out_of_range_mode(
    selector: XaiPairSelector, fake: FakeXai, four: list[ImageCandidate]
) -> None:
    fake.mode = "out_of_range"

    with pytest.raises(PairingError, match=r"index 7 is out of range \(0..3\)") as caught:
        await selector.select(four, BRIEF, 1)

    assert not caught.value.retryable


async def test_fewer_pairs_than_asked_is_an_error(
    selector: XaiPairSelector, fake: FakeXai, four: list[ImageCandidate]
) -> None:
    fake.content = _answer([_pair(0, 1), _pair(0, 1)])

    with pytest.raises(PairingError, match="asked for 2 distinct pairs, the model gave 1"):
        await selector.select(four, BRIEF, 2)

    assert len(await selector.select(four, BRIEF, None)) == 1  # the model decides


async def test_rate_limit_is_retryable_after_the_given_delay(
    selector: XaiPairSelector, fake: FakeXai, four: list[ImageCandidate]
) -> None:
    fake.mode = "rate_limited"

    with pytest.raises(PairingError) as caught:
        await selector.select(four, BRIEF, 2)

    assert caught.value.retryable
    assert caught.value.retry_after == 7.0
    assert "429" in str(caught.value)


async def test_server_error_is_retryable(
    selector: XaiPairSelector, fake: FakeXai, four: list[ImageCandidate]
) -> None:
    fake.mode = "server_error"

    with pytest.raises(PairingError) as caught:
        await selector.select(four, BRIEF, 2)

    assert caught.value.retryable
    assert caught.value.retry_after is None
    assert "temporarily overloaded" in str(caught.value)


async def test_wrong_key_is_not_retryable(
    fake: FakeXai, http: httpx.AsyncClient, four: list[ImageCandidate]
) -> None:
    selector = XaiPairSelector("xai-wrong", base_url=BASE, http=http)

    with pytest.raises(PairingError) as caught:
        await selector.select(four, BRIEF, 2)

    assert not caught.value.retryable
    assert str(caught.value) == (
        "xAI returned 401: Incorrect API key provided. Obtain one at https://console.x.ai."
    )
    assert "xai-wrong" not in str(caught.value)


async def test_bad_request_carries_the_api_message(
    fake: FakeXai, http: httpx.AsyncClient, four: list[ImageCandidate]
) -> None:
    selector = XaiPairSelector(fake.api_key, base_url=BASE, model="", http=http)

    with pytest.raises(PairingError, match="xAI returned 400: model is required") as caught:
        await selector.select(four, BRIEF, 2)

    assert not caught.value.retryable


async def test_unreachable_is_retryable(four: list[ImageCandidate]) -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    async with httpx.AsyncClient(transport=httpx.MockTransport(refuse)) as http:
        selector = XaiPairSelector("key", base_url=BASE, http=http)
        with pytest.raises(PairingError) as caught:
            await selector.select(four, BRIEF, 2)

    assert caught.value.retryable


async def test_needs_two_images_before_any_call(
    selector: XaiPairSelector, fake: FakeXai, four: list[ImageCandidate]
) -> None:
    with pytest.raises(PairingError, match="at least 2") as caught:
        await selector.select(four[:1], BRIEF, None)

    assert not caught.value.retryable
    assert fake.requests == []


async def test_missing_file_is_an_error(
    selector: XaiPairSelector, fake: FakeXai, four: list[ImageCandidate], tmp_path: Path
) -> None:
    gone = ImageCandidate(four[0].asset_id, tmp_path / "gone.png", "image/png", 10, 10)

    with pytest.raises(PairingError, match=f"cannot read image {gone.asset_id}"):
        await selector.select([gone, four[1]], BRIEF, 1)

    assert fake.requests == []


async def test_over_real_http(fake: FakeXai, four: list[ImageCandidate]) -> None:
    async with serve_app(fake.app()) as base_url:
        selector = XaiPairSelector(fake.api_key, base_url=f"{base_url}/v1/")
        try:
            choices = await selector.select(four, BRIEF, 1)
        finally:
            await selector.aclose()

    assert [(c.first, c.last) for c in choices] == [(four[1].asset_id, four[0].asset_id)]


def test_retry_after_forms() -> None:
    soon = email.utils.formatdate(time.time() + 30, usegmt=True)

    assert parse_retry_after("12") == 12.0
    assert parse_retry_after("-3") == 0.0
    assert 25.0 <= (parse_retry_after(soon) or 0.0) <= 31.0
    assert parse_retry_after("soon") is None
    assert parse_retry_after(None) is None


def test_an_api_key_is_required() -> None:
    with pytest.raises(ValueError, match="API key"):
        XaiPairSelector("")
