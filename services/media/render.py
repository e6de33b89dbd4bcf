"""Offline media for the `local` provider: a still, a clip between two stills, a music bed.

Everything is deterministic for the same arguments, so reruns produce the same bytes
(up to the encoder) and tests can assert on it. Images are drawn with Pillow (its
wheels bundle a scalable font, so no system font is needed); video and audio are
ffmpeg filter graphs built with ffmpeg-python and run by `ffmpeg_run`.
"""

from __future__ import annotations

import asyncio
import hashlib
import math
import random
from pathlib import Path
from typing import Any

import ffmpeg
from PIL import Image, ImageDraw, ImageFont

from services.media.ffmpeg_run import ProgressCallback, partial_output, run_stream

DEFAULT_PALETTE: tuple[tuple[int, int, int], ...] = ((0x1F, 0x3A, 0x93), (0xE8, 0x4A, 0x5F))
MAX_SIDE = 8192
X264_OPTIONS: dict[str, Any] = {"vcodec": "libx264", "preset": "veryfast", "crf": 20}
AUDIO_RATE = 44_100
CHORD_SECONDS = 2.0

Font = ImageFont.FreeTypeFont | ImageFont.ImageFont


# --- stills --------------------------------------------------------------------------


async def render_image(
    dest: Path,
    *,
    prompt: str,
    width: int,
    height: int,
    colors: list[str],
    on_progress: ProgressCallback | None = None,
) -> None:
    """A PNG: a gradient of the brand colours with a few translucent shapes, and the
    prompt wrapped on a dark panel in the middle. The same prompt gives the same layout."""
    _check_size(width, height)
    palette = [parse_hex_color(c) for c in colors] or list(DEFAULT_PALETTE)
    await asyncio.to_thread(_write_image, dest, prompt, width, height, palette)
    if on_progress is not None:
        await on_progress(1.0)


def parse_hex_color(value: str) -> tuple[int, int, int]:
    """`#RRGGBB`, `RRGGBB`, `#RGB` or `RGB` -> (r, g, b); anything else is a ValueError."""
    digits = value.strip().removeprefix("#")
    if len(digits) == 3:
        digits = "".join(d * 2 for d in digits)
    if len(digits) != 6 or any(d not in "0123456789abcdefABCDEF" for d in digits):
        raise ValueError(f"not a hex colour: {value!r}")
    return int(digits[0:2], 16), int(digits[2:4], 16), int(digits[4:6], 16)


def _write_image(
    dest: Path, prompt: str, width: int, height: int, palette: list[tuple[int, int, int]]
) -> None:
    # Not for secrets: a reproducible layout per prompt.
    rng = random.Random(hashlib.sha256(prompt.encode()).digest())  # noqa: S311
    image = _background(rng, width, height, palette)
    _draw_caption(image, prompt, width, height)
    with partial_output(dest) as tmp:
        image.convert("RGB").save(tmp, format="PNG")


def _background(
    rng: random.Random, width: int, height: int, palette: list[tuple[int, int, int]]
) -> Image.Image:
    stops = list(palette)
    rng.shuffle(stops)
    if len(stops) == 1:
        stops.append(_shade(stops[0], 0.45))
    strip = Image.new("RGB", (256, 1))
    strip.putdata([_interpolate(stops, i / 255) for i in range(256)])
    side = math.ceil(math.hypot(width, height))
    square = strip.resize((side, side), Image.Resampling.BILINEAR)
    square = square.rotate(rng.uniform(0, 360), resample=Image.Resampling.BILINEAR)
    left, top = (side - width) // 2, (side - height) // 2
    image = square.crop((left, top, left + width, top + height)).convert("RGBA")
    shapes = Image.new("RGBA", (width, height), (0, 0, 0, 0))
    draw = ImageDraw.Draw(shapes)
    for _ in range(rng.randint(3, 6)):
        radius = rng.uniform(0.15, 0.45) * min(width, height)
        cx, cy = rng.uniform(0, width), rng.uniform(0, height)
        fill = (*rng.choice(palette), rng.randint(40, 90))
        box = (cx - radius, cy - radius, cx + radius, cy + radius)
        if rng.random() < 0.5:
            draw.ellipse(box, fill=fill)
        else:
            draw.rectangle(box, fill=fill)
    return Image.alpha_composite(image, shapes)


