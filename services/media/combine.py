"""Join clips into one video: by stream copy when they already match, else re-encoded
to one size and frame rate with hard cuts or xfade transitions, optionally under a
music track.

Audio: a given `audio` track replaces the clips' own sound. It fades in, and fades out
by the video's end (where it is cut) or by its own; a shorter track ends early, unless
`loop_audio` plays it again to the video's end.
Without `audio`, clips' own sound is kept (silence for clips without any) and
crossfaded along with the picture.
"""

from __future__ import annotations

import asyncio
import hashlib
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any, Literal

import ffmpeg

from services.media.ffmpeg_run import MediaError, ProgressCallback, partial_output, run_stream

# xfade transitions present from ffmpeg 5.1 (Debian 12) onwards; "none" is a hard cut.
TRANSITIONS: tuple[str, ...] = (
    "none",
    "fade", "fadeblack", "fadewhite", "fadegrays", "dissolve", "distance", "pixelize",
    "wipeleft", "wiperight", "wipeup", "wipedown", "wipetl", "wipetr", "wipebl", "wipebr",
    "slideleft", "slideright", "slideup", "slidedown",
    "smoothleft", "smoothright", "smoothup", "smoothdown",
    "circleopen", "circleclose", "circlecrop", "rectcrop", "radial",
    "vertopen", "vertclose", "horzopen", "horzclose",
    "diagtl", "diagtr", "diagbl", "diagbr",
    "hlslice", "hrslice", "vuslice", "vdslice",
    "hblur", "squeezeh", "squeezev", "zoomin",
)  # fmt: skip
COPYABLE_CODECS = frozenset({"h264", "hevc", "av1", "vp9", "mpeg4"})
VIDEO_OPTIONS: dict[str, Any] = {"vcodec": "libx264", "preset": "veryfast", "crf": 20}
AUDIO_OPTIONS: dict[str, Any] = {"acodec": "aac", "audio_bitrate": "160k"}
AUDIO_RATE = 48_000
DEFAULT_FPS = Fraction(30)  # when the first clip declares no frame rate
SILENCE = f"anullsrc=r={AUDIO_RATE}:cl=stereo"
MAX_MUSIC_FADE = 1.0
MUSIC_FADE_IN = 0.3


@dataclass(frozen=True, slots=True)
class CombineResult:
    method: Literal["stream_copy", "reencode"]
    duration: float  # seconds, probed from the output
    width: int
    height: int


async def combine_clips(
    dest: Path,
    clips: list[Path],
    *,
    transition: str | Sequence[str] = "none",
    transition_duration: float = 0.5,
    width: int | None = None,
    height: int | None = None,
    fps: int | None = None,
    audio: Path | None = None,
    loop_audio: bool = False,
    on_progress: ProgressCallback | None = None,
) -> CombineResult:
    """Write `clips`, in order, to `dest` (an .mp4). `transition` is one for every join,
    or one per join ("none": a cut). `loop_audio`: a track shorter than the video plays
    again until it ends. Raises ValueError for bad arguments and MediaError when a clip
    cannot be read or ffmpeg fails."""
    if not clips:
        raise ValueError("no clips to combine")
    joins = [transition] * (len(clips) - 1) if isinstance(transition, str) else list(transition)
    if len(joins) != len(clips) - 1:
        raise ValueError(f"{len(clips)} clips take {len(clips) - 1} transitions, not {len(joins)}")
    for name in joins:
        if name not in TRANSITIONS:
            raise ValueError(
                f"unknown transition {name!r}; expected one of {', '.join(TRANSITIONS)}"
            )
    for name, side in (("width", width), ("height", height)):
        if side is not None and (side <= 0 or side % 2):
            raise ValueError(f"{name} must be a positive even number, got {side}")
    if fps is not None and fps <= 0:
        raise ValueError(f"fps must be positive, got {fps}")
    infos = list(await asyncio.gather(*(inspect_clip(c) for c in clips)))
    music = await inspect_clip(audio, need_video=False) if audio is not None else None
    if music is not None and music.audio is None:
        raise MediaError(f"{audio} has no audio stream")
    first = infos[0].video
    assert first is not None  # inspect_clip insists on a video stream by default
    resize = (width not in (None, first.width)) or (height not in (None, first.height))
    refps = fps is not None and first.frame_rate != fps
    cuts_only = all(name == "none" for name in joins)
    if cuts_only and not resize and not refps and _copyable(infos, music is not None):
        await _stream_copy(dest, infos, music, loop_audio, on_progress)
        method: Literal["stream_copy", "reencode"] = "stream_copy"
    else:
        target = _Target(
            width=width or first.width - first.width % 2,
            height=height or first.height - first.height % 2,
            fps=Fraction(fps) if fps is not None else first.frame_rate or DEFAULT_FPS,
        )
        await _reencode(
            dest, infos, target, joins, transition_duration, music, loop_audio, on_progress
        )
        method = "reencode"
    out = await inspect_clip(dest)
    assert out.video is not None
    return CombineResult(
        method=method,
        duration=out.container_duration,
        width=out.video.width,
        height=out.video.height,
    )


