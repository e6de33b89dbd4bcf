"""Pair selection without a network: tiny thumbnails, colour and layout features, greedy choice.

Each image is decoded once (PyAV, in a worker thread) to a 16x16 RGB thumbnail. From it:
a 64-bin colour histogram (palette), an 8x8 luminance grid (composition), brightness, and
the share of pixels close to each brand colour. An ordered pair scores high when the two
frames are close enough to morph smoothly (palette and composition), a little higher when it
lands on a brand colour, and a little lower when the frames are near-duplicates (no motion).
Pairs are then chosen greedily with a penalty for reusing an image, so the set covers many
images, and put in play order so each clip starts close to where the previous one ended.
Pure Python; same inputs, same answer.
"""

from __future__ import annotations

import asyncio
import math
import re
from dataclasses import dataclass
from pathlib import Path

from services.pairing.base import (
    CampaignBrief,
    ImageCandidate,
    PairChoice,
    PairingError,
    distinct_images,
    pair_count,
)

THUMB = 16  # thumbnail side, pixels
GRID = 8  # luminance grid side
LEVELS = 4  # histogram levels per channel -> LEVELS**3 bins
PALETTE_WEIGHT = 0.6  # continuity = 0.6 palette + 0.4 composition
NEAR_DUPLICATE = 0.97  # continuity above this means the clip would barely move
REUSE_PENALTY = 0.3  # per earlier use of either image
REVERSE_PENALTY = 1.0  # B->A after A->B is nearly the same clip: a last resort
BRAND_DISTANCE = 64.0  # RGB distance under which a pixel counts as a brand colour
BRAND_BONUS = 0.1
DIRECTION_BONUS = 0.05

NAMED_COLORS: dict[str, tuple[int, int, int]] = {
    "black": (0, 0, 0),
    "white": (255, 255, 255),
    "red": (220, 20, 30),
    "green": (30, 160, 60),
    "blue": (30, 80, 220),
    "navy": (0, 0, 128),
    "teal": (0, 128, 128),
    "cyan": (0, 200, 220),
    "yellow": (250, 220, 30),
    "gold": (212, 175, 55),
    "orange": (255, 140, 0),
    "pink": (255, 105, 180),
    "magenta": (220, 0, 180),
    "purple": (128, 0, 160),
    "brown": (120, 70, 30),
    "grey": (128, 128, 128),
    "gray": (128, 128, 128),
    "silver": (192, 192, 192),
}
_HEX = re.compile(r"#([0-9a-fA-F]{6}|[0-9a-fA-F]{3})\b")
_WORD = re.compile(r"[a-z]+")

RGB = tuple[int, int, int]


@dataclass(frozen=True, slots=True)
class BrandColor:
    label: str
    rgb: RGB


@dataclass(frozen=True, slots=True)
class Features:
    histogram: tuple[float, ...]  # LEVELS**3 bins, sums to 1
    luma: tuple[float, ...]  # GRID*GRID cells, 0..255
    brightness: float  # 0..255
    brand_share: tuple[float, ...]  # per brand colour, 0..1


@dataclass(frozen=True, slots=True)
class Scored:
    first: int
    last: int
    score: float
    palette: float
    composition: float
    continuity: float


class OfflinePairSelector:
    name = "offline"

    async def select(
        self, images: list[ImageCandidate], brief: CampaignBrief, num_pairs: int | None
    ) -> list[PairChoice]:
        distinct = distinct_images(images)
        count = pair_count(len(distinct), num_pairs)
        brand = parse_brand_colors(brief.colors)
        thumbs = await asyncio.gather(*(_thumbnail(image) for image in distinct))
        features = [features_of(pixels, brand) for pixels in thumbs]
        scored = score_pairs(features)
        chosen = choose(scored, count)
        ordered = play_order(chosen, features)
        return [
            PairChoice(
                first=distinct[p.first].asset_id,
                last=distinct[p.last].asset_id,
                score=round(p.score, 3),
                reason=explain(p, features, brand),
            )
            for p in ordered
        ]