def _draw_caption(image: Image.Image, prompt: str, width: int, height: int) -> None:
    text = " ".join(prompt.split()) or " "
    max_w, max_h = int(width * 0.8), int(height * 0.7)
    size = max(8, height // 12)
    while True:
        font: Font = ImageFont.load_default(size=size)
        lines = _wrap(text, font, max_w)
        line_h = _line_height(font)
        if len(lines) * line_h <= max_h or size <= 8:
            break
        size = max(8, int(size * 0.85))
    max_lines = max(1, max_h // line_h)
    if len(lines) > max_lines:
        lines = [*lines[: max_lines - 1], _ellipsize(lines[max_lines - 1], font, max_w)]
    block_w = max(int(font.getlength(line)) for line in lines)
    block_h = len(lines) * line_h
    pad = max(4, line_h // 2)
    x0, y0 = (width - block_w) // 2, (height - block_h) // 2
    overlay = Image.new("RGBA", image.size, (0, 0, 0, 0))
    draw = ImageDraw.Draw(overlay)
    draw.rounded_rectangle(
        (x0 - pad, y0 - pad, x0 + block_w + pad, y0 + block_h + pad),
        radius=pad,
        fill=(0, 0, 0, 140),
    )
    for i, line in enumerate(lines):
        line_x = (width - int(font.getlength(line))) // 2
        draw.text((line_x, y0 + i * line_h), line, font=font, fill=(255, 255, 255, 255))
    image.alpha_composite(overlay)


def _wrap(text: str, font: Font, max_width: int) -> list[str]:
    lines: list[str] = []
    current = ""
    for word in text.split(" "):
        candidate = f"{current} {word}" if current else word
        if font.getlength(candidate) <= max_width:
            current = candidate
            continue
        if current:
            lines.append(current)
        current = ""
        for char in word:  # a word wider than the line is broken where it overflows
            if current and font.getlength(current + char) > max_width:
                lines.append(current)
                current = ""
            current += char
    if current:
        lines.append(current)
    return lines or [""]


def _ellipsize(line: str, font: Font, max_width: int) -> str:
    while line and font.getlength(line + "…") > max_width:
        line = line[:-1]
    return line + "…"


def _line_height(font: Font) -> int:
    if isinstance(font, ImageFont.FreeTypeFont):
        ascent, descent = font.getmetrics()
        return int((ascent + descent) * 1.15)
    return 12  # Pillow built without FreeType: the fixed bitmap font


def _interpolate(stops: list[tuple[int, int, int]], t: float) -> tuple[int, int, int]:
    pos = t * (len(stops) - 1)
    i = min(int(pos), len(stops) - 2)
    f = pos - i
    a, b = stops[i], stops[i + 1]
    return (
        round(a[0] + (b[0] - a[0]) * f),
        round(a[1] + (b[1] - a[1]) * f),
        round(a[2] + (b[2] - a[2]) * f),
    )


def _shade(color: tuple[int, int, int], factor: float) -> tuple[int, int, int]:
    return (int(color[0] * factor), int(color[1] * factor), int(color[2] * factor))


# --- clips ---------------------------------------------------------------------------


async def render_clip(
    dest: Path,
    *,
    first: Path,
    last: Path,
    duration: float,
    width: int,
    height: int,
    fps: int,
    on_progress: ProgressCallback | None = None,
) -> None:
    """An H.264 yuv420p MP4 of exactly round(duration*fps) frames: a slow zoom into
    `first`, a crossfade, then a slow pan across `last`. Each image is scaled to cover
    the frame and centre-cropped, so any size or aspect ratio is accepted."""
    _check_size(width, height)
    if width % 2 or height % 2:
        raise ValueError("width and height must be even for yuv420p")
    if fps <= 0 or duration <= 0:
        raise ValueError("duration and fps must be positive")
    frames = max(1, round(duration * fps))
    fade = min(round(0.75 * fps), frames // 3)
    if frames < 2:
        video = _zooming(first, frames, width, height, fps, pan=False)
    else:
        head = math.ceil((frames + fade) / 2)
        tail = frames + fade - head
        a = _zooming(first, head, width, height, fps, pan=False)
        b = _zooming(last, tail, width, height, fps, pan=True)
        if fade:
            video = ffmpeg.filter(
                [a, b], "xfade", transition="fade", duration=fade / fps, offset=(head - fade) / fps
            )
        else:
            video = ffmpeg.concat(a, b, v=1, a=0)
    # Pad with the last frame, then cut: exactly `frames` frames whatever the rounding.
    video = video.filter("tpad", stop_mode="clone", stop=fps).filter("trim", end_frame=frames)
    with partial_output(dest) as tmp:
        out = ffmpeg.output(
            video,
            str(tmp),
            pix_fmt="yuv420p",
            r=fps,
            an=None,
            movflags="+faststart",
            **X264_OPTIONS,
        )
        await run_stream(out, duration=frames / fps, on_progress=on_progress)


def _zooming(image: Path, frames: int, width: int, height: int, fps: int, *, pan: bool) -> Any:
    # Zoompan crops on whole pixels; working at twice the size halves the visible jitter.
    big_w, big_h = width * 2, height * 2
    last = max(frames - 1, 1)
    if pan:
        zoom, x = "1.12", f"(iw-iw/zoom)*on/{last}"
    else:
        zoom, x = f"1+0.12*on/{last}", "(iw-iw/zoom)/2"
    return (
        ffmpeg.input(str(image))
        .filter("scale", big_w, big_h, force_original_aspect_ratio="increase")
        .filter("crop", big_w, big_h)
        .filter("setsar", 1)
        .filter("format", "yuv420p")
        .filter(
            "zoompan", z=zoom, x=x, y="(ih-ih/zoom)/2", d=frames, s=f"{width}x{height}", fps=fps
        )
    )


# --- audio ---------------------------------------------------------------------------

# Semitone offsets of triads for scale degrees, and a few common progressions.
_MAJOR = {1: (0, 4, 7), 2: (2, 5, 9), 4: (5, 9, 12), 5: (7, 11, 14), 6: (9, 12, 16)}
_PROGRESSIONS = ((1, 5, 6, 4), (6, 4, 1, 5), (1, 6, 4, 5), (1, 4, 6, 5), (2, 5, 1, 6))


async def render_audio(
    dest: Path,
    *,
    duration: float,
    prompt: str,
    on_progress: ProgressCallback | None = None,
) -> None:
    """A soft chord progression (sine triads over a bass note, faded in and out), its key
    and progression picked from the prompt. `.wav` gives 16-bit PCM, `.m4a` AAC; the
    length is exactly `duration` (to the sample for WAV)."""
    if duration <= 0:
        raise ValueError("duration must be positive")
    suffix = dest.suffix.lower()
    if suffix not in (".wav", ".m4a"):
        raise ValueError(f"render_audio writes .wav or .m4a, not {dest.suffix!r}")
    seed = hashlib.sha256(prompt.encode()).digest()
    root = 110.0 * 2 ** (seed[0] % 12 / 12)  # A2 .. G#3
    progression = _PROGRESSIONS[seed[1] % len(_PROGRESSIONS)]
    left = _chords_expr(root, progression, detune=1.0)
    right = _chords_expr(root, progression, detune=1.003)
    samples = round(duration * AUDIO_RATE)
    fade_in = min(0.5, duration / 4)
    fade_out = min(1.5, duration / 3)
    audio = (
        ffmpeg.input(
            f"aevalsrc=exprs={_quote(left)}|{_quote(right)}:s={AUDIO_RATE}:c=stereo",
            f="lavfi",
        )
        .filter("atrim", end_sample=samples)
        .filter("afade", t="in", d=fade_in)
        .filter("afade", t="out", st=duration - fade_out, d=fade_out)
    )
    codec: dict[str, Any] = (
        {"acodec": "pcm_s16le"} if suffix == ".wav" else {"acodec": "aac", "audio_bitrate": "160k"}
    )
    with partial_output(dest) as tmp:
        out = ffmpeg.output(audio, str(tmp), ar=AUDIO_RATE, vn=None, **codec)
        await run_stream(out, duration=duration, on_progress=on_progress)


def _chords_expr(root: float, progression: tuple[int, ...], *, detune: float) -> str:
    period = CHORD_SECONDS * len(progression)
    m = f"mod(t,{CHORD_SECONDS})"
    # Quick attack, pluck-like decay to a sustained level, short release: no clicks.
    env = f"min(1,{m}/0.03)*min(1,({CHORD_SECONDS}-{m})/0.08)*(0.35+0.65*exp(-1.5*{m}))"
    terms = []
    for index, degree in enumerate(progression):
        notes = [root * 2 ** (s / 12) * 2 * detune for s in _MAJOR[degree]]
        notes.append(root * 2 ** (_MAJOR[degree][0] / 12) * detune)  # bass
        tones = "+".join(f"sin(2*PI*{f:.3f}*t)" for f in notes)
        terms.append(f"eq(floor(mod(t,{period})/{CHORD_SECONDS}),{index})*({tones})")
    return f"0.11*{env}*({'+'.join(terms)})"


def _quote(expr: str) -> str:
    # The lavfi "file name" is a filter graph: quote the expression so its commas stay.
    return f"'{expr}'"


def _check_size(width: int, height: int) -> None:
    if not (0 < width <= MAX_SIDE and 0 < height <= MAX_SIDE):
        raise ValueError(f"size must be within 1..{MAX_SIDE} on each side, got {width}x{height}")
