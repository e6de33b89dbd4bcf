"""The xAI creative writer against a fake of xAI's chat completions (tests/fakes/xai.py):
requests carry strict schemas and the campaign's context, answers are validated again,
HTTP failures become LlmErrors that say whether to retry."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import httpx
import pytest

from db.models.enums import ShotType
from services.creative.parts import (
    MAX_SCENES,
    SCENE_TRANSITIONS,
    BriefParts,
    ParsedBrief,
    SceneDraft,
    StoryContext,
)
from services.creative.xai_writer import XaiCreativeWriter
from services.llm import LlmError
from services.llm.xai_chat import DEFAULT_MODEL, XaiChat
from services.pairing.base import PairingError
from tests.fakes.xai import FakeXai

BASE = "http://xai.test/v1"
IMAGES = (uuid.UUID(int=1), uuid.UUID(int=2), uuid.UUID(int=3))
CONTEXT = StoryContext(
    client_name="Acme",
    campaign_name="Spring launch",
    campaign_goal="Drive sign-ups for the spring trial",
    brand_guidelines={
        "tone": "bold",
        "colors": [{"name": "Acme red", "hex": "#E10600"}, {"hex": "#001F3F"}],
        "dos": ["Show the product in motion"],
        "donts": ["No competitor logos"],
    },
    images=IMAGES,
    image_names={IMAGES[0]: "hero.jpg", IMAGES[1]: "sole-closeup.png", IMAGES[2]: "logo.png"},
)
PARTS = BriefParts(
    product="Trail Runner shoes",
    audience="Runners aged 25-40",
    key_message="Grip on any trail",
    tone="calm",
    duration_seconds=30,
    aspect_ratio="16:9",
    video_model="kwaivgi/kling-v2.1",
    reference_asset_ids=(IMAGES[1],),
)
TEXT_KEYS = ("product", "audience", "keyMessage", "callToAction", "style", "tone", "musicStyle")


@pytest.fixture
def fake() -> FakeXai:
    return FakeXai()


@pytest.fixture
async def http(fake: FakeXai) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=fake.app())
    async with httpx.AsyncClient(transport=transport, base_url="http://xai.test") as client:
        yield client


@pytest.fixture
def writer(fake: FakeXai, http: httpx.AsyncClient) -> XaiCreativeWriter:
    return XaiCreativeWriter(fake.api_key, base_url=BASE, http=http)


def _brief(**changes: Any) -> str:
    """A schema-conforming brief answer with `changes` applied."""
    data: dict[str, Any] = dict.fromkeys(TEXT_KEYS)
    data |= {"visualElements": [], "durationSeconds": None, "aspectRatio": None}
    data["confidence"] = {k: 0.5 for k in (*TEXT_KEYS, "visualElements", "durationSeconds")}
    data["confidence"]["aspectRatio"] = 0.5
    data |= changes
    return json.dumps(data)


def _scene(**changes: Any) -> dict[str, Any]:
    scene: dict[str, Any] = {
        "description": "A runner laces up at dawn",
        "script": "Every trail starts here.",
        "shotType": "close_up",
        "durationSeconds": 4,
        "transition": "fade",
        "imagePrompt": "Runner lacing red trail shoes, dawn light",
        "referenceImages": [1],
    }
    return scene | changes


def _storyboard(*scenes: Any) -> str:
    return json.dumps({"scenes": list(scenes)})


def _user(fake: FakeXai, n: int = 0) -> str:
    content = fake.requests[n]["messages"][1]["content"]
    assert isinstance(content, str)  # no images are sent to the writer's model
    return content


def _schema(fake: FakeXai, n: int = 0) -> dict[str, Any]:
    response_format = fake.requests[n]["response_format"]
    assert response_format["type"] == "json_schema"
    assert response_format["json_schema"]["strict"] is True
    schema: dict[str, Any] = response_format["json_schema"]
    return schema


# ---- parse_brief


async def test_parse_brief_reads_every_part(writer: XaiCreativeWriter, fake: FakeXai) -> None:
    text = "Acme Trail Runner shoes. A 15 second vertical ad for weekend runners."

    parsed = await writer.parse_brief(text)

    assert parsed.parts == BriefParts(
        product="Acme Trail Runner shoes",
        audience="people who would love it",
        key_message="Acme Trail Runner shoes makes every day better",
        call_to_action="Find out more today",
        style="cinematic",
        tone="warm",
        visual_elements=("the product in use", "a smiling customer"),
        music_style="upbeat acoustic",
        duration_seconds=15,
        aspect_ratio="9:16",
    )
    assert parsed.confidence == {
        "product": 0.9,
        "audience": 0.9,
        "key_message": 0.9,
        "call_to_action": 0.9,
        "style": 0.9,
        "tone": 0.9,
        "music_style": 0.9,
        "visual_elements": 0.9,
        "duration_seconds": 0.95,
        "aspect_ratio": 0.95,
    }
    [body] = fake.requests
    assert body["model"] == DEFAULT_MODEL
    system, user = body["messages"]
    assert system["role"] == "system"
    assert "creative director" in system["content"]
    assert user == {"role": "user", "content": text}


async def test_brief_schema_is_strict(writer: XaiCreativeWriter, fake: FakeXai) -> None:
    await writer.parse_brief("Shoes")

    named = _schema(fake)
    assert named["name"] == "brief"
    schema = named["schema"]
    keys = [*TEXT_KEYS, "visualElements", "durationSeconds", "aspectRatio", "confidence"]
    assert schema["required"] == keys
    assert list(schema["properties"]) == keys
    assert schema["additionalProperties"] is False
    assert schema["properties"]["product"]["type"] == ["string", "null"]
    assert schema["properties"]["durationSeconds"]["type"] == ["integer", "null"]
    assert schema["properties"]["aspectRatio"]["enum"] == ["16:9", "9:16", "1:1", None]
    confidence = schema["properties"]["confidence"]
    assert confidence["required"] == [
        *TEXT_KEYS,
        "visualElements",
        "durationSeconds",
        "aspectRatio",
    ]
    assert confidence["additionalProperties"] is False


async def test_parts_not_found_keep_defaults_with_no_confidence(
    writer: XaiCreativeWriter, fake: FakeXai
) -> None:
    fake.answers["brief"] = _brief(
        product="  Trail Runner  ",
        keyMessage="x" * 2500,
        style="   ",
        visualElements=["  mud ", "mud", "", *[f"item {i}" for i in range(30)]],
        durationSeconds=900,
        confidence={
            **json.loads(_brief())["confidence"],
            "product": 1.7,
            "keyMessage": -0.3,
            "style": 0.8,
            "durationSeconds": 0.9,
        },
    )

    parsed = await writer.parse_brief("Trail Runner, 15 minutes")

    parts = parsed.parts
    assert parts.product == "Trail Runner"
    assert parts.key_message == "x" * 2000
    assert parts.style is None
    assert parts.audience is None
    assert parts.visual_elements == ("mud", *[f"item {i}" for i in range(19)])
    assert (parts.duration_seconds, parts.aspect_ratio) == (30, "16:9")  # the defaults
    assert parsed.confidence["product"] == 1.0
    assert parsed.confidence["key_message"] == 0.0
    assert parsed.confidence["style"] == 0.0  # blank is not found
    assert parsed.confidence["audience"] == 0.0
    assert parsed.confidence["visual_elements"] == 0.5
    assert parsed.confidence["duration_seconds"] == 0.0  # 900 s is not a duration
    assert parsed.confidence["aspect_ratio"] == 0.0


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("Sure, here is the brief!", "not valid JSON"),
        ("[]", "the brief is not an object"),
        (json.dumps({"product": "x"}), "the brief lacks audience, keyMessage"),
        (_brief(mood="happy"), "the brief has unknown mood"),
        (_brief(product=5), "the brief: product is not a string or null"),
        (_brief(visualElements="mud, rain"), "the brief: visualElements is not a list"),
        (_brief(visualElements=["mud", 3]), "the brief: visualElements[1] is not a string"),
        (_brief(durationSeconds="30"), "the brief: durationSeconds is not a number or null"),
        (_brief(durationSeconds=True), "the brief: durationSeconds is not a number or null"),
        (_brief(aspectRatio="4:3"), "the brief: aspectRatio '4:3' is not one of 16:9"),
        (_brief(confidence={"product": 1}), "the brief's confidence lacks audience"),
        (_brief(confidence=[]), "the brief's confidence is not an object"),
        (
            _brief(confidence=json.loads(_brief())["confidence"] | {"tone": "high"}),
            "the brief's confidence: tone is not a finite number",
        ),
        (
            _brief().replace('"tone": 0.5', '"tone": NaN'),
            "the brief's confidence: tone is not a finite number",
        ),
    ],
)
async def test_malformed_briefs_are_refused(
    writer: XaiCreativeWriter, fake: FakeXai, content: str, expected: str
) -> None:
    fake.answers["brief"] = content

    with pytest.raises(LlmError) as caught:
        await writer.parse_brief("Trail shoes")

    assert expected in caught.value.message
    assert not caught.value.retryable


# ---- refine_brief


async def test_refine_applies_the_answer_and_keeps_what_a_person_set(
    writer: XaiCreativeWriter, fake: FakeXai
) -> None:
    sure = json.loads(_brief())["confidence"] | {"tone": 0.8, "callToAction": 0.7}
    fake.answers["brief"] = _brief(
        product="Trail Runner shoes",
        audience="Runners aged 25-40",
        keyMessage=None,
        callToAction="Book a test run",
        tone="energetic",
        durationSeconds=None,
        aspectRatio="1:1",
        confidence=sure,
    )

    refined = await writer.refine_brief(PARTS, "  More energy, and ask them to book a run  ")

    assert refined.parts == BriefParts(
        product="Trail Runner shoes",
        audience="Runners aged 25-40",
        call_to_action="Book a test run",
        tone="energetic",
        duration_seconds=30,  # null keeps it
        aspect_ratio="1:1",
        video_model="kwaivgi/kling-v2.1",
        reference_asset_ids=(IMAGES[1],),
    )
    assert refined.confidence["product"] == 1.0  # as the person set it
    assert refined.confidence["duration_seconds"] == 1.0
    assert refined.confidence["tone"] == 0.8  # changed: the model's
    assert refined.confidence["call_to_action"] == 0.7
    assert refined.confidence["aspect_ratio"] == 0.5
    assert refined.confidence["key_message"] == 0.0  # removed
    assert _schema(fake)["name"] == "brief"
    user = _user(fake)
    assert user.endswith("\nFeedback: More energy, and ask them to book a run")
    sent = json.loads(user.splitlines()[1])
    assert sent["product"] == "Trail Runner shoes"
    assert sent["tone"] == "calm"
    assert sent["durationSeconds"] == 30
    assert "videoModel" not in sent


async def test_refine_through_the_fakes_default_answer(
    writer: XaiCreativeWriter, fake: FakeXai
) -> None:
    refined = await writer.refine_brief(PARTS, "fill in the rest")

    assert refined.parts.product == "Trail Runner shoes"
    assert refined.parts.music_style == "upbeat acoustic"  # the fake filled it
    assert refined.confidence["product"] == 1.0
    assert refined.confidence["music_style"] == 0.9
    assert refined.parts.reference_asset_ids == (IMAGES[1],)


# ---- write_storyboard


async def test_storyboard_scenes_are_validated_and_mapped(
    writer: XaiCreativeWriter, fake: FakeXai
) -> None:
    scenes = await writer.write_storyboard(PARTS, CONTEXT)

    assert [s.duration_seconds for s in scenes] == [6.0, 10.5, 7.5, 9.0]  # proposals, unfitted
    assert [s.reference_asset_ids for s in scenes] == [
        (IMAGES[0],),
        (IMAGES[1],),
        (IMAGES[2],),
        (IMAGES[0],),
    ]
    assert [s.shot_type for s in scenes] == [
        ShotType.WIDE,
        ShotType.MEDIUM,
        ShotType.CLOSE_UP,
        ShotType.TRACKING,
    ]
    assert [s.transition for s in scenes] == ["fade", "dissolve", "wipeleft", "none"]
    assert scenes[1].description == "Trail Runner shoes revealed, scene 2"
    assert scenes[1].script == "Line 2 about Trail Runner shoes."
    assert scenes[2].script == ""  # a silent scene
    assert scenes[0].image_prompt == "An opening hook, soft daylight, 1"


async def test_storyboard_request_carries_brief_brand_and_image_names(
    writer: XaiCreativeWriter, fake: FakeXai
) -> None:
    await writer.write_storyboard(PARTS, CONTEXT)

    named = _schema(fake)
    assert named["name"] == "storyboard"
    scene = named["schema"]["properties"]["scenes"]["items"]
    assert scene["required"] == [
        "description",
        "script",
        "shotType",
        "durationSeconds",
        "transition",
        "imagePrompt",
        "referenceImages",
    ]
    assert scene["additionalProperties"] is False
    assert scene["properties"]["shotType"]["enum"] == [s.value for s in ShotType]
    assert scene["properties"]["transition"]["enum"] == list(SCENE_TRANSITIONS)
    user = _user(fake)
    for expected in (
        "Client: Acme",
        "Campaign: Spring launch",
        "Campaign goal: Drive sign-ups for the spring trial",
        "- Product: Trail Runner shoes",
        "- Key message: Grip on any trail",
        "- Call to action: not given",
        "- Tone: bold",
        "- Colours: Acme red (#E10600), #001F3F",
        "- Do: Show the product in motion",
        "- Don't: No competitor logos",
        "Video: 30 seconds in total, aspect ratio 16:9.",
        "clip of 5 or 10 seconds, rendered by kwaivgi/kling-v2.1",
        "- Image 0: hero.jpg\n",
        "- Image 1: sole-closeup.png (a reference image of this brief)\n",
        "- Image 2: logo.png",
    ):
        assert expected in user
    system = fake.requests[0]["messages"][0]["content"]
    assert "spoken" in system
    assert "start image" in system


async def test_duplicate_references_are_dropped_and_text_trimmed(
    writer: XaiCreativeWriter, fake: FakeXai
) -> None:
    fake.answers["storyboard"] = _storyboard(
        _scene(referenceImages=[2, 2, 0], script="   ", description="  Dawn  "),
        _scene(durationSeconds=2.5, referenceImages=[]),
    )

    scenes = await writer.write_storyboard(PARTS, CONTEXT)

    assert scenes == [
        SceneDraft(
            description="Dawn",
            script="",
            shot_type=ShotType.CLOSE_UP,
            duration_seconds=4.0,
            transition="fade",
            image_prompt="Runner lacing red trail shoes, dawn light",
            reference_asset_ids=(IMAGES[2], IMAGES[0]),
        ),
        SceneDraft(
            description="A runner laces up at dawn",
            script="Every trail starts here.",
            shot_type=ShotType.CLOSE_UP,
            duration_seconds=2.5,
            transition="fade",
            image_prompt="Runner lacing red trail shoes, dawn light",
        ),
    ]


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("Scene 1: a runner...", "not valid JSON"),
        ("[]", "the storyboard is not an object"),
        (json.dumps({"scenes": {}}), "the storyboard: scenes is not a list"),
        (_storyboard(), "the storyboard has 0 scenes, not 1 to 16"),
        (_storyboard(*[_scene()] * (MAX_SCENES + 1)), "the storyboard has 17 scenes"),
        (_storyboard(_scene(), [1, 2]), "scene 2 is not an object"),
        (_storyboard({"description": "x"}), "scene 1 lacks script, shotType"),
        (_storyboard(_scene(mood="sad")), "scene 1 has unknown mood"),
        (_storyboard(_scene(shotType="dolly")), "scene 1: shotType 'dolly' is not a known"),
        (_storyboard(_scene(transition="spin")), "scene 1: transition 'spin' is not a known"),
        (_storyboard(_scene(durationSeconds=0)), "scene 1: durationSeconds is not a positive"),
        (_storyboard(_scene(durationSeconds="4")), "scene 1: durationSeconds is not a positive"),
        (_storyboard(_scene(durationSeconds=True)), "durationSeconds is not a positive number"),
        (_storyboard(_scene(description=" ")), "scene 1: description is empty"),
        (_storyboard(_scene(imagePrompt=None)), "scene 1: imagePrompt is not a string"),
        (_storyboard(_scene(script=3)), "scene 1: script is not a string"),
        (_storyboard(_scene(referenceImages=1)), "scene 1: referenceImages is not a list"),
        (_storyboard(_scene(referenceImages=["0"])), "holds '0', not an index"),
        (_storyboard(_scene(referenceImages=[True])), "holds 'True', not an index"),
        (
            _storyboard(_scene(), _scene(referenceImages=[0, 3])),
            "scene 2: reference image index 3 is out of range (0..2)",
        ),
        (_storyboard(_scene(referenceImages=[-1])), "index -1 is out of range (0..2)"),
    ],
)
async def test_malformed_storyboards_are_refused(
    writer: XaiCreativeWriter, fake: FakeXai, content: str, expected: str
) -> None:
    fake.answers["storyboard"] = content

    with pytest.raises(LlmError) as caught:
        await writer.write_storyboard(PARTS, CONTEXT)

    assert expected in caught.value.message
    assert not caught.value.retryable


async def test_out_of_range_mode(writer: XaiCreativeWriter, fake: FakeXai) -> None:
    fake.mode = "out_of_range"

    with pytest.raises(LlmError, match=r"scene 2: reference image index 6 is out of range"):
        await writer.write_storyboard(PARTS, CONTEXT)


async def test_a_campaign_without_images(writer: XaiCreativeWriter, fake: FakeXai) -> None:
    bare = StoryContext("Acme", "Teaser", None, {}, (), {})

    scenes = await writer.write_storyboard(BriefParts(product="Shoes"), bare)

    assert [s.reference_asset_ids for s in scenes] == [()] * 4
    user = _user(fake)
    assert "Campaign images: none; referenceImages must be []." in user
    assert "Brand guidelines:\n- none given" in user
    assert "Campaign goal" not in user

    fake.answers["storyboard"] = _storyboard(_scene(referenceImages=[0]))
    with pytest.raises(LlmError, match=r"index 0 is out of range \(there are no campaign"):
        await writer.write_storyboard(BriefParts(product="Shoes"), bare)


# ---- rewrite_scene


async def test_rewrite_scene_sends_the_storyboard_and_returns_the_new_scene(
    writer: XaiCreativeWriter, fake: FakeXai
) -> None:
    scenes = await writer.write_storyboard(PARTS, CONTEXT)

    new = await writer.rewrite_scene(PARTS, CONTEXT, scenes, 1, "show the sole")

    assert new == SceneDraft(
        description="Trail Runner shoes revealed, scene 2 (show the sole)",
        script="Line 2 about Trail Runner shoes.",
        shot_type=ShotType.MEDIUM,
        duration_seconds=10.5,
        transition="dissolve",
        image_prompt="Trail Runner shoes revealed, soft daylight, 2",
        reference_asset_ids=(IMAGES[1],),
    )
    named = _schema(fake, 1)
    assert named["name"] == "scene"
    assert named["schema"]["required"][:3] == ["description", "script", "shotType"]
    user = _user(fake, 1)
    assert "Rewrite scene 2 of 4." in user
    assert user.endswith("\nFeedback: show the sole")
    assert "- Don't: No competitor logos" in user
    lines = [line for line in user.splitlines() if line.startswith("Scene ")]
    assert len(lines) == 4
    assert json.loads(lines[3].removeprefix("Scene 4: "))["referenceImages"] == [0]


async def test_rewritten_scene_is_validated(writer: XaiCreativeWriter, fake: FakeXai) -> None:
    scenes = await writer.write_storyboard(PARTS, CONTEXT)
    fake.answers["scene"] = json.dumps(_scene(referenceImages=[9]))

    with pytest.raises(LlmError, match=r"the scene: reference image index 9 is out of range"):
        await writer.rewrite_scene(PARTS, CONTEXT, scenes, 0, "closer")

    fake.answers["scene"] = _storyboard(_scene())
    with pytest.raises(LlmError, match="the scene lacks description"):
        await writer.rewrite_scene(PARTS, CONTEXT, scenes, 0, "closer")


async def test_rewrite_needs_a_scene_that_exists(writer: XaiCreativeWriter, fake: FakeXai) -> None:
    scene = SceneDraft("a", "", ShotType.WIDE, 5.0, "none", "b")

    with pytest.raises(IndexError):
        await writer.rewrite_scene(PARTS, CONTEXT, [scene], 1, "x")

    assert fake.requests == []


# ---- failures of the call itself

Call = Callable[[XaiCreativeWriter], Awaitable[object]]
CALLS: dict[str, Call] = {
    "parse_brief": lambda w: w.parse_brief("Trail shoes"),
    "refine_brief": lambda w: w.refine_brief(PARTS, "warmer"),
    "write_storyboard": lambda w: w.write_storyboard(PARTS, CONTEXT),
    "rewrite_scene": lambda w: w.rewrite_scene(
        PARTS, CONTEXT, [SceneDraft("a", "", ShotType.WIDE, 5.0, "none", "b")], 0, "x"
    ),
}


@pytest.mark.parametrize("method", list(CALLS))
async def test_rate_limit_is_retryable_after_the_given_delay(
    writer: XaiCreativeWriter, fake: FakeXai, method: str
) -> None:
    fake.mode = "rate_limited"

    with pytest.raises(LlmError) as caught:
        await CALLS[method](writer)

    assert caught.value.retryable
    assert caught.value.retry_after == 7.0
    assert caught.value.message == "xAI returned 429: Too many requests"


@pytest.mark.parametrize("method", list(CALLS))
async def test_server_error_is_retryable(
    writer: XaiCreativeWriter, fake: FakeXai, method: str
) -> None:
    fake.mode = "server_error"

    with pytest.raises(LlmError) as caught:
        await CALLS[method](writer)

    assert caught.value.retryable
    assert caught.value.retry_after is None
    assert caught.value.message == "xAI returned 500: The service is temporarily overloaded"


@pytest.mark.parametrize("method", list(CALLS))
async def test_wrong_key_is_not_retryable(
    fake: FakeXai, http: httpx.AsyncClient, method: str
) -> None:
    writer = XaiCreativeWriter("xai-wrong", base_url=BASE, http=http)

    with pytest.raises(LlmError) as caught:
        await CALLS[method](writer)

    assert not caught.value.retryable
    assert caught.value.message == (
        "xAI returned 401: Incorrect API key provided. Obtain one at https://console.x.ai."
    )


@pytest.mark.parametrize("method", list(CALLS))
async def test_garbage_is_not_retryable(
    writer: XaiCreativeWriter, fake: FakeXai, method: str
) -> None:
    fake.mode = "garbage"

    with pytest.raises(LlmError, match="not valid JSON") as caught:
        await CALLS[method](writer)

    assert not caught.value.retryable


@pytest.mark.parametrize(
    ("setup", "expected"),
    [
        ({"refusal": "I can't help with that."}, "the model refused: I can't help with that."),
        (
            {"finish_reason": "length", "content": '{"scenes": ['},
            "the model's answer was cut off (finish_reason=length)",
        ),
        ({"content": "  "}, "the model's answer is empty"),
    ],
)
async def test_refusals_and_cut_off_answers_are_errors(
    writer: XaiCreativeWriter, fake: FakeXai, setup: dict[str, str], expected: str
) -> None:
    for key, value in setup.items():
        setattr(fake, key, value)

    with pytest.raises(LlmError) as caught:
        await writer.write_storyboard(PARTS, CONTEXT)

    assert caught.value.message == expected
    assert not caught.value.retryable


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (httpx.ConnectError("connection refused"), "xAI unreachable: connection refused"),
        (httpx.ReadTimeout("slow"), "xAI request timed out"),
    ],
)
async def test_transport_failures_are_retryable(error: Exception, expected: str) -> None:
    def fail(request: httpx.Request) -> httpx.Response:
        raise error

    async with httpx.AsyncClient(transport=httpx.MockTransport(fail)) as http:
        writer = XaiCreativeWriter("key", base_url=BASE, http=http)
        with pytest.raises(LlmError) as caught:
            await writer.parse_brief("Trail shoes")

    assert caught.value.retryable
    assert caught.value.message == expected


async def test_a_body_that_is_not_json_is_an_error() -> None:
    def html(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, text="<html>gateway</html>")

    async with httpx.AsyncClient(transport=httpx.MockTransport(html)) as http:
        chat = XaiChat("key", base_url=BASE, http=http)
        with pytest.raises(LlmError, match="a body that is not JSON") as caught:
            await chat.json_answer([{"role": "user", "content": "hi"}], "x", {"type": "object"})

    assert not caught.value.retryable


async def test_the_fake_holds_schemas_to_strict_mode(
    fake: FakeXai, http: httpx.AsyncClient
) -> None:
    chat = XaiChat(fake.api_key, base_url=BASE, http=http)
    loose = {"type": "object", "properties": {"a": {"type": "string"}}, "required": []}

    with pytest.raises(LlmError) as caught:
        await chat.json_answer([{"role": "user", "content": "hi"}], "loose", loose)

    assert caught.value.message == (
        "xAI returned 400: schema: strict mode requires every property; "
        "schema: strict mode needs additionalProperties false"
    )
    assert not caught.value.retryable


async def test_scripted_answers_win_per_schema(writer: XaiCreativeWriter, fake: FakeXai) -> None:
    fake.content = "not JSON at all"
    fake.answers["brief"] = _brief(product="Scripted")

    parsed = await writer.parse_brief("Trail shoes")

    assert parsed == ParsedBrief(
        BriefParts(product="Scripted"),
        {k: 0.0 for k in parsed.confidence} | {"product": 0.5},
    )
    with pytest.raises(LlmError, match="not valid JSON"):
        await writer.write_storyboard(PARTS, CONTEXT)  # no storyboard answer: content


def test_pairing_errors_are_llm_errors() -> None:
    error = PairingError("busy", retryable=True, retry_after=3.0)

    assert isinstance(error, LlmError)
    assert (error.message, error.retryable, error.retry_after) == ("busy", True, 3.0)


def test_an_api_key_is_required() -> None:
    with pytest.raises(ValueError, match="API key"):
        XaiCreativeWriter("")