def parse_brand_colors(colors: list[str]) -> list[BrandColor]:
    """Hex codes (#RGB, #RRGGBB) anywhere in each entry, else a basic colour name in it."""
    out: list[BrandColor] = []
    for entry in colors:
        label = entry.strip()[:40]
        match = _HEX.search(entry)
        if match:
            digits = match.group(1)
            if len(digits) == 3:
                digits = "".join(c * 2 for c in digits)
            rgb = (int(digits[0:2], 16), int(digits[2:4], 16), int(digits[4:6], 16))
            out.append(BrandColor(label, rgb))
            continue
        for word in _WORD.findall(entry.lower()):
            if word in NAMED_COLORS:
                out.append(BrandColor(label, NAMED_COLORS[word]))
                break
    return out


async def _thumbnail(image: ImageCandidate) -> list[RGB]:
    try:
        return await asyncio.to_thread(decode_thumbnail, image.path)
    except PairingError:
        raise
    except Exception as exc:  # PyAV raises its own error family, OSError, StopIteration
        raise PairingError(f"cannot read image {image.asset_id}: {exc}") from exc


def decode_thumbnail(path: Path, side: int = THUMB) -> list[RGB]:
    """The first frame of an image file as side*side RGB pixels, row by row."""
    import av

    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        context = stream.codec_context
        if context.name == "mjpeg":
            # JPEG can decode at 1/2, 1/4 or 1/8 scale: far faster for camera-sized photos
            shortest = min(context.width or 0, context.height or 0)
            level = 0
            while level < 3 and shortest >> (level + 1) >= 4 * side:
                level += 1
            if level:
                context.options = {"lowres": str(level)}
        frame = next(container.decode(stream), None)
        if frame is None:
            raise PairingError(f"no picture in {path.name}")
        small = frame.reformat(width=side, height=side, format="rgb24", interpolation="AREA")
        plane = small.planes[0]
        stride = int(plane.line_size)
        data = bytes(plane)
    pixels: list[RGB] = []
    for y in range(side):
        row = data[y * stride : y * stride + side * 3]
        pixels.extend((row[i], row[i + 1], row[i + 2]) for i in range(0, side * 3, 3))
    return pixels


def features_of(pixels: list[RGB], brand: list[BrandColor]) -> Features:
    side = math.isqrt(len(pixels))
    shift = 8 - (LEVELS - 1).bit_length()  # 4 levels -> keep the top 2 bits
    bins = [0] * LEVELS**3
    lumas: list[float] = []
    for r, g, b in pixels:
        bins[((r >> shift) * LEVELS + (g >> shift)) * LEVELS + (b >> shift)] += 1
        lumas.append(0.299 * r + 0.587 * g + 0.114 * b)
    total = float(len(pixels))
    cell = side // GRID
    grid: list[float] = []
    for gy in range(GRID):
        for gx in range(GRID):
            cells = [
                lumas[(gy * cell + dy) * side + gx * cell + dx]
                for dy in range(cell)
                for dx in range(cell)
            ]
            grid.append(sum(cells) / len(cells))
    shares: list[float] = []
    limit = BRAND_DISTANCE * BRAND_DISTANCE
    for color in brand:
        cr, cg, cb = color.rgb
        near = sum(1 for r, g, b in pixels if (r - cr) ** 2 + (g - cg) ** 2 + (b - cb) ** 2 < limit)
        shares.append(near / total)
    return Features(
        histogram=tuple(n / total for n in bins),
        luma=tuple(grid),
        brightness=sum(lumas) / total,
        brand_share=tuple(shares),
    )


def score_pairs(features: list[Features]) -> list[Scored]:
    """Every ordered pair (i, j), i != j, with its score and the parts that made it."""
    out: list[Scored] = []
    n = len(features)
    for i in range(n):
        for j in range(i + 1, n):
            a, b = features[i], features[j]
            palette, composition = _palette(a, b), _composition(a, b)
            continuity = PALETTE_WEIGHT * palette + (1.0 - PALETTE_WEIGHT) * composition
            shaped = continuity
            if continuity > NEAR_DUPLICATE:
                shaped = NEAR_DUPLICATE - 1.5 * (continuity - NEAR_DUPLICATE)
            brand = BRAND_BONUS * max((*a.brand_share, *b.brand_share), default=0.0)
            for first, last in ((i, j), (j, i)):
                lead = _hero(features[last]) - _hero(features[first])
                score = shaped + brand + DIRECTION_BONUS * max(-1.0, min(1.0, lead))
                out.append(Scored(first, last, _clamp(score), palette, composition, continuity))
    return out


