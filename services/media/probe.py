"""Width, height and duration read from the media itself (ffprobe, or PyAV without it).

The frame size comes from the stream header and is checked against a pixel limit before
any frame is decoded; the decoders are also opened with FFmpeg's `max_pixels`, so a
frame that grows past the limit mid-stream fails instead of being allocated.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from services.media.binaries import ffprobe_path
from services.media.limits import (
    DEFAULT_MAX_PIXELS,
    ProbeError,
    TooManyPixels,
    check_pixels,
    run_decoder,
)
from services.processes import dies_with_parent

__all__ = ["MediaInfo", "ProbeError", "TooManyPixels", "probe"]


@dataclass(frozen=True, slots=True)
class MediaInfo:
    width: int | None
    height: int | None
    duration_seconds: float | None
    has_video: bool
    has_audio: bool
    frame_count: int | None = None


async def probe(
    path: Path, *, use_ffprobe: bool = False, max_pixels: int = DEFAULT_MAX_PIXELS
) -> MediaInfo:
    """Read the media's streams, and decode its first frame so a broken file is refused.

    PyAV (FFmpeg's own libraries, shipped in its wheel) reads a file in ~3 ms; starting
    the system's ffprobe costs ~150 ms of CPU per file, which 20 clips finishing at once
    feel on two cores. `use_ffprobe` asks for the system ffprobe when it is installed.
    """
    binary = ffprobe_path() if use_ffprobe else None
    if binary is None:
        return await run_decoder(_pyav, path, max_pixels)  # reads and decodes in one open
    info = await _ffprobe(binary, path)
    if info.width is not None and info.height is not None:
        check_pixels(info.width, info.height, max_pixels)
    await run_decoder(_decode_first_frame, path, info.has_video, max_pixels)
    return info


def _limits(max_pixels: int) -> dict[str, str]:
    """Options for the container and every decoder it opens (stream info, first frame)."""
    return {"max_pixels": str(max_pixels)}


def _decode_first_frame(path: Path, video: bool, max_pixels: int) -> None:
    import av

    try:
        with av.open(str(path), options=_limits(max_pixels)) as container:
            _first_frame(container, video, max_pixels)
    except av.FFmpegError as exc:
        raise ProbeError(f"cannot decode: {exc}") from exc


def _first_frame(container: Any, video: bool, max_pixels: int) -> None:
    stream = container.streams.video[0] if video else container.streams.audio[0]
    stream.codec_context.options = _limits(max_pixels)
    if next(iter(container.decode(stream)), None) is None:
        raise ProbeError("cannot decode: no frame")


async def _ffprobe(binary: str, path: Path) -> MediaInfo:
    proc = await asyncio.create_subprocess_exec(
        binary,
        "-v", "error",
        "-print_format", "json",
        "-show_format",
        "-show_streams",
        str(path),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        preexec_fn=dies_with_parent(),
    )  # fmt: skip
    out, err = await proc.communicate()
    if proc.returncode != 0:
        raise ProbeError(err.decode(errors="replace").strip() or "ffprobe failed")
    data: dict[str, Any] = json.loads(out or b"{}")
    streams: list[dict[str, Any]] = data.get("streams", [])
    video = next((s for s in streams if s.get("codec_type") == "video"), None)
    audio = next((s for s in streams if s.get("codec_type") == "audio"), None)
    if video is None and audio is None:
        raise ProbeError("no audio or video stream")
    duration = data.get("format", {}).get("duration") or (video or audio or {}).get("duration")
    frames = video.get("nb_frames") if video else None
    return MediaInfo(
        width=int(video["width"]) if video else None,
        height=int(video["height"]) if video else None,
        duration_seconds=float(duration) if duration not in (None, "N/A") else None,
        has_video=video is not None,
        has_audio=audio is not None,
        frame_count=int(frames) if frames and str(frames).isdigit() else None,
    )


def _pyav(path: Path, max_pixels: int) -> MediaInfo:
    import av

    try:
        with av.open(str(path), options=_limits(max_pixels)) as container:
            video = next(iter(container.streams.video), None)
            audio = next(iter(container.streams.audio), None)
            if video is None and audio is None:
                raise ProbeError("no audio or video stream")
            if video is not None:
                _check_frame_size(video.codec_context, max_pixels)
            duration = container.duration / 1_000_000 if container.duration else None
            info = MediaInfo(
                width=video.codec_context.width if video else None,
                height=video.codec_context.height if video else None,
                duration_seconds=duration,
                has_video=video is not None,
                has_audio=audio is not None,
                frame_count=(video.frames or None) if video else None,
            )
            try:
                _first_frame(container, info.has_video, max_pixels)
            except av.FFmpegError as exc:
                raise ProbeError(f"cannot decode: {exc}") from exc
            return info
    except av.FFmpegError as exc:
        raise ProbeError(str(exc)) from exc


def _check_frame_size(context: Any, max_pixels: int) -> None:
    """The header's frame size, checked before any frame is decoded."""
    width, height = int(context.width or 0), int(context.height or 0)
    if width <= 0 or height <= 0:
        raise TooManyPixels(max_pixels, width, height)
    check_pixels(width, height, max_pixels)
