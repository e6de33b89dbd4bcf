"""Joining clips: stream copy when they match, re-encode with transitions otherwise."""

from __future__ import annotations

import asyncio
import itertools
import re
from array import array
from pathlib import Path

import av
import ffmpeg
import pytest

from services.media.binaries import ffmpeg_path
from services.media.combine import TRANSITIONS, combine_clips
from services.media.ffmpeg_run import MediaError, run_stream
from services.media.probe import probe
from services.media.render import render_audio, render_clip, render_image

W, H, FPS = 320, 180, 25
FRAME = 1 / FPS


async def make_clip(
    dest: Path,
    *,
    seconds: float = 1.0,
    size: tuple[int, int] = (W, H),
    fps: int = FPS,
    tone: bool = False,
) -> Path:
    source = f"testsrc2=size={size[0]}x{size[1]}:rate={fps}:duration={seconds}"
    streams = [ffmpeg.input(source, f="lavfi")]
    if tone:
        streams.append(ffmpeg.input(f"sine=frequency=440:duration={seconds}", f="lavfi"))
    out = ffmpeg.output(
        *streams, str(dest), vcodec="libx264", preset="ultrafast", pix_fmt="yuv420p", acodec="aac"
    )
    await run_stream(out)
    return dest


@pytest.fixture(scope="module")
async def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("combine")


@pytest.fixture(scope="module")
async def same(folder: Path) -> list[Path]:
    """Three 1 s clips straight from the same encoder settings."""
    return [await make_clip(folder / f"same{i}.mp4") for i in range(3)]


@pytest.fixture(scope="module")
async def music(folder: Path) -> Path:
    dest = folder / "music.wav"
    await render_audio(dest, duration=5.0, prompt="bed")
    return dest


def video_packets(path: Path) -> list[tuple[bool, bytes]]:
    with av.open(str(path)) as container:
        return [(p.is_keyframe, bytes(p)) for p in container.demux(video=0) if p.size]


def frame_count(path: Path) -> int:
    with av.open(str(path)) as container:
        return sum(1 for _ in container.decode(video=0))


def audio_seconds(path: Path) -> float:
    with av.open(str(path)) as container:
        stream = container.streams.audio[0]
        samples = sum(f.samples for f in container.decode(audio=0))
        return samples / stream.codec_context.sample_rate


def audio_peaks(path: Path) -> list[float]:
    """Peak level of each decoded audio frame (first channel, float planar)."""
    peaks = []
    with av.open(str(path)) as container:
        for frame in container.decode(audio=0):
            assert frame.format.name == "fltp"  # what the AAC decoder gives
            plane = frame.planes[0]
            samples = array("f", bytes(plane))[: frame.samples]
            peaks.append(max((abs(s) for s in samples), default=0.0))
    return peaks


class Recorder:
    def __init__(self) -> None:
        self.values: list[float] = []

    async def __call__(self, fraction: float) -> None:
        self.values.append(fraction)


# --- stream copy --------------------------------------------------------------------


async def test_matching_clips_are_joined_without_reencoding(folder: Path, same: list[Path]) -> None:
    dest = folder / "copied.mp4"
    result = await combine_clips(dest, same)
    assert result.method == "stream_copy"
    info = await probe(dest)
    assert (info.width, info.height) == (W, H)
    assert info.duration_seconds == pytest.approx(3.0, abs=FRAME)
    assert result.duration == pytest.approx(3.0, abs=FRAME)
    assert frame_count(dest) == 75
    # Not re-encoded: the packets are the inputs' packets (keyframes may gain in-band
    # parameter sets from the concat demuxer, so they are only counted).
    copied = video_packets(dest)
    inputs = [packet for clip in same for packet in video_packets(clip)]
    assert len(copied) == len(inputs)
    assert [p for p in copied if not p[0]] == [p for p in inputs if not p[0]]


async def test_single_clip_is_copied_even_if_a_transition_is_asked(
    folder: Path, same: list[Path]
) -> None:
    result = await combine_clips(folder / "one.mp4", same[:1], transition="fade")
    assert result.method == "stream_copy"
    assert result.duration == pytest.approx(1.0, abs=FRAME)


async def test_music_is_cut_to_the_video_and_faded(
    folder: Path, same: list[Path], music: Path
) -> None:
    dest = folder / "scored.mp4"
    result = await combine_clips(dest, same, audio=music)
    assert result.method == "stream_copy"  # the picture is still copied
    info = await probe(dest)
    assert info.has_audio
    assert audio_seconds(dest) == pytest.approx(3.0, abs=FRAME)
    peaks = audio_peaks(dest)
    assert max(peaks[-2:]) < 0.2 * max(peaks)  # faded out at the end


async def test_shorter_music_ends_early(folder: Path, same: list[Path]) -> None:
    short = folder / "short.wav"
    await render_audio(short, duration=0.5, prompt="sting")
    dest = folder / "short-music.mp4"
    result = await combine_clips(dest, same, audio=short)
    assert result.duration == pytest.approx(3.0, abs=FRAME)
    assert audio_seconds(dest) == pytest.approx(0.5, abs=FRAME)


