"""The local provider's media, made by real ffmpeg runs at small sizes."""

from __future__ import annotations

import asyncio
import itertools
import signal
from pathlib import Path
from typing import Any

import av
import pytest
from PIL import Image

from services.media.binaries import ffmpeg_path
from services.media.ffmpeg_run import MediaError, ProgressTracker, run_ffmpeg
from services.media.probe import probe
from services.media.render import parse_hex_color, render_audio, render_clip, render_image

W, H, FPS = 320, 180, 25


class Recorder:
    def __init__(self) -> None:
        self.values: list[float] = []

    async def __call__(self, fraction: float) -> None:
        self.values.append(fraction)


def assert_progress(values: list[float]) -> None:
    assert values, "no progress reported"
    assert values[-1] == 1.0
    assert values.count(1.0) == 1
    assert all(0.0 <= a < b for a, b in itertools.pairwise(values))


def leftovers(folder: Path) -> list[str]:
    """Temporary outputs that should have been removed or renamed."""
    return [p.name for p in folder.iterdir() if ".partial" in p.name]


def decoded_frames(path: Path) -> int:
    with av.open(str(path)) as container:
        return sum(1 for _ in container.decode(video=0))


def centre_rgb(frame: av.VideoFrame) -> tuple[int, int, int]:
    image: Image.Image = frame.to_image()  # type: ignore[no-untyped-call]
    r, g, b = image.convert("RGB").getpixel((image.width // 2, image.height // 2))  # type: ignore[misc]
    return int(r), int(g), int(b)


@pytest.fixture(scope="module")
async def stills(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    folder = tmp_path_factory.mktemp("stills")
    first, last = folder / "first.png", folder / "last.png"
    await render_image(first, prompt="first", width=W, height=H, colors=["#ff0000"])
    # Portrait and odd-sized: render_clip must scale and crop it to the frame.
    await render_image(last, prompt="last", width=201, height=333, colors=["#00f", "0f0"])
    return first, last


# --- images -------------------------------------------------------------------------


async def test_image_is_png_of_the_size_and_deterministic(tmp_path: Path) -> None:
    prompt = "A sunny beach ad for a cold drink, bright and playful, " * 4
    colors = ["#FF6600", "#003366", "ffee00"]
    a, b, c = tmp_path / "a.png", tmp_path / "b.png", tmp_path / "c.png"
    progress = Recorder()
    await render_image(a, prompt=prompt, width=W, height=H, colors=colors, on_progress=progress)
    await render_image(b, prompt=prompt, width=W, height=H, colors=colors)
    await render_image(c, prompt="another prompt", width=W, height=H, colors=colors)
    with Image.open(a) as image:
        assert image.format == "PNG"
        assert image.size == (W, H)
    assert a.read_bytes() == b.read_bytes()
    assert a.read_bytes() != c.read_bytes()
    assert progress.values == [1.0]
    assert leftovers(tmp_path) == []


async def test_image_uses_the_brand_colours(tmp_path: Path) -> None:
    dest = tmp_path / "red.png"
    await render_image(dest, prompt="", width=64, height=64, colors=["#ff0000"])
    with Image.open(dest) as image:
        r, g, b = image.convert("RGB").getpixel((1, 1))  # type: ignore[misc]
    assert r > g
    assert r > b


async def test_image_without_colours_uses_a_default_palette(tmp_path: Path) -> None:
    dest = tmp_path / "plain.png"
    await render_image(dest, prompt="x" * 500, width=100, height=40, colors=[])
    assert dest.stat().st_size > 0


@pytest.mark.parametrize("bad", ["red", "#12345", "#ggg000", ""])
async def test_bad_colour_is_rejected(tmp_path: Path, bad: str) -> None:
    with pytest.raises(ValueError, match="hex colour"):
        await render_image(tmp_path / "x.png", prompt="p", width=10, height=10, colors=[bad])


def test_parse_hex_color() -> None:
    assert parse_hex_color("#0a0B0c") == (10, 11, 12)
    assert parse_hex_color("fff") == (255, 255, 255)


# --- clips --------------------------------------------------------------------------


async def test_clip_has_exact_frames_size_and_codec(
    tmp_path: Path, stills: tuple[Path, Path]
) -> None:
    dest = tmp_path / "clip.mp4"
    progress = Recorder()
    first, last = stills
    await render_clip(
        dest, first=first, last=last, duration=2.0, width=W, height=H, fps=FPS,
        on_progress=progress,
    )  # fmt: skip
    info = await probe(dest)
    assert (info.width, info.height) == (W, H)
    assert info.duration_seconds == pytest.approx(2.0, abs=1 / FPS)
    assert decoded_frames(dest) == 50
    with av.open(str(dest)) as container:
        stream = container.streams.video[0]
        assert stream.codec_context.name == "h264"
        pixel_format = stream.codec_context.format
        assert pixel_format is not None
        assert pixel_format.name == "yuv420p"
        assert stream.average_rate == FPS
    assert_progress(progress.values)


@pytest.mark.parametrize(("duration", "frames"), [(0.04, 1), (0.13, 3), (1.01, 25)])
async def test_clip_frame_count_is_rounded_duration(
    tmp_path: Path, stills: tuple[Path, Path], duration: float, frames: int
) -> None:
    dest = tmp_path / "short.mp4"
    first, last = stills
    await render_clip(
        dest, first=first, last=last, duration=duration, width=160, height=90, fps=FPS
    )
    assert decoded_frames(dest) == frames


async def test_clip_moves_from_first_to_last(tmp_path: Path, stills: tuple[Path, Path]) -> None:
    first, last = tmp_path / "red.png", tmp_path / "blue.png"
    Image.new("RGB", (64, 64), (255, 0, 0)).save(first)
    Image.new("RGB", (64, 64), (0, 0, 255)).save(last)
    dest = tmp_path / "clip.mp4"
    await render_clip(dest, first=first, last=last, duration=1.0, width=64, height=64, fps=FPS)
    with av.open(str(dest)) as container:
        centres = [centre_rgb(frame) for frame in container.decode(video=0)]
    assert centres[0][0] > 200 > centres[0][2]
    assert centres[-1][2] > 200 > centres[-1][0]


async def test_clip_from_unreadable_image_raises_media_error(
    tmp_path: Path, stills: tuple[Path, Path]
) -> None:
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"\x89PNG\r\n\x1a\n" + b"not really" * 10)
    dest = tmp_path / "clip.mp4"
    with pytest.raises(MediaError) as caught:
        await render_clip(
            dest, first=broken, last=stills[1], duration=1, width=W, height=H, fps=FPS
        )
    assert caught.value.stderr_tail
    assert not dest.exists()
    assert leftovers(tmp_path) == []


async def test_clip_rejects_odd_size(tmp_path: Path, stills: tuple[Path, Path]) -> None:
    with pytest.raises(ValueError, match="even"):
        await render_clip(
            tmp_path / "x.mp4", first=stills[0], last=stills[1], duration=1, width=321,
            height=180, fps=FPS,
        )  # fmt: skip


# --- audio --------------------------------------------------------------------------


async def test_wav_bed_is_sample_exact(tmp_path: Path) -> None:
    dest = tmp_path / "bed.wav"
    progress = Recorder()
    await render_audio(dest, duration=1.5, prompt="upbeat", on_progress=progress)
    with av.open(str(dest)) as container:
        stream = container.streams.audio[0]
        samples = sum(f.samples for f in container.decode(audio=0))
        assert stream.codec_context.layout.nb_channels == 2
        assert samples == round(1.5 * stream.codec_context.sample_rate)
    assert_progress(progress.values)


async def test_beds_differ_by_prompt_and_repeat_for_the_same(tmp_path: Path) -> None:
    a, b, c = tmp_path / "a.wav", tmp_path / "b.wav", tmp_path / "c.wav"
    await render_audio(a, duration=0.5, prompt="calm")
    await render_audio(b, duration=0.5, prompt="calm")
    await render_audio(c, duration=0.5, prompt="energetic")
    assert a.read_bytes() == b.read_bytes() != c.read_bytes()


async def test_m4a_bed_has_the_duration(tmp_path: Path) -> None:
    dest = tmp_path / "bed.m4a"
    await render_audio(dest, duration=2.0, prompt="calm")
    info = await probe(dest)
    assert info.has_audio
    assert not info.has_video
    assert info.duration_seconds == pytest.approx(2.0, abs=0.03)


async def test_audio_rejects_unknown_format(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"\.wav or \.m4a"):
        await render_audio(tmp_path / "bed.ogg", duration=1, prompt="x")


# --- the runner ---------------------------------------------------------------------


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_tracker_coalesces_and_never_goes_back() -> None:
    clock = FakeClock()
    tracker = ProgressTracker(10.0, min_interval=0.25, clock=clock)
    assert tracker.feed("out_time_us=N/A") is None
    assert tracker.feed("frame=3") is None
    assert tracker.feed("out_time_us=1000000") == pytest.approx(0.1)
    clock.now = 0.1
    assert tracker.feed("out_time_us=2000000") is None  # too soon
    clock.now = 0.5
    assert tracker.feed("out_time_us=500000") is None  # backwards
    assert tracker.feed("out_time_us=3000000\n") == pytest.approx(0.3)
    clock.now = 1.0
    assert tracker.feed("out_time_us=99000000") == pytest.approx(0.999)  # 1.0 waits for exit
    assert tracker.feed("progress=end") is None
    assert tracker.finish() == 1.0
    assert tracker.finish() is None


def test_tracker_without_duration_only_finishes() -> None:
    tracker = ProgressTracker(None)
    assert tracker.feed("out_time_us=1000000") is None
    assert tracker.finish() == 1.0


async def test_failure_raises_with_stderr_tail(tmp_path: Path) -> None:
    missing = tmp_path / "missing.mp4"
    with pytest.raises(MediaError, match=r"missing\.mp4") as caught:
        await run_ffmpeg([ffmpeg_path(), "-i", str(missing), str(tmp_path / "out.mp4")])
    assert caught.value.returncode not in (None, 0)


async def test_cancelling_kills_ffmpeg(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    started: list[asyncio.subprocess.Process] = []
    real = asyncio.create_subprocess_exec

    async def spy(*args: Any, **kwargs: Any) -> asyncio.subprocess.Process:
        proc = await real(*args, **kwargs)
        started.append(proc)
        return proc

    monkeypatch.setattr(asyncio, "create_subprocess_exec", spy)
    running = asyncio.Event()

    async def on_progress(_: float) -> None:
        running.set()

    # Real-time paced (-re), so this would take a minute if it were not killed.
    cmd = [ffmpeg_path(), "-re", "-f", "lavfi", "-i", "testsrc=size=64x64:rate=25", "-t", "60"]
    task = asyncio.create_task(
        run_ffmpeg([*cmd, "-f", "null", "-"], duration=60, on_progress=on_progress)
    )
    await running.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert started[0].returncode == -signal.SIGKILL