def _copyable(infos: list[ClipInfo], drop_audio: bool) -> bool:
    """Same video (codec, profile, size, pixel format, rate, time base, SPS/PPS) and the
    same audio format (or none) everywhere: the concat demuxer can join them as they are."""
    first = infos[0]
    assert first.video is not None
    if first.video.codec not in COPYABLE_CODECS:
        return False
    return all(i.video == first.video and (drop_audio or i.audio == first.audio) for i in infos[1:])


# --- stream copy -------------------------------------------------------------------


async def _stream_copy(
    dest: Path,
    infos: list[ClipInfo],
    music: ClipInfo | None,
    loop_audio: bool,
    on_progress: ProgressCallback | None,
) -> None:
    total = sum(i.duration for i in infos)
    with tempfile.TemporaryDirectory(prefix="reelgraph-concat-") as tmpdir:
        listing = Path(tmpdir) / "clips.txt"
        await asyncio.to_thread(listing.write_text, _concat_list(infos), "utf-8")
        joined = ffmpeg.input(str(listing), f="concat", safe=0)
        with partial_output(dest) as tmp:
            if music is None:
                out = ffmpeg.output(joined, str(tmp), c="copy", movflags="+faststart")
            else:
                track = _music(_Sources().music(music.path, loop_audio), music, total, loop_audio)
                out = ffmpeg.output(
                    joined.video, track, str(tmp), vcodec="copy", movflags="+faststart",
                    **_audio_codec(),
                )  # fmt: skip
            await run_stream(out, duration=total, on_progress=on_progress)


def _concat_list(infos: list[ClipInfo]) -> str:
    # The concat demuxer's quoting: inside '...', a quote is written '\''.
    lines = ["ffconcat version 1.0"]
    lines += ["file '" + str(i.path.resolve()).replace("'", "'\\''") + "'" for i in infos]
    return "\n".join(lines) + "\n"


# --- re-encode ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Target:
    width: int
    height: int
    fps: Fraction


async def _reencode(
    dest: Path,
    infos: list[ClipInfo],
    target: _Target,
    joins: list[str],
    transition_duration: float,
    music: ClipInfo | None,
    loop_audio: bool,
    on_progress: ProgressCallback | None,
) -> None:
    frames, fades = _frame_plan(infos, target.fps, joins, transition_duration)
    total_frames = sum(frames) - sum(fades)
    total = Fraction(total_frames) / target.fps
    keep_audio = music is None and any(i.audio is not None for i in infos)
    sources = _Sources()
    nodes = [sources.file(i.path) for i in infos]
    videos = [
        _normalise_video(node.video, n, target) for node, n in zip(nodes, frames, strict=True)
    ]
    sounds: list[Any] = []
    if keep_audio:
        for info, node, n in zip(infos, nodes, frames, strict=True):
            sound = node.audio if info.audio is not None else sources.lavfi(SILENCE).audio
            sounds.append(_normalise_audio(sound, n / target.fps))
    if any(fades):
        video, sound = _join_with_transitions(videos, sounds, frames, fades, joins, target.fps)
    else:
        video, sound = _join_with_cuts(videos, sounds)
    # Cut in the graph, not with -frames:v, which would also stop the audio short.
    streams = [video.filter("trim", end_frame=total_frames)]
    if sound is not None:
        streams.append(sound)
    elif music is not None:
        streams.append(
            _music(sources.music(music.path, loop_audio), music, float(total), loop_audio)
        )
    options: dict[str, Any] = {**VIDEO_OPTIONS, "pix_fmt": "yuv420p", "r": str(target.fps)}
    if len(streams) > 1:
        options.update(_audio_codec())
    with partial_output(dest) as tmp:
        out = ffmpeg.output(*streams, str(tmp), movflags="+faststart", **options)
        await run_stream(out, duration=float(total), on_progress=on_progress)


