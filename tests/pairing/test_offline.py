from __future__ import annotations

import random
import uuid
from pathlib import Path

import pytest

from services.pairing.base import CampaignBrief, ImageCandidate, PairChoice, PairingError
from services.pairing.offline import (
    OfflinePairSelector,
    Scored,
    features_of,
    parse_brand_colors,
    play_order,
)
from tests.pairing import make_image

BRIEF = CampaignBrief(client_name="Acme", campaign_name="Spring launch")
RED, RED2, BLUE, BLUE2 = (200, 30, 30), (206, 36, 32), (30, 40, 200), (36, 46, 206)


def _ids(choices: list[PairChoice]) -> set[frozenset[uuid.UUID]]:
    return {frozenset((c.first, c.last)) for c in choices}


async def test_near_identical_images_pair_before_different_ones(tmp_path: Path) -> None:
    red = make_image(tmp_path, "red", RED)
    blue = make_image(tmp_path, "blue", BLUE, ext="jpg")
    red2 = make_image(tmp_path, "red2", RED2, ext="webp")

    [choice] = await OfflinePairSelector().select([red, blue, red2], BRIEF, 1)

    assert {choice.first, choice.last} == {red.asset_id, red2.asset_id}
    assert 0.0 <= choice.score <= 1.0
    assert "similar palette" in choice.reason


async def test_pairs_cover_different_images(tmp_path: Path) -> None:
    images = [
        make_image(tmp_path, "red", RED),
        make_image(tmp_path, "blue", BLUE),
        make_image(tmp_path, "red2", RED2, ext="jpg"),
        make_image(tmp_path, "blue2", BLUE2, ext="gif"),
    ]

    choices = await OfflinePairSelector().select(images, BRIEF, 2)

    red, blue, red2, blue2 = (i.asset_id for i in images)
    assert _ids(choices) == {frozenset((red, red2)), frozenset((blue, blue2))}


async def test_scores_prefer_continuity_and_reasons_say_why(tmp_path: Path) -> None:
    red = make_image(tmp_path, "red", RED)
    red2 = make_image(tmp_path, "red2", RED2)
    blue = make_image(tmp_path, "blue", BLUE)

    choices = await OfflinePairSelector().select([red, red2, blue], BRIEF, 6)

    assert len(choices) == 6  # every ordered pair, none twice
    assert len({(c.first, c.last) for c in choices}) == 6
    assert all(c.first != c.last for c in choices)
    by_pair = {frozenset((c.first, c.last)): c for c in choices}
    close = by_pair[frozenset((red.asset_id, red2.asset_id))]
    far = by_pair[frozenset((red.asset_id, blue.asset_id))]
    assert close.score > far.score
    assert "near-duplicate" in close.reason
    assert "contrasting palette" in far.reason


async def test_ends_on_the_brand_colour(tmp_path: Path) -> None:
    plain = make_image(tmp_path, "plain", RED)
    branded = make_image(tmp_path, "branded", RED, patch=(0, 90, 255))
    brief = CampaignBrief(client_name="Acme", campaign_name="Spring", colors=["Acme blue #005AFF"])

    [choice] = await OfflinePairSelector().select([branded, plain], brief, 1)

    assert (choice.first, choice.last) == (plain.asset_id, branded.asset_id)
    assert "ends on brand colour Acme blue #005AFF" in choice.reason


def test_clips_play_in_a_chain() -> None:
    # each clip starts where the previous one ended, not in score order
    colors = [RED, (30, 190, 40), BLUE, (240, 220, 30), (36, 196, 46), (36, 46, 206)]
    features = [features_of([c] * 256, []) for c in colors]
    best = Scored(0, 1, 0.9, 0.0, 0.0, 0.0)  # red -> green
    weak = Scored(2, 3, 0.5, 0.0, 0.0, 0.0)  # blue -> yellow
    bridge = Scored(4, 5, 0.4, 0.0, 0.0, 0.0)  # green -> blue

    assert play_order([weak, bridge, best], features) == [best, bridge, weak]


async def test_same_inputs_same_answer(tmp_path: Path) -> None:
    rng = random.Random(7)
    images = [
        make_image(
            tmp_path,
            f"img{i}",
            (rng.randrange(256), rng.randrange(256), rng.randrange(256)),
            patch=(rng.randrange(256), rng.randrange(256), rng.randrange(256)),
        )
        for i in range(8)
    ]
    selector = OfflinePairSelector()

    first = await selector.select(images, BRIEF, None)
    second = await selector.select(images, BRIEF, None)

    assert first == second
    assert len(first) == 4  # None: one clip per two images


async def test_fifty_images_spread_the_pairs(tmp_path: Path) -> None:
    rng = random.Random(50)
    images = [
        make_image(
            tmp_path,
            f"img{i}",
            (rng.randrange(256), rng.randrange(256), rng.randrange(256)),
            patch=(rng.randrange(256), rng.randrange(256), rng.randrange(256)),
            size=(160, 90),
        )
        for i in range(50)
    ]

    choices = await OfflinePairSelector().select(images, BRIEF, 25)

    assert len(choices) == 25
    used = [asset for c in choices for asset in (c.first, c.last)]
    assert len(set(used)) >= 40
    assert max(used.count(asset) for asset in set(used)) <= 3


async def test_num_pairs_is_capped_by_the_images(tmp_path: Path) -> None:
    a = make_image(tmp_path, "a", RED)
    b = make_image(tmp_path, "b", BLUE)

    choices = await OfflinePairSelector().select([a, b, a], BRIEF, 10)  # a repeated: one image

    assert {(c.first, c.last) for c in choices} == {
        (a.asset_id, b.asset_id),
        (b.asset_id, a.asset_id),
    }


@pytest.mark.parametrize("count", [0, 1])
async def test_needs_two_images(tmp_path: Path, count: int) -> None:
    images = [make_image(tmp_path, "only", RED)] * count

    with pytest.raises(PairingError) as caught:
        await OfflinePairSelector().select(images, BRIEF, None)

    assert not caught.value.retryable
    assert "at least 2" in str(caught.value)


async def test_num_pairs_must_be_positive(tmp_path: Path) -> None:
    images = [make_image(tmp_path, "a", RED), make_image(tmp_path, "b", BLUE)]

    with pytest.raises(PairingError, match="num_pairs"):
        await OfflinePairSelector().select(images, BRIEF, 0)


async def test_unreadable_image_is_an_error(tmp_path: Path) -> None:
    good = make_image(tmp_path, "good", RED)
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"\x89PNG\r\n\x1a\n not really a png")
    bad = ImageCandidate(uuid.uuid4(), broken, "image/png", 10, 10)

    with pytest.raises(PairingError) as caught:
        await OfflinePairSelector().select([good, bad], BRIEF, 1)

    assert not caught.value.retryable
    assert str(bad.asset_id) in str(caught.value)


def test_brand_colours_from_hex_or_names() -> None:
    colors = parse_brand_colors(["Acme red #E10600", "#0af", "deep navy", "sparkle"])

    assert [c.rgb for c in colors] == [(225, 6, 0), (0, 170, 255), (0, 0, 128)]
    assert colors[0].label == "Acme red #E10600"
