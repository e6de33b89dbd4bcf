"""The offline brief parser: labelled briefs, guessed parts, hostile text and refinement."""

from __future__ import annotations

import uuid

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from services.creative.offline_brief import parse_text, refine
from services.creative.parts import (
    ASPECT_RATIOS,
    CONFIDENCE_PARTS,
    DEFAULT_ASPECT_RATIO,
    DEFAULT_TOTAL_SECONDS,
    MAX_SHORT,
    BriefParts,
)

LABELLED_BRIEF = """\
# Spring campaign brief
- **Product:** Aurora trail shoes
- Target audience - urban runners 25-40
* Key message: Run further. Feel lighter.
CTA: Shop now at aurora.com.
Look: cinematic, handheld
Tone: energetic
Visual elements: muddy trails; sunrise over the city and close-ups of the sole
Music style: upbeat electronic
Duration: 30s
Aspect ratio: 9:16
"""

PARAGRAPH = (
    "We're launching Aurora trail shoes for urban runners aged 25-40. Make a 30-second "
    "vertical spot, energetic and cinematic, with upbeat electronic music. End with Shop now."
)

BASE = BriefParts(
    product="Aurora trail shoes",
    audience="urban runners",
    tone="calm",
    duration_seconds=30,
    aspect_ratio="16:9",
    reference_asset_ids=(uuid.UUID(int=7),),
)


def test_labelled_brief_reads_every_part_at_0_9() -> None:
    parsed = parse_text(LABELLED_BRIEF)

    assert parsed.parts == BriefParts(
        product="Aurora trail shoes",
        audience="urban runners 25-40",
        key_message="Run further. Feel lighter",
        call_to_action="Shop now at aurora.com",
        style="cinematic, handheld",
        tone="energetic",
        visual_elements=("muddy trails", "sunrise over the city", "close-ups of the sole"),
        music_style="upbeat electronic",
        duration_seconds=30,
        aspect_ratio="9:16",
    )
    assert parsed.confidence == dict.fromkeys(CONFIDENCE_PARTS, 0.9)


def test_labels_after_sentences_with_synonyms_and_dashes() -> None:
    parsed = parse_text(
        "Brand: Lumen. For whom: new parents. Mood - calm. Runtime: 0:45. Format: square. "
        "Soundtrack: soft piano"
    )

    assert parsed.parts.product == "Lumen"
    assert parsed.parts.audience == "new parents"
    assert parsed.parts.tone == "calm"
    assert parsed.parts.duration_seconds == 45
    assert parsed.parts.aspect_ratio == "1:1"
    assert parsed.parts.music_style == "soft piano"
    assert parsed.confidence["duration_seconds"] == 0.9
    assert parsed.confidence["key_message"] == 0.0


def test_labelled_value_ends_with_its_sentence_except_key_message() -> None:
    parsed = parse_text(
        "Product: Aurora trail shoes. Built for mud.\nMessage: Run further. Feel lighter.\n"
        "Tone: bold. Make it a 20 sec spot"
    )

    assert parsed.parts.product == "Aurora trail shoes"
    assert parsed.parts.key_message == "Run further. Feel lighter"
    assert parsed.parts.tone == "bold"
    assert parsed.parts.duration_seconds == 20
    assert parsed.confidence["duration_seconds"] == 0.6


def test_label_without_value_takes_the_following_lines() -> None:
    parsed = parse_text(
        "Visuals:\n- trail at dawn\n- mud splash\n\nLength: 45 seconds\n"
        "Key message:\nRun further.\nFeel lighter.\n\nNotes: vertical please"
    )

    assert parsed.parts.visual_elements == ("trail at dawn", "mud splash")
    assert parsed.parts.duration_seconds == 45
    assert parsed.parts.key_message == "Run further. Feel lighter"
    assert parsed.parts.aspect_ratio == "9:16"
    assert parsed.confidence["aspect_ratio"] == 0.6


def test_unknown_aspect_ratio_is_left_at_default() -> None:
    parsed = parse_text("Product: Aurora\nFormat: 4:5")

    assert parsed.parts.aspect_ratio == DEFAULT_ASPECT_RATIO
    assert parsed.confidence["aspect_ratio"] == 0.0
    assert parsed.parts.product == "Aurora"


def test_unlabelled_paragraph_is_guessed_with_lower_confidence() -> None:
    parsed = parse_text(PARAGRAPH)

    assert parsed.parts.product == "Aurora trail shoes"
    assert parsed.parts.audience == "urban runners aged 25-40"
    assert parsed.parts.duration_seconds == 30
    assert parsed.parts.aspect_ratio == "9:16"
    assert parsed.parts.tone == "energetic"
    assert parsed.parts.style == "cinematic"
    assert parsed.parts.music_style == "upbeat electronic music"
    assert parsed.parts.call_to_action == "Shop now"
    assert parsed.parts.key_message is None
    assert parsed.parts.visual_elements == ()
    for part in ("product", "audience", "duration_seconds", "aspect_ratio", "tone", "style"):
        assert 0.0 < parsed.confidence[part] < 0.9, part
    assert 0.0 < parsed.confidence["music_style"] < 0.9
    assert 0.0 < parsed.confidence["call_to_action"] < 0.9
    assert parsed.confidence["key_message"] == 0.0
    assert parsed.confidence["visual_elements"] == 0.0


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("a 15 sec cutdown", 15),
        ("keep it to 0:20 please", 20),
        ("half a minute of footage", 30),
        ("a 1 minute film", 60),
        ("1 minute and 30 seconds", 90),
        ("a thirty-second spot", 30),
    ],
)
def test_duration_phrases(text: str, seconds: int) -> None:
    parsed = parse_text(text)

    assert parsed.parts.duration_seconds == seconds
    assert 0.5 <= parsed.confidence["duration_seconds"] <= 0.7


