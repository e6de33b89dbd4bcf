"""What the media library shows for an asset: a poster frame for an image or a video (a
JPEG at most MAX_SIDE on its long side, decoded in process with Pillow or PyAV) and a
waveform for a track (a PNG drawn by ffmpeg). Made when the asset is stored; a document
has none."""

from __future__ import annotations

import asyncio
import io
import logging
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, ImageOps

from db.models.enums import AssetKind
from services.media.binaries import ffmpeg_path
from services.processes import dies_with_parent

log = logging.getLogger(__name__)

MAX_SIDE = 320
WAVEFORM = (640, 120)
WAVEFORM_COLOUR = "#4f46e5"
POSTER_AT = 1.0  # seconds into a video, or a quarter of a shorter one
TIMEOUT = 30.0


@dataclass(frozen=True, slots=True)
class Thumbnail:
    data: bytes
    mime_type: str
    width: int
    height: int


def fitted(width: int, height: int, max_side: int = MAX_SIDE) -> tuple[int, int]:
    """The size within `max_side` that keeps the shape (never larger; even sides)."""
    scale = min(1.0, max_side / max(width, height))
    return max(2, 2 * round(width * scale / 2)), max(2, 2 * round(height * scale / 2))


async def make_thumbnail(
    path: Path,
    kind: AssetKind,
    width: int | None,
    height: int | None,
    duration: float | None,
) -> Thumbnail | None:
    """The asset's thumbnail, or None when it has none (a document) or ffmpeg could not
    make one (logged: the asset itself is fine, its decoder read it)."""
    if kind is AssetKind.AUDIO:
        w, h = WAVEFORM
        graph = f"showwavespic=s={w}x{h}:colors={WAVEFORM_COLOUR}:split_channels=0"
        args = ["-i", str(path), "-filter_complex", graph, "-frames:v", "1", "-c:v", "png"]
        return await _run(args, "image/png", w, h, path)
    if kind not in (AssetKind.IMAGE, AssetKind.VIDEO) or not width or not height:
        return None
    w, h = fitted(width, height)
    at = min(POSTER_AT, (duration or 0) / 4)
    try:  # in process, in a thread: a tenth of what starting ffmpeg for it costs
        data = await asyncio.to_thread(_poster, path, kind, (w, h), at)
    except Exception as exc:
        log.warning("thumbnail of %s: %s", path.name, exc)
        return None
    return Thumbnail(data, "image/jpeg", w, h)


def _poster(path: Path, kind: AssetKind, size: tuple[int, int], at: float) -> bytes:
    """A JPEG of the image, or of the video's frame at `at` seconds (from the keyframe
    before it, decoding on until that time)."""
    if kind is AssetKind.IMAGE:
        with Image.open(path) as image:
            image.draft("RGB", size)  # JPEG: decode at a fraction of the size
            picture = ImageOps.exif_transpose(image).convert("RGB").resize(size)
    else:
        import av  # as probe does: PyAV's libraries load when first needed

        with av.open(str(path)) as container:
            stream = container.streams.video[0]
            if at > 0 and stream.time_base:
                container.seek(int(at / stream.time_base), stream=stream)
            frame = None
            for frame in container.decode(stream):
                if frame.time is None or frame.time >= at:
                    break
            if frame is None:
                raise ValueError("no frame to show")
            small = frame.reformat(width=size[0], height=size[1], format="rgb24")  # swscale
            picture = small.to_image()  # type: ignore[no-untyped-call]
    out = io.BytesIO()
    picture.save(out, "JPEG", quality=82)
    return out.getvalue()


async def _run(args: list[str], mime: str, w: int, h: int, path: Path) -> Thumbnail | None:
    proc = await asyncio.create_subprocess_exec(
        ffmpeg_path(), "-nostdin", "-v", "error", *args, "-f", "image2pipe", "pipe:1",
        stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE, preexec_fn=dies_with_parent(),
    )  # fmt: skip
    try:
        out, err = await asyncio.wait_for(proc.communicate(), TIMEOUT)
    except TimeoutError:
        proc.kill()
        await proc.wait()
        log.warning("thumbnail of %s: ffmpeg took longer than %gs", path.name, TIMEOUT)
        return None
    if proc.returncode != 0 or not out:
        log.warning("thumbnail of %s: %s", path.name, err.decode(errors="replace")[-300:])
        return None
    return Thumbnail(out, mime, w, h)
