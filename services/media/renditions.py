"""Renditions of a video for each channel: 480p, 720p and 1080p at the video's own
shape, and the social shapes 9:16 and 1:1, either padded (the whole picture, bars on two
sides) or cropped around where the picture's detail is. Never stretched: the picture
keeps its proportions whatever the shape."""

from __future__ import annotations

import asyncio
import enum
from dataclasses import dataclass
from pathlib import Path

import ffmpeg

from services.media.binaries import ffmpeg_path
from services.media.combine import AUDIO_OPTIONS, VIDEO_OPTIONS, inspect_clip
from services.media.ffmpeg_run import MediaError, ProgressCallback, partial_output, run_stream
from services.processes import dies_with_parent

SAMPLE_WIDTH = 96  # the frames smart cropping looks at, scaled down
SAMPLE_FRAMES = 6
SAMPLE_TIMEOUT = 60.0


class Rendition(enum.StrEnum):
    SD_480P = "480p"
    HD_720P = "720p"
    FULL_HD_1080P = "1080p"
    VERTICAL_9_16 = "9:16"
    SQUARE_1_1 = "1:1"


class Fit(enum.StrEnum):
    PAD = "pad"  # the whole picture, with bars
    CROP = "crop"  # filled, cut around the picture's detail


HEIGHTS = {Rendition.SD_480P: 480, Rendition.HD_720P: 720, Rendition.FULL_HD_1080P: 1080}
SOCIAL = {Rendition.VERTICAL_9_16: (1080, 1920), Rendition.SQUARE_1_1: (1080, 1080)}


def _even(value: float) -> int:
    """The nearest even number (H.264's 4:2:0 wants even sides), at least 2."""
    return max(2, 2 * round(value / 2))


@dataclass(frozen=True, slots=True)
class Frame:
    """The output size, and the part of the source (x, y, w, h) that fills it."""

    width: int
    height: int
    crop: tuple[int, int, int, int] | None = None


def size_for(rendition: Rendition, source_w: int, source_h: int) -> tuple[int, int]:
    if rendition in HEIGHTS:
        height = HEIGHTS[rendition]
        return _even(source_w * height / source_h), height
    return SOCIAL[rendition]


async def render(
    source: Path,
    dest: Path,
    rendition: Rendition,
    fit: Fit = Fit.PAD,
    on_progress: ProgressCallback | None = None,
) -> tuple[int, int]:
    """Write the rendition of `source` to `dest` (an .mp4); returns its (width, height)."""
    info = await inspect_clip(source)
    assert info.video is not None
    src_w, src_h = info.video.width, info.video.height
    width, height = size_for(rendition, src_w, src_h)
    stream = ffmpeg.input(str(source))
    video = stream.video
    if rendition in SOCIAL and fit is Fit.CROP:
        x, y, w, h = await smart_crop(source, src_w, src_h, width / height)
        # the window, then filled edge to edge (its even sides are a pixel off the shape)
        video = (
            video.filter("crop", w, h, x, y)
            .filter("scale", width, height, force_original_aspect_ratio="increase")
            .filter("crop", width, height)
        )
    else:
        video = video.filter("scale", width, height, force_original_aspect_ratio="decrease").filter(
            "pad", width, height, "(ow-iw)/2", "(oh-ih)/2", color="black"
        )
    video = video.filter("setsar", 1).filter("format", "yuv420p")
    streams = [video] + ([stream.audio] if info.audio is not None else [])
    options = {**VIDEO_OPTIONS, **(AUDIO_OPTIONS if info.audio is not None else {})}
    with partial_output(dest) as tmp:
        out = ffmpeg.output(*streams, str(tmp), movflags="+faststart", **options)
        await run_stream(out, duration=info.duration, on_progress=on_progress)
    return width, height


async def smart_crop(
    source: Path, src_w: int, src_h: int, aspect: float
) -> tuple[int, int, int, int]:
    """The window of the target aspect (x, y, w, h) that holds the most detail (edges)
    across a few frames of the video, sliding along its long side."""
    if src_w / src_h > aspect:  # wider than the target: slide a window across
        w, h, across = _even(src_h * aspect), src_h, True
    else:
        w, h, across = src_w, _even(src_w / aspect), False
    sample_h = _even(SAMPLE_WIDTH * src_h / src_w)
    frames = await _gray_frames(source, SAMPLE_WIDTH, sample_h)
    energy = _energy(frames, SAMPLE_WIDTH, sample_h, across)
    scale = SAMPLE_WIDTH / src_w
    window = max(1, min(len(energy), round((w if across else h) * scale)))
    best = _best_window(energy, window)
    offset = round(best / scale)
    limit = (src_w - w) if across else (src_h - h)
    offset = max(0, min(limit, offset))
    return (offset, 0, w, h) if across else (0, offset, w, h)


def _energy(frames: list[bytes], width: int, height: int, across: bool) -> list[int]:
    """Edge strength summed per column (across) or per row, over all frames."""
    out = [0] * (width if across else height)
    for frame in frames:
        for y in range(height - 1):
            row = frame[y * width : (y + 1) * width]
            below = frame[(y + 1) * width : (y + 2) * width]
            for x in range(width - 1):
                edge = abs(row[x + 1] - row[x]) + abs(below[x] - row[x])
                out[x if across else y] += edge
    return out


def _best_window(energy: list[int], window: int) -> int:
    """Where a window of `window` cells holds the most energy (the centre on a tie)."""
    sums = [0]
    for value in energy:
        sums.append(sums[-1] + value)
    starts = range(len(energy) - window + 1)
    centre = (len(energy) - window) / 2
    return max(starts, key=lambda s: (sums[s + window] - sums[s], -abs(s - centre)))


async def _gray_frames(source: Path, width: int, height: int) -> list[bytes]:
    proc = await asyncio.create_subprocess_exec(
        ffmpeg_path(), "-nostdin", "-v", "error", "-i", str(source),
        "-vf", f"thumbnail=10,scale={width}:{height},format=gray",
        "-frames:v", str(SAMPLE_FRAMES), "-vsync", "vfr", "-f", "rawvideo", "pipe:1",
        stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE, preexec_fn=dies_with_parent(),
    )  # fmt: skip
    try:
        out, err = await asyncio.wait_for(proc.communicate(), SAMPLE_TIMEOUT)
    except TimeoutError as exc:
        proc.kill()
        await proc.wait()
        raise MediaError("sampling frames for cropping timed out") from exc
    size = width * height
    if proc.returncode != 0 or len(out) < size:
        raise MediaError(f"cannot sample frames: {err.decode(errors='replace')[-300:]}")
    return [out[i : i + size] for i in range(0, len(out) - size + 1, size)]