@pytest.mark.parametrize(
    ("text", "ratio"),
    [
        ("cut it for TikTok", "9:16"),
        ("a square feed post", "1:1"),
        ("widescreen for TV", "16:9"),
        ("deliver in 1:1 and nothing else", "1:1"),
        ("16x9 master", "16:9"),
    ],
)
def test_aspect_ratio_words_and_literals(text: str, ratio: str) -> None:
    parsed = parse_text(text)

    assert parsed.parts.aspect_ratio == ratio
    assert 0.5 <= parsed.confidence["aspect_ratio"] <= 0.7


def test_call_to_action_product_and_audience_phrases() -> None:
    parsed = parse_text("A playful film for Lumen, aimed at busy parents. Try Lumen Plus free")

    assert parsed.parts.product == "Lumen"
    assert parsed.parts.audience == "busy parents"
    assert parsed.parts.call_to_action == "Try Lumen Plus free"
    assert parsed.parts.tone == "playful"


def test_empty_text_gives_defaults_and_zero_confidence() -> None:
    for text in ("", "   \n\t  "):
        parsed = parse_text(text)

        assert parsed.parts == BriefParts()
        assert parsed.parts.duration_seconds == DEFAULT_TOTAL_SECONDS
        assert parsed.confidence == dict.fromkeys(CONFIDENCE_PARTS, 0.0)


def test_long_values_are_cut() -> None:
    parsed = parse_text("Product: " + "x" * 1000)

    assert parsed.parts.product == "x" * MAX_SHORT


@pytest.mark.parametrize(
    ("text", "tone"),
    [
        ("a:" * 25_000, None),
        ("\x00" * 20_000, None),
        ("\U0001f3ac\u200d" * 10_000, None),
        ("Product:" + " " * 20_000 + ".", None),
        (". " * 20_000, None),
        ("for " * 10_000, None),
        ("1:" * 20_000, None),
        ("Tone: \x00\x01 calm \ufffd\n" * 500, "calm \ufffd"),
    ],
)
def test_hostile_text_returns(text: str, tone: str | None) -> None:
    parsed = parse_text(text)

    assert parsed.parts == BriefParts(tone=tone)
    assert parsed.confidence == {p: 0.9 if tone and p == "tone" else 0.0 for p in CONFIDENCE_PARTS}
    assert refine(BASE, text).parts.product == BASE.product


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=400))
def test_any_text_parses_to_valid_parts(text: str) -> None:
    parsed = parse_text(text)

    assert parsed.parts.aspect_ratio in ASPECT_RATIOS
    assert 0 < parsed.parts.duration_seconds < 600
    assert set(parsed.confidence) == set(CONFIDENCE_PARTS)
    assert all(0.0 <= c <= 0.9 for c in parsed.confidence.values())
    assert parse_text(text) == parsed


def test_control_characters_do_not_reach_values() -> None:
    parsed = parse_text("Tone: \x00calm\x07")

    assert parsed.parts.tone == "calm"


def test_parsing_is_deterministic() -> None:
    for text in (LABELLED_BRIEF, PARAGRAPH):
        assert parse_text(text) == parse_text(text)


def test_refine_changes_only_what_feedback_mentions() -> None:
    refined = refine(BASE, "Tone: bold. Make it vertical")

    assert refined.parts == BASE.merged(tone="bold", aspect_ratio="9:16")
    assert refined.confidence["tone"] == 0.9
    assert refined.confidence["aspect_ratio"] == 0.6
    assert refined.confidence["product"] == 1.0
    assert refined.confidence["audience"] == 1.0
    assert refined.confidence["key_message"] == 0.0  # still None
    assert refined.confidence["duration_seconds"] == 0.0  # still the default


def test_refine_shorter_longer_and_more() -> None:
    shorter = refine(BASE.merged(duration_seconds=45), "make it shorter and more playful")

    assert shorter.parts.duration_seconds == 30
    assert shorter.parts.tone == "playful"
    assert shorter.confidence["tone"] == 0.7
    assert shorter.parts.product == BASE.product
    assert refine(BASE, "shorter").parts.duration_seconds == 20
    assert refine(BASE.merged(duration_seconds=6), "shorter").parts.duration_seconds == 5
    assert refine(BASE, "a bit longer").parts.duration_seconds == 45
    assert refine(BASE.merged(duration_seconds=7), "longer").parts.duration_seconds == 11


def test_refine_change_instruction_and_kept_fields() -> None:
    refined = refine(BASE, "Change the CTA to Book a test run. Also square.")

    assert refined.parts.call_to_action == "Book a test run"
    assert refined.parts.aspect_ratio == "1:1"
    assert refined.parts.reference_asset_ids == BASE.reference_asset_ids
    assert refined.parts.video_model == BASE.video_model
    assert refined.parts.tone == "calm"


def test_refine_with_empty_feedback_keeps_everything() -> None:
    refined = refine(BASE, "")

    assert refined.parts == BASE
    assert refined.confidence["tone"] == 1.0
    assert refined.confidence["style"] == 0.0
