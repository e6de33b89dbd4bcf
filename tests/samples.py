"""Real media files made with ffmpeg for upload tests (cached per test session)."""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path

from services.media.binaries import ffmpeg_path


@dataclass(frozen=True)
class Samples:
    png: bytes
    jpeg: bytes
    mp4: bytes
    wav: bytes
    pdf: bytes
    elf: bytes


def _ffmpeg(out: Path, *args: str) -> bytes:
    subprocess.run(
        [ffmpeg_path(), "-y", "-loglevel", "error", *args, str(out)],
        check=True,
        capture_output=True,
    )
    return out.read_bytes()


def make_samples(directory: Path) -> Samples:
    return Samples(
        png=_ffmpeg(
            directory / "a.png", "-f", "lavfi", "-i", "testsrc=size=64x48", "-frames:v", "1"
        ),
        jpeg=_ffmpeg(
            directory / "a.jpg", "-f", "lavfi", "-i", "color=c=blue:size=80x60", "-frames:v", "1"
        ),
        mp4=_ffmpeg(
            directory / "a.mp4",
            "-f",
            "lavfi",
            "-i",
            "testsrc=size=160x90:rate=25:duration=2",
            "-c:v",
            "libx264",
            "-pix_fmt",
            "yuv420p",
        ),
        wav=_ffmpeg(directory / "a.wav", "-f", "lavfi", "-i", "sine=frequency=440:duration=1.5"),
        pdf=real_pdf(1),  # parsed on upload: a header with junk after it is refused
        elf=b"\x7fELF\x02\x01\x01\x00" + b"\x00" * 8 + b"\x02\x00\x3e\x00" + b"\x00" * 200,
    )


# Hostile and edge-case files for the media-safety tests (made on demand, each fast).


def png_bomb(width: int = 16000, height: int = 16000, *, rgb: bool = False) -> bytes:
    """A valid PNG whose pixels are all zero: tiny on disk, `width * height` when decoded.

    1-bit grey by default (~30 KB for 16000x16000); `rgb=True` gives 8-bit RGB, the ~750 KB
    file that decodes to 768 MB.
    """
    import struct
    import zlib

    def chunk(kind: bytes, body: bytes) -> bytes:
        crc = zlib.crc32(kind + body)
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", crc)

    depth, colour, row_bytes = (8, 2, width * 3) if rgb else (1, 0, (width + 7) // 8)
    packer = zlib.compressobj(9)
    row = bytes(1 + row_bytes)  # filter byte 0, then zeros
    rows_per_feed = max(1, (1 << 22) // len(row))
    idat = bytearray()
    for start in range(0, height, rows_per_feed):
        idat += packer.compress(row * min(rows_per_feed, height - start))
    idat += packer.flush()
    header = struct.pack(">IIBBBBB", width, height, depth, colour, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", bytes(idat))
        + chunk(b"IEND", b"")
    )


def truncated_jpeg(directory: Path) -> bytes:
    """A JPEG whose header is whole but whose scan stops half-way."""
    whole = _ffmpeg(
        directory / "busy.jpg", "-f", "lavfi", "-i", "testsrc=size=320x240", "-frames:v", "1"
    )
    scan = whole.index(b"\xff\xda")  # start of scan: every header segment comes before it
    return whole[: scan + (len(whole) - scan) // 2]


def fake_pdf() -> bytes:
    """A PDF header followed by junk: what magic-number sniffing alone accepts."""
    return b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n" + bytes(range(256)) * 16 + b"\n%%EOF\n"


def real_pdf(pages: int = 2) -> bytes:
    """A well-formed PDF with `pages` blank pages, written by pypdf."""
    import io

    from pypdf import PdfWriter

    writer = PdfWriter()
    for _ in range(pages):
        writer.add_blank_page(width=612, height=792)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def video_bomb(directory: Path, side: int = 16000) -> bytes:
    """A one-frame Matroska/MJPEG file whose headers (track and JPEG frame) declare a
    `side`x`side` picture; its data is a 256x256 frame's."""
    small = _ffmpeg(
        directory / "small.mkv",
        "-f", "lavfi", "-i", "color=c=red:size=256x256",
        "-frames:v", "1", "-c:v", "mjpeg",
    )  # fmt: skip
    big = side.to_bytes(2, "big")
    for old, new in [
        (b"\xb0\x82\x01\x00", b"\xb0\x82" + big),  # Matroska PixelWidth, 2 bytes
        (b"\xba\x82\x01\x00", b"\xba\x82" + big),  # Matroska PixelHeight
        (b"\xff\xc0\x00\x11\x08\x01\x00\x01\x00", b"\xff\xc0\x00\x11\x08" + big + big),  # SOF0
    ]:
        assert small.count(old) == 1, f"the sample's layout changed: {old!r}"
        small = small.replace(old, new)
    return small