def _frame_plan(
    infos: list[ClipInfo], fps: Fraction, joins: list[str], transition_duration: float
) -> tuple[list[int], list[int]]:
    """Each clip's length and each join's overlap (0 for a cut) in whole frames, so every
    transition starts on a frame and the output length is exact."""
    frames = [max(1, round(i.duration * fps)) for i in infos]
    if all(name == "none" for name in joins):
        return frames, [0] * len(joins)
    if transition_duration <= 0:
        raise ValueError("transition_duration must be positive")
    fade = max(1, round(transition_duration * fps))
    if fade >= min(frames):
        raise ValueError(
            f"transition_duration {transition_duration}s is not shorter than the "
            f"shortest clip ({float(min(frames) / fps):.3f}s)"
        )
    return frames, [0 if name == "none" else fade for name in joins]


def _join_with_transitions(
    videos: list[Any],
    sounds: list[Any],
    frames: list[int],
    fades: list[int],
    joins: list[str],
    fps: Fraction,
) -> tuple[Any, Any | None]:
    """Chain the joins: the k-th transition (xfade, and acrossfade for sound) starts its
    `fades[k]` frames before the end of everything joined so far; a cut concatenates."""
    video = videos[0]
    sound = sounds[0] if sounds else None
    elapsed = frames[0]
    for k in range(1, len(videos)):
        fade = fades[k - 1]
        if fade == 0:
            # concat hands on frames in its own time base (1/1000000); a later xfade
            # refuses inputs whose time bases differ, so go back to the clips' one.
            video = ffmpeg.concat(video, videos[k], v=1, a=0).filter("settb", str(1 / fps))
            if sound is not None:
                sound = ffmpeg.concat(sound, sounds[k], v=0, a=1)
        else:
            fade_seconds = _seconds(fade / fps)
            offset = _seconds(Fraction(elapsed - fade) / fps)
            video = ffmpeg.filter(
                [video, videos[k]], "xfade", transition=joins[k - 1], duration=fade_seconds,
                offset=offset,
            )  # fmt: skip
            if sound is not None:
                sound = ffmpeg.filter([sound, sounds[k]], "acrossfade", d=fade_seconds)
        elapsed += frames[k] - fade
    return video, sound


def _join_with_cuts(videos: list[Any], sounds: list[Any]) -> tuple[Any, Any | None]:
    if len(videos) == 1:
        return videos[0], sounds[0] if sounds else None
    if not sounds:
        return ffmpeg.concat(*videos, v=1, a=0), None
    pairs = [stream for pair in zip(videos, sounds, strict=True) for stream in pair]
    joined = ffmpeg.concat(*pairs, v=1, a=1).node
    return joined[0], joined[1]


class _Sources:
    """Input nodes, a new one per use. ffmpeg-python merges equal nodes, so a clip used
    twice would otherwise become one input feeding two branches, and ffmpeg would hold
    its decoded frames in memory until the later branch wants them. A repeat gets an
    equivalent spelling instead: `dir/./name` for a file, a no-op filter for lavfi."""

    def __init__(self) -> None:
        self._seen: dict[str, int] = {}

    def file(self, path: Path) -> Any:
        name = str(path.resolve())
        repeat = self._count(name)
        if repeat:
            folder, _, base = name.rpartition("/")
            name = f"{folder}/{'./' * repeat}{base}"
        return ffmpeg.input(name)

    def music(self, path: Path, loop: bool) -> Any:
        """A music track's input; looped (played again from the start) when asked."""
        if not loop:
            return self.file(path)
        name = str(path.resolve())
        repeat = self._count(name)
        if repeat:
            folder, _, base = name.rpartition("/")
            name = f"{folder}/{'./' * repeat}{base}"
        return ffmpeg.input(name, stream_loop=-1)

    def lavfi(self, graph: str) -> Any:
        return ffmpeg.input(graph + ",anull" * self._count(graph), f="lavfi")

    def _count(self, key: str) -> int:
        repeat = self._seen.get(key, 0)
        self._seen[key] = repeat + 1
        return repeat


