"""How fast combine_clips joins 20 matching 6 s 1280x720 30 fps clips.

    .venv/bin/python bench/combine_bench.py [--clips 20] [--seconds 6]

Stream copy is compared with a plain copy of the same bytes (best of 3, page cache
warm); the re-encode paths are reported as output frames encoded per second.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import ffmpeg

from services.media.binaries import ffmpeg_path, ffprobe_path
from services.media.combine import CombineResult, combine_clips, inspect_clip
from services.media.ffmpeg_run import run_stream

WIDTH, HEIGHT, FPS = 1280, 720, 30
REPEATS = 3


async def make_clip(dest: Path, index: int, seconds: float) -> None:
    source = ffmpeg.input(
        f"testsrc2=size={WIDTH}x{HEIGHT}:rate={FPS}:duration={seconds}", f="lavfi"
    ).filter("hue", h=index * 17)
    out = ffmpeg.output(
        source, str(dest), vcodec="libx264", preset="ultrafast", pix_fmt="yuv420p", g=FPS * 2
    )
    await run_stream(out)


async def timed(action: Callable[[], Awaitable[CombineResult]]) -> tuple[float, CombineResult]:
    start = time.perf_counter()
    result = await action()
    return time.perf_counter() - start, result


async def main(count: int, seconds: float) -> None:
    with tempfile.TemporaryDirectory(prefix="combine-bench-") as tmp:
        folder = Path(tmp)
        clips = [folder / f"clip{i:02d}.mp4" for i in range(count)]
        start = time.perf_counter()
        slots = asyncio.Semaphore(os.cpu_count() or 1)

        async def make(index: int) -> None:
            async with slots:
                await make_clip(clips[index], index, seconds)

        await asyncio.gather(*(make(i) for i in range(count)))
        made = time.perf_counter() - start
        total_bytes = sum(c.stat().st_size for c in clips)

        blob, blob_copy = folder / "blob.bin", folder / "blob-copy.bin"
        with blob.open("wb") as out:
            for clip in clips:
                out.write(clip.read_bytes())
        copy_seconds = probe_seconds = copied_s = float("inf")
        for _ in range(REPEATS):  # the cheap operations: best of a few, caches warm
            start = time.perf_counter()
            shutil.copyfile(blob, blob_copy)
            copy_seconds = min(copy_seconds, time.perf_counter() - start)
            start = time.perf_counter()
            await asyncio.gather(*(inspect_clip(c) for c in clips))
            probe_seconds = min(probe_seconds, time.perf_counter() - start)
            wall, copied = await timed(lambda: combine_clips(folder / "copy.mp4", clips))
            copied_s = min(copied_s, wall)
        faded_s, faded = await timed(
            lambda: combine_clips(
                folder / "fade.mp4", clips, transition="fade", transition_duration=0.5
            )
        )
        cut_s, cut = await timed(
            lambda: combine_clips(folder / "cut.mp4", clips, width=1280, height=720, fps=25)
        )

    print(f"ffmpeg:  {ffmpeg_path()}")
    print(f"ffprobe: {ffprobe_path() or '(none: PyAV)'}    cpus: {os.cpu_count()}")
    print(f"inputs:  {count} x {seconds:g} s {WIDTH}x{HEIGHT} {FPS} fps H.264, "
          f"{total_bytes / 1e6:.1f} MB (made in {made:.1f} s)")  # fmt: skip
    print()
    _row("operation", "method", "wall s", "out s", "figure")
    print("-" * 94)
    _row("shutil.copyfile of the same bytes", "-", copy_seconds, "-",
         f"{total_bytes / 1e6 / copy_seconds:.0f} MB/s")  # fmt: skip
    _row("combine_clips, no transition", copied.method, copied_s, copied.duration,
         f"{copied_s / copy_seconds:.1f} x copy")  # fmt: skip
    _row(f"  of which probing {count} inputs", "-", probe_seconds, "-", "")
    _row("combine_clips, xfade fade 0.5 s", faded.method, faded_s, faded.duration,
         _fps(faded, FPS, faded_s))  # fmt: skip
    _row("combine_clips, hard cuts to 25 fps", cut.method, cut_s, cut.duration,
         _fps(cut, 25, cut_s))  # fmt: skip


def _row(label: str, method: str, wall: float | str, out: float | str, figure: str) -> None:
    wall_text = f"{wall:.3f}" if isinstance(wall, float) else wall
    out_text = f"{out:.2f}" if isinstance(out, float) else out
    print(f"{label:<38} {method:<12} {wall_text:>8} {out_text:>8}  {figure:>24}")


def _fps(result: CombineResult, fps: int, wall: float) -> str:
    frames = round(result.duration * fps)
    return f"{frames / wall:.0f} frames/s ({frames} fr)"


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--clips", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=6.0)
    args = parser.parse_args()
    asyncio.run(main(args.clips, args.seconds))
