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
        pdf=b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n",
        elf=b"\x7fELF\x02\x01\x01\x00" + b"\x00" * 8 + b"\x02\x00\x3e\x00" + b"\x00" * 200,
    )
