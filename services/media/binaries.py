"""Where ffmpeg and ffprobe are: the system's when installed, else the pip-shipped ffmpeg."""

from __future__ import annotations

import shutil
from functools import cache


@cache
def ffmpeg_path() -> str:
    found = shutil.which("ffmpeg")
    if found:
        return found
    import imageio_ffmpeg

    return str(imageio_ffmpeg.get_ffmpeg_exe())


@cache
def ffprobe_path() -> str | None:
    """The system ffprobe, or None (probing then goes through PyAV's bundled libraries)."""
    return shutil.which("ffprobe")