def _hero(f: Features) -> float:
    """How well a frame closes a clip: brand colour first, then brightness."""
    return max(f.brand_share, default=0.0) + 0.25 * f.brightness / 255.0


def choose(scored: list[Scored], count: int) -> list[Scored]:
    """Greedy: the best pair after penalties for images already used and reversed pairs."""
    uses: dict[int, int] = {}
    taken: set[tuple[int, int]] = set()
    chosen: list[Scored] = []
    while len(chosen) < count:
        best: Scored | None = None
        best_value = -math.inf
        for pair in scored:
            if (pair.first, pair.last) in taken:
                continue
            value = pair.score - REUSE_PENALTY * (uses.get(pair.first, 0) + uses.get(pair.last, 0))
            if (pair.last, pair.first) in taken:
                value -= REVERSE_PENALTY
            # strictly greater: ties go to the earlier pair, i.e. the lower image indices
            if value > best_value:
                best, best_value = pair, value
        if best is None:
            break
        chosen.append(best)
        taken.add((best.first, best.last))
        uses[best.first] = uses.get(best.first, 0) + 1
        uses[best.last] = uses.get(best.last, 0) + 1
    return chosen


def play_order(chosen: list[Scored], features: list[Features]) -> list[Scored]:
    """Open with the best clip; each next clip starts closest to where the last one ended."""
    if not chosen:
        return []
    remaining = sorted(chosen, key=lambda p: (-p.score, p.first, p.last))
    order = [remaining.pop(0)]
    while remaining:
        end = features[order[-1].last]
        nearest = min(
            range(len(remaining)),
            key=lambda k: (-_similarity(end, features[remaining[k].first]), k),
        )
        order.append(remaining.pop(nearest))
    return order


def _palette(a: Features, b: Features) -> float:
    """Histogram intersection: 1 for the same colours in the same amounts, 0 for none shared."""
    return sum(min(x, y) for x, y in zip(a.histogram, b.histogram, strict=True))


def _composition(a: Features, b: Features) -> float:
    """1 minus the mean luminance difference, cell by cell: where light and dark sit."""
    diff = sum(abs(x - y) for x, y in zip(a.luma, b.luma, strict=True)) / len(a.luma)
    return 1.0 - diff / 255.0


def _similarity(a: Features, b: Features) -> float:
    return PALETTE_WEIGHT * _palette(a, b) + (1.0 - PALETTE_WEIGHT) * _composition(a, b)


def explain(pair: Scored, features: list[Features], brand: list[BrandColor]) -> str:
    parts: list[str] = []
    if pair.palette >= 0.75:
        parts.append(f"similar palette ({pair.palette:.2f})")
    elif pair.palette >= 0.4:
        parts.append(f"related palette ({pair.palette:.2f})")
    else:
        parts.append(f"contrasting palette ({pair.palette:.2f})")
    if pair.composition >= 0.85:
        parts.append(f"matching composition ({pair.composition:.2f})")
    elif pair.composition >= 0.6:
        parts.append(f"comparable composition ({pair.composition:.2f})")
    else:
        parts.append(f"strong contrast in composition ({pair.composition:.2f})")
    if pair.continuity > NEAR_DUPLICATE:
        parts.append("near-duplicate frames, so little motion")
    elif pair.continuity >= 0.6:
        parts.append("close enough to morph smoothly")
    else:
        parts.append("a bold transition rather than a smooth morph")
    first, last = features[pair.first], features[pair.last]
    if brand:
        k = max(range(len(brand)), key=lambda i: (last.brand_share[i], -i))
        if last.brand_share[k] >= 0.05:
            parts.append(
                f"ends on brand colour {brand[k].label} ({last.brand_share[k]:.0%} of frame)"
            )
    if last.brightness - first.brightness > 30:
        parts.append("moves from dark to bright")
    elif first.brightness - last.brightness > 30:
        parts.append("moves from bright to dark")
    return ", ".join(parts)


def _clamp(value: float) -> float:
    return max(0.0, min(1.0, value))