async def test_matching_clips_with_sound_keep_it(folder: Path) -> None:
    clips = [await make_clip(folder / f"toned{i}.mp4", tone=True) for i in range(2)]
    dest = folder / "toned.mp4"
    result = await combine_clips(dest, clips)
    assert result.method == "stream_copy"
    # Copied AAC keeps each clip's encoder priming and padding (~45 ms a clip here):
    # the extra samples overlap at the joins, they do not shift later clips.
    assert 2.0 <= audio_seconds(dest) <= 2.0 + 2 * 0.05


async def test_clips_with_and_without_sound_are_reencoded(folder: Path, same: list[Path]) -> None:
    toned = await make_clip(folder / "toned-extra.mp4", tone=True)
    dest = folder / "half-toned.mp4"
    result = await combine_clips(dest, [toned, same[0]])
    assert result.method == "reencode"
    assert result.duration == pytest.approx(2.0, abs=FRAME)
    assert audio_seconds(dest) == pytest.approx(2.0, abs=FRAME)


# --- re-encode ----------------------------------------------------------------------


async def test_crossfade_shortens_by_the_overlaps(folder: Path, same: list[Path]) -> None:
    dest = folder / "faded.mp4"
    progress = Recorder()
    result = await combine_clips(
        dest, same, transition="fade", transition_duration=0.4, on_progress=progress
    )
    assert result.method == "reencode"
    expected = 3 * 1.0 - 2 * 0.4
    info = await probe(dest)
    assert info.duration_seconds == pytest.approx(expected, abs=FRAME)
    assert result.duration == pytest.approx(expected, abs=FRAME)
    assert frame_count(dest) == round(expected * FPS)
    assert progress.values[-1] == 1.0
    assert progress.values.count(1.0) == 1
    assert all(0 <= a < b for a, b in itertools.pairwise(progress.values))


async def test_crossfade_with_music(folder: Path, same: list[Path], music: Path) -> None:
    dest = folder / "faded-music.mp4"
    result = await combine_clips(
        dest, same, transition="wipeleft", transition_duration=0.2, audio=music
    )
    assert result.duration == pytest.approx(2.6, abs=FRAME)
    assert audio_seconds(dest) == pytest.approx(2.6, abs=FRAME)


async def test_resize_request_reencodes_with_hard_cuts(folder: Path, same: list[Path]) -> None:
    dest = folder / "square.mp4"
    result = await combine_clips(dest, same, width=160, height=160, fps=30)
    assert result.method == "reencode"
    assert (result.width, result.height) == (160, 160)
    assert result.duration == pytest.approx(3.0, abs=1 / 30)
    assert frame_count(dest) == 90


async def test_mismatched_clips_take_the_first_ones_format(folder: Path) -> None:
    a = await make_clip(folder / "wide.mp4", seconds=1.0)
    b = await make_clip(folder / "square30.mp4", seconds=1.2, size=(240, 240), fps=30)
    dest = folder / "mixed.mp4"
    result = await combine_clips(dest, [a, b])
    assert result.method == "reencode"
    assert (result.width, result.height) == (W, H)
    assert result.duration == pytest.approx(2.2, abs=FRAME)
    with av.open(str(dest)) as container:
        stream = container.streams.video[0]
        assert stream.codec_context.name == "h264"
        assert stream.average_rate == FPS
        assert stream.codec_context.sample_aspect_ratio in (None, 1)


async def test_clip_sound_is_kept_and_crossfaded(folder: Path) -> None:
    loud = await make_clip(folder / "tone.mp4", tone=True)
    quiet = await make_clip(folder / "silent.mp4")
    dest = folder / "with-sound.mp4"
    result = await combine_clips(
        dest, [loud, quiet, loud], transition="dissolve", transition_duration=0.2
    )
    assert result.duration == pytest.approx(2.6, abs=FRAME)
    assert audio_seconds(dest) == pytest.approx(2.6, abs=FRAME)


@pytest.mark.parametrize("transition", ["slideup", "circleopen", "fadeblack", "zoomin"])
async def test_other_transitions_render(folder: Path, same: list[Path], transition: str) -> None:
    result = await combine_clips(
        folder / f"{transition}.mp4", same[:2], transition=transition, transition_duration=0.2
    )
    assert result.duration == pytest.approx(1.8, abs=FRAME)


@pytest.mark.parametrize("joins", [["none", "fade"], ["fade", "none"], ["none", "none", "fade"]])
async def test_cuts_and_transitions_mix(folder: Path, same: list[Path], joins: list[str]) -> None:
    # A storyboard picks a transition per scene: a cut (concat) ahead of an xfade must
    # hand it frames in the time base the xfade's other input has.
    clips = [*same, same[0]][: len(joins) + 1]
    dest = folder / f"mixed-{'-'.join(joins)}.mp4"
    result = await combine_clips(dest, clips, transition=joins, transition_duration=0.2)
    assert result.method == "reencode"
    expected = len(clips) - 0.2 * joins.count("fade")
    assert result.duration == pytest.approx(expected, abs=FRAME)
    assert frame_count(dest) == round(expected * FPS)