def _normalise_video(source: Any, frames: int, target: _Target) -> Any:
    w, h, rate = target.width, target.height, str(target.fps)
    return (
        source.filter("setpts", "PTS-STARTPTS")
        .filter("scale", w, h, force_original_aspect_ratio="decrease")
        .filter("pad", w, h, "(ow-iw)/2", "(oh-ih)/2", color="black")
        .filter("setsar", 1)
        .filter("format", "yuv420p")
        .filter("fps", rate)
        # Exactly `frames` frames: clone the last one if rounding left us short.
        .filter("tpad", stop_mode="clone", stop=int(target.fps) + 1)
        .filter("trim", end_frame=frames)
        .filter("setpts", "PTS-STARTPTS")
    )


def _normalise_audio(source: Any, seconds: Fraction) -> Any:
    length = _seconds(seconds)
    return (
        source.filter("asetpts", "PTS-STARTPTS")
        .filter("aresample", AUDIO_RATE)
        .filter("aformat", sample_fmts="fltp", channel_layouts="stereo")
        .filter("apad", whole_dur=length)
        .filter("atrim", duration=length)
        .filter("asetpts", "PTS-STARTPTS")
    )


def _music(source: Any, music: ClipInfo, video_seconds: float, looped: bool = False) -> Any:
    """The track under the video: faded in, and faded out by the video's end or by its own,
    whichever comes first, so that it never stops mid-note. A looped track lasts as long
    as the video."""
    length = video_seconds if looped else min(music.duration, video_seconds)
    fade = min(MAX_MUSIC_FADE, length / 4)
    return (
        source.audio.filter("asetpts", "PTS-STARTPTS")
        .filter("atrim", duration=_seconds(length))
        .filter("afade", t="in", st=0, d=_seconds(min(MUSIC_FADE_IN, length / 4)))
        .filter("afade", t="out", st=_seconds(length - fade), d=_seconds(fade))
    )


def _audio_codec() -> dict[str, Any]:
    return {**AUDIO_OPTIONS, "ar": AUDIO_RATE}


def _seconds(value: float | Fraction) -> str:
    return f"{float(value):.6f}"


# --- inspection --------------------------------------------------------------------
# What the copy decision needs beyond probe.MediaInfo: codec, pixel format, rates, time
# base and a hash of the codec's extradata (H.264 SPS/PPS). Always through PyAV, in a
# thread: Debian's ffprobe spends ~0.15 s loading its libraries for every file.


@dataclass(frozen=True, slots=True)
class VideoFormat:
    codec: str
    profile: str | None
    width: int
    height: int
    pix_fmt: str | None
    frame_rate: Fraction
    time_base: Fraction
    extradata: str | None  # sha256 hex


@dataclass(frozen=True, slots=True)
class AudioFormat:
    codec: str
    sample_rate: int
    channels: int


@dataclass(frozen=True, slots=True)
class ClipInfo:
    path: Path
    duration: float  # of the video stream (of the audio stream for audio-only files)
    container_duration: float
    video: VideoFormat | None
    audio: AudioFormat | None


async def inspect_clip(path: Path, *, need_video: bool = True) -> ClipInfo:
    """Stream formats of `path`; MediaError when it is unreadable or lacks what is needed."""
    info = await asyncio.to_thread(_pyav, path)
    if need_video and info.video is None:
        raise MediaError(f"{path} has no video stream")
    if info.duration <= 0:
        raise MediaError(f"{path} has no duration")
    return info


def _pyav(path: Path) -> ClipInfo:
    import av

    try:
        with av.open(str(path)) as container:
            v = next(iter(container.streams.video), None)
            a = next(iter(container.streams.audio), None)
            video = audio = None
            if v is not None:
                cc = v.codec_context
                extradata = cc.extradata
                video = VideoFormat(
                    codec=cc.name, profile=cc.profile, width=cc.width, height=cc.height,
                    pix_fmt=cc.format.name if cc.format else None,
                    frame_rate=Fraction(v.average_rate or v.base_rate or 0),
                    time_base=Fraction(v.time_base or 0),
                    extradata=hashlib.sha256(extradata).hexdigest() if extradata else None,
                )  # fmt: skip
            if a is not None:
                ac = a.codec_context
                audio = AudioFormat(ac.name, ac.sample_rate, ac.layout.nb_channels)
            total = container.duration / 1_000_000 if container.duration else 0.0
            main = v if v is not None else a
            own = None
            if main is not None and main.duration and main.time_base:
                own = float(main.duration * main.time_base)
            return ClipInfo(path, own or total, total, video, audio)
    except (av.FFmpegError, OSError) as exc:
        raise MediaError(f"cannot read {path}: {exc}") from exc
