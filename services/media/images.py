"""Images checked with Pillow: header size first, then a bounded decode.

Pillow's image handlers read the header only when built, so the declared width and
height are checked before a single pixel is decoded. PNG data is then inflated in small
buffers (never a whole picture in memory), JPEG decoded at 1/8 scale (every block read),
GIF and WebP decode their first frame. Pillow's own guard (`Image.MAX_IMAGE_PIXELS`) is
set to the same limit for the whole process, so any other `Image.open` of an untrusted
file raises `DecompressionBombError` (or warns) instead of decoding a bomb.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from PIL import GifImagePlugin, Image, ImageFile, JpegImagePlugin, PngImagePlugin, WebPImagePlugin

from services.media.limits import DEFAULT_MAX_PIXELS, ProbeError, TooManyPixels, check_pixels

BUFFER = 1 << 20
CHANNELS = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}  # PNG colour type -> samples per pixel
ADAM7 = [(0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2)]
ADAM7 += [(0, 1, 1, 2)]  # (x0, y0, dx, dy) of each interlace pass

# The Pillow handler for each image type `sniff` allows: nothing else is tried on the bytes.
# Built directly (as `Image.open` does after guessing) so the header's size reaches our
# check, with its width and height, before Pillow's own guard can warn or raise.
OPENERS: dict[str, type[ImageFile.ImageFile]] = {
    "image/png": PngImagePlugin.PngImageFile,
    "image/jpeg": JpegImagePlugin.JpegImageFile,
    "image/webp": WebPImagePlugin.WebPImageFile,
    "image/gif": GifImagePlugin.GifImageFile,
}


def guard_pillow(max_pixels: int) -> None:
    """Any `Image.open` in this process refuses (above 2x) or warns (above 1x) past the
    limit: a backstop for code that opens untrusted images without `check_image`."""
    Image.MAX_IMAGE_PIXELS = max_pixels


guard_pillow(DEFAULT_MAX_PIXELS)


@dataclass(frozen=True, slots=True)
class ImageInfo:
    width: int
    height: int


def check_image(path: Path, mime_type: str, *, max_pixels: int = DEFAULT_MAX_PIXELS) -> ImageInfo:
    """Refuse an image above `max_pixels` from its header, then verify and decode it."""
    guard_pillow(max_pixels)
    opener = OPENERS.get(mime_type)
    if opener is None:
        raise ProbeError(f"no image decoder for {mime_type}")
    try:
        with opener(path) as image:  # the header only: no pixel is decoded here
            width, height = image.size
            check_pixels(width, height, max_pixels)
            image.verify()  # structure and checksums (PNG chunks' CRCs), no pixels
        if opener is PngImagePlugin.PngImageFile:
            _inflate_png(path)  # every row of pixel data, a buffer at a time
        else:
            with opener(path) as image:
                if image.format == "JPEG":  # DCT scaling: every block decoded, 1/64 the memory
                    image.draft(image.mode, (max(1, width // 8), max(1, height // 8)))
                image.load()  # the first frame, all of it: a truncated file fails here
    except TooManyPixels:
        raise
    except Image.DecompressionBombError:  # a later GIF frame larger than the limit
        raise TooManyPixels(max_pixels) from None
    except Exception as exc:  # Pillow raises OSError, SyntaxError, ValueError, EOFError...
        raise ProbeError(f"cannot decode: {exc}") from None
    return ImageInfo(width=width, height=height)


def _chunks(path: Path) -> Iterator[tuple[bytes, bytes]]:
    """(type, data) of each chunk after the signature, up to IEND."""
    with path.open("rb") as handle:
        handle.seek(8)
        while header := handle.read(8):
            if len(header) < 8:
                raise ProbeError("truncated chunk header")
            length, kind = struct.unpack(">I4s", header)
            data = handle.read(length)
            if len(data) < length:
                raise ProbeError("truncated chunk")
            handle.seek(4, 1)  # CRC: verify() checked it
            yield kind, data
            if kind == b"IEND":
                return
    raise ProbeError("no IEND chunk")


def _inflate_png(path: Path) -> None:
    """Inflate the image data in bounded buffers and check it holds every row the header
    promises (zlib checks the data itself): what a decoder reads, without the picture."""
    chunks = _chunks(path)
    kind, header = next(chunks)
    if kind != b"IHDR" or len(header) != 13:
        raise ProbeError("no IHDR chunk")
    width, height, depth, colour, _, _, interlace = struct.unpack(">IIBBBBB", header)
    if colour not in CHANNELS:
        raise ProbeError("unknown colour type")
    bits = depth * CHANNELS[colour]

    def size(w: int, h: int) -> int:
        return h * (1 + (w * bits + 7) // 8) if w and h else 0

    passes = ADAM7 if interlace else [(0, 0, 1, 1)]
    expected = sum(
        size((width - x0 + dx - 1) // dx, (height - y0 + dy - 1) // dy) for x0, y0, dx, dy in passes
    )
    inflater = zlib.decompressobj()
    total = 0
    for kind, data in chunks:
        if kind != b"IDAT":
            continue
        while data and not inflater.eof and total < expected:
            total += len(inflater.decompress(data, BUFFER))
            data = inflater.unconsumed_tail
    if total < expected:  # extra data past the picture is ignored, as decoders do
        raise ProbeError("image data is truncated")
