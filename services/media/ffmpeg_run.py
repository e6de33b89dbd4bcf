"""Run one ffmpeg command without blocking the event loop, reporting progress as 0..1.

ffmpeg writes `key=value` lines to stdout (`-progress pipe:1`); `out_time_us` over
the expected output duration is the fraction done. Reports are coalesced to a few a
second, never go backwards, and end with exactly one 1.0 once ffmpeg has succeeded.

No ffmpeg outlives the process that started it: a cancelled run kills it, and on Linux
the kernel kills it when its parent dies (`dies_with_parent`), SIGKILL included.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
import uuid
from collections import deque
from collections.abc import Awaitable, Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import ffmpeg

from services.media.binaries import ffmpeg_path
from services.processes import dies_with_parent

ProgressCallback = Callable[[float], Awaitable[None]]

GLOBAL_ARGS = ("-hide_banner", "-nostdin", "-nostats", "-loglevel", "error", "-progress", "pipe:1")
STDERR_TAIL_LINES = 25
MIN_REPORT_INTERVAL = 0.25  # seconds: at most ~4 progress calls a second


class MediaError(Exception):
    """ffmpeg failed (or could not read an input); carries the tail of its stderr."""

    def __init__(
        self, message: str, *, returncode: int | None = None, stderr_tail: str = ""
    ) -> None:
        super().__init__(f"{message}: {stderr_tail}" if stderr_tail else message)
        self.returncode = returncode
        self.stderr_tail = stderr_tail


class ProgressTracker:
    """Turns `-progress` lines into increasing fractions, at most one per `min_interval`."""

    def __init__(
        self,
        duration: float | None,
        *,
        min_interval: float = MIN_REPORT_INTERVAL,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._duration = duration if duration and duration > 0 else None
        self._min_interval = min_interval
        self._clock = clock
        self._last_value = 0.0
        self._last_time: float | None = None
        self._done = False

    def feed(self, line: str) -> float | None:
        """The fraction to report for this line now, or None to stay quiet."""
        key, sep, value = line.strip().partition("=")
        if not sep or key != "out_time_us" or self._duration is None or self._done:
            return None
        try:
            micros = int(value)
        except ValueError:  # "N/A" before the first frame
            return None
        # 1.0 is kept for finish(): ffmpeg may still be writing the trailer.
        fraction = min(max(micros / 1e6 / self._duration, 0.0), 0.999)
        now = self._clock()
        if fraction <= self._last_value:
            return None
        if self._last_time is not None and now - self._last_time < self._min_interval:
            return None
        self._last_value, self._last_time = fraction, now
        return fraction

    def finish(self) -> float | None:
        """1.0, once."""
        if self._done:
            return None
        self._done = True
        self._last_value = 1.0
        return 1.0


async def run_ffmpeg(
    cmd: Sequence[str],
    *,
    duration: float | None = None,
    on_progress: ProgressCallback | None = None,
) -> None:
    """Run `cmd` (binary first, as `ffmpeg.compile` returns it); raise MediaError on failure.

    `duration` is the expected output duration in seconds, the denominator of progress.
    Cancelling the awaiting task kills ffmpeg.
    """
    if not cmd:
        raise ValueError("empty ffmpeg command")
    args = [cmd[0], *GLOBAL_ARGS, *cmd[1:]]
    try:
        proc = await asyncio.create_subprocess_exec(
            *args,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            preexec_fn=dies_with_parent(),
        )
    except OSError as exc:
        raise MediaError(f"cannot start ffmpeg ({cmd[0]})") from exc
    assert proc.stdout is not None
    assert proc.stderr is not None
    tail: deque[str] = deque(maxlen=STDERR_TAIL_LINES)
    stderr_task = asyncio.create_task(_collect(proc.stderr, tail))
    tracker = ProgressTracker(duration)
    try:
        async for raw in proc.stdout:
            fraction = tracker.feed(raw.decode(errors="replace"))
            if fraction is not None and on_progress is not None:
                await on_progress(fraction)
        returncode = await proc.wait()
        await stderr_task
    except BaseException:
        stderr_task.cancel()
        if proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
            await asyncio.shield(proc.wait())
        raise
    if returncode != 0:
        raise MediaError(
            f"ffmpeg exited with status {returncode}",
            returncode=returncode,
            stderr_tail="\n".join(tail).strip(),
        )
    final = tracker.finish()
    if final is not None and on_progress is not None:
        await on_progress(final)


async def run_stream(
    stream: Any,
    *,
    duration: float | None = None,
    on_progress: ProgressCallback | None = None,
) -> None:
    """Compile an ffmpeg-python output node against our ffmpeg binary and run it."""
    cmd: list[str] = ffmpeg.compile(stream, cmd=ffmpeg_path(), overwrite_output=True)
    await run_ffmpeg(cmd, duration=duration, on_progress=on_progress)


@contextlib.contextmanager
def partial_output(dest: Path) -> Iterator[Path]:
    """A temporary sibling of `dest` (same suffix, so ffmpeg picks the same muxer),
    moved onto `dest` on success and removed on any failure or cancellation, so a
    rerun never finds a half-written file where the result should be."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(f".{dest.stem}.{uuid.uuid4().hex[:8]}.partial{dest.suffix}")
    try:
        yield tmp
        os.replace(tmp, dest)
    finally:
        tmp.unlink(missing_ok=True)


async def _collect(reader: asyncio.StreamReader, tail: deque[str]) -> None:
    async for raw in reader:
        line = raw.decode(errors="replace").rstrip()
        if line:
            tail.append(line)