async def test_every_listed_transition_exists_in_this_ffmpeg() -> None:
    proc = await asyncio.create_subprocess_exec(
        ffmpeg_path(), "-hide_banner", "-h", "filter=xfade", stdout=asyncio.subprocess.PIPE
    )
    out, _ = await proc.communicate()
    names = set(re.findall(r"^\s+(\w+)\s+-?\d+\s", out.decode(), flags=re.MULTILINE))
    assert set(TRANSITIONS) - {"none"} <= names


# --- errors -------------------------------------------------------------------------


async def test_unknown_transition_is_rejected(folder: Path, same: list[Path]) -> None:
    with pytest.raises(ValueError, match="unknown transition 'swirl'"):
        await combine_clips(folder / "x.mp4", same, transition="swirl")


async def test_transition_longer_than_a_clip_is_rejected(folder: Path, same: list[Path]) -> None:
    with pytest.raises(ValueError, match="shortest clip"):
        await combine_clips(folder / "x.mp4", same, transition="fade", transition_duration=1.0)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [({"width": 161}, "even"), ({"fps": 0}, "fps"), ({"transition_duration": 0}, "positive")],
)
async def test_bad_arguments_are_rejected(
    folder: Path, same: list[Path], kwargs: dict[str, int], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        await combine_clips(folder / "x.mp4", same, transition="fade", **kwargs)  # type: ignore[arg-type]


async def test_no_clips_is_rejected(folder: Path) -> None:
    with pytest.raises(ValueError, match="no clips"):
        await combine_clips(folder / "x.mp4", [])


async def test_garbage_clip_raises_media_error(folder: Path, same: list[Path]) -> None:
    garbage = folder / "garbage.mp4"
    garbage.write_bytes(b"\x00\x00\x00\x18ftypmp42" + bytes(range(256)) * 8)
    dest = folder / "never.mp4"
    with pytest.raises(MediaError, match=r"garbage\.mp4"):
        await combine_clips(dest, [same[0], garbage])
    assert not dest.exists()


async def test_truncated_clip_raises_media_error(folder: Path, same: list[Path]) -> None:
    data = same[1].read_bytes()
    truncated = folder / "truncated.mp4"
    truncated.write_bytes(data[: len(data) // 2])
    with pytest.raises(MediaError):
        await combine_clips(folder / "never.mp4", [same[0], truncated], transition="fade")


async def test_audio_only_clip_is_rejected(folder: Path, same: list[Path], music: Path) -> None:
    with pytest.raises(MediaError, match="no video stream"):
        await combine_clips(folder / "never.mp4", [same[0], music])


async def test_crossfades_land_where_the_clips_are(folder: Path) -> None:
    colours = {"red": (255, 0, 0), "lime": (0, 255, 0), "blue": (0, 0, 255)}
    clips = []
    for name in colours:
        dest = folder / f"{name}.mp4"
        source = ffmpeg.input(f"color=c={name}:size=64x64:rate={FPS}:duration=1", f="lavfi")
        await run_stream(ffmpeg.output(source, str(dest), vcodec="libx264", pix_fmt="yuv420p"))
        clips.append(dest)
    dest = folder / "rgb.mp4"
    await combine_clips(dest, clips, transition="fade", transition_duration=0.4)
    with av.open(str(dest)) as container:
        centres = [centre_rgb(frame) for frame in container.decode(video=0)]
    # red alone until 0.6 s, red->lime 0.6-1.0, lime 1.0-1.2, lime->blue 1.2-1.6, blue to 2.2
    for index, expected in [(10, "red"), (27, "lime"), (50, "blue"), (54, "blue")]:
        assert dominant(centres[index]) == colours[expected], index
    r, g, _ = centres[20]  # 0.8 s: half way through the first fade
    assert 80 < r < 180
    assert 80 < g < 180


def centre_rgb(frame: av.VideoFrame) -> tuple[int, int, int]:
    image = frame.to_image()  # type: ignore[no-untyped-call]
    r, g, b = image.convert("RGB").getpixel((image.width // 2, image.height // 2))
    return int(r), int(g), int(b)


def dominant(rgb: tuple[int, int, int]) -> tuple[int, int, int]:
    return (255 * (rgb[0] > 200), 255 * (rgb[1] > 200), 255 * (rgb[2] > 200))


async def test_rendered_clips_are_joined_by_copy(folder: Path) -> None:
    """The local provider's clips (x264 with B-frames) match each other and copy exactly."""
    stills = []
    for name in ("one", "two", "three"):
        still = folder / f"{name}.png"
        await render_image(still, prompt=name, width=160, height=90, colors=["#336699"])
        stills.append(still)
    clips = []
    for index in range(2):
        clip = folder / f"rendered{index}.mp4"
        await render_clip(
            clip, first=stills[index], last=stills[index + 1], duration=1.2, width=160,
            height=90, fps=FPS,
        )  # fmt: skip
        clips.append(clip)
    dest = folder / "rendered.mp4"
    result = await combine_clips(dest, clips)
    assert result.method == "stream_copy"
    assert result.duration == pytest.approx(2.4, abs=FRAME)
    assert frame_count(dest) == 60
