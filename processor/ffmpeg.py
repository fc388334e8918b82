"""ffmpeg command lines as data. Nothing here runs a process, so every command is testable as a list.

Choices (see docs/processing.md): fast trim stream-copies from the keyframe at or before the start; precise
trim re-encodes in the source's codec family at a near-transparent CRF (processor.encoders); a
merge of inputs that match in every parameter uses the concat demuxer with stream copy, anything
else the concat filter after normalising each input to the first one's size, frame rate, pixel
format and audio layout.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

from processor import containers, encoders
from processor.cut_plan import CutPlan
from processor.probe import MediaInfo, frame_rate

OUTPUT_OPTIONS = ["-movflags", "+faststart", "-f", "mp4"]
# What a cut keeps of its source's metadata: all of it (the creation time too, which ffmpeg
# leaves out unless told), but chapters and a timecode, which name places in the source: the
# side tracks step (processor.side_tracks) writes them for the result.
CUT_METADATA = ["-map_metadata", "0", "-map_chapters", "-1", "-metadata:s:v:0", "timecode="]
# ffmpeg's own AAC encoder; its `fast` coder is about 3x quicker than the default at 192k, which
# matters when the audio of a long window is the slowest piece of a smart cut.
AAC = ["-c:a", "aac", "-aac_coder", "fast", "-b:a", "192k"]
AUDIO_RATE = 48000
MAX_OUTPUT_RATE = Fraction(120)  # normalised merges never go faster than this
SEEK_LEAD_S = 0.5  # a precise trim's input seek lands this early, so the audio decoder runs in
REMUX_LEAD_S = 1.0
REMUX_TAIL_S = 2.0


@dataclass(frozen=True)
class Source:
    """One input: where it is and what the probe found in it. `path` is a local file, or with
    `remote` the presigned URL of our own object (ffmpeg reads the ranges it needs)."""

    path: Path | str
    media: MediaInfo
    remote: bool = False

    @property
    def has_audio(self) -> bool:
        return self.media.audio_codec is not None

    def input(self) -> list[str]:
        """`-i` with the options that keep ffmpeg to this file's bytes and its accepted demuxer."""
        reading = containers.REMOTE_READ_OPTIONS if self.remote else []
        return [
            *containers.input_options(self.media.demuxer, remote=self.remote),
            *reading,
            "-i",
            str(self.path),
        ]

    def stream_signature(self) -> tuple:
        """Inputs with equal signatures can be joined by stream copy."""
        m = self.media
        video = (m.video_codec, m.width, m.height, m.pix_fmt, m.frame_rate)
        return (*video, m.audio_codec, m.sample_rate, m.audio_channels)


@dataclass(frozen=True)
class Encoding:
    crf: int = 18
    preset: str = "veryfast"


def command_start(ffmpeg: str) -> list[str]:
    return [ffmpeg, "-hide_banner", "-nostdin", "-y", "-progress", "pipe:1", "-nostats", "-loglevel", "error"]


def seconds_arg(value: float) -> str:
    return f"{value:.3f}"


def trim_fast(ffmpeg: str, source: Source, start: float, end: float, output: Path) -> list[str]:
    """Stream copy: no re-encode; the cut begins on the keyframe at or before `start`. Every
    audio track goes along, in a container that holds the streams (`result_muxer`)."""
    return [
        *command_start(ffmpeg),
        "-ss", seconds_arg(start), *source.input(), "-t", seconds_arg(end - start),
        "-map", "0:v:0", "-map", "0:a?", *CUT_METADATA, "-c", "copy",
        "-avoid_negative_ts", "make_zero", *result_muxer(source).options(), str(output),
    ]  # fmt: skip


def result_muxer(source: Source) -> containers.Muxer:
    """The container of a stream copy of `source`."""
    return containers.muxer_for(source.media.video_codec, source.media.audio_codec)


@dataclass(frozen=True)
class Window:
    """What a precise trim keeps: the frames with `start_pts` ≤ pts < `end_pts` (source ticks,
    compared exactly by `trim`), and the audio from the first kept frame's time to the end of the
    last one (`start`, `end` in seconds), so sound and picture keep the source's sync. Ticks and
    seconds are on the source's own clock, which starts at `origin` (an MPEG-TS file's first
    timestamp is about 1.4 s; -copyts keeps that clock). Without ticks (a source the scan could
    not read) the seconds bound both, counted from the start of the file."""

    start: float
    end: float
    start_pts: int | None = None
    end_pts: int | None = None
    origin: float = 0.0
    decode_from: float | None = None  # a piece's decoding starts at the keyframe before this

    @classmethod
    def from_plan(cls, plan: CutPlan) -> Window:
        return cls(plan.seconds(plan.first_pts), plan.seconds(plan.video_end), plan.first_pts, plan.end_pts,
                   float(plan.origin))  # fmt: skip

    @property
    def clock(self) -> list[str]:
        """-copyts keeps the source's clock, the one ticks are counted on; without ticks it is
        moved to start at 0, where the seconds count from."""
        return ["-copyts"] if self.start_pts is not None else ["-copyts", "-start_at_zero"]

    @property
    def seek(self) -> str:
        """Where ffmpeg's input seek goes (with -copyts): half a second early, so the audio
        decoder has run in by the first sample kept; frames before it are dropped by `trim`.
        ffmpeg counts `-ss` from the file's start, hence less the origin."""
        return f"{max(0.0, self.start - self.origin - SEEK_LEAD_S):.6f}"

    @property
    def keyframe_seek(self) -> str:
        """For video alone, with -noaccurate_seek (nothing dropped before `trim`): a hair past
        the first frame, so decoding starts at the keyframe at or before it and not a GOP earlier
        (a smart cut's tail starts on its keyframe), or at `decode_from` (an HEVC tail that
        starts with an open-GOP keyframe's leading pictures decodes from the GOP before)."""
        where = self.decode_from if self.decode_from is not None else self.start + 0.0001
        return f"{where - self.origin:.6f}"

    def video_filter(self) -> str:
        if self.start_pts is None:
            return f"trim=start={self.start:.6f}:end={self.end:.6f}"
        return f"trim=start_pts={self.start_pts}:end_pts={self.end_pts}"

    def audio_filter(self) -> str:
        return f"atrim=start={self.start:.6f}:end={self.end:.6f},asetpts=PTS-STARTPTS"


def trim_precise(ffmpeg: str, source: Source, window: Window, output: Path, encoding: Encoding) -> list[str]:
    """Frame-exact: the window's frames re-encoded in the source's own codec family and bit
    depth (processor.encoders) with its stored orientation, starting at 0, and every audio track
    cut to the time they play along."""
    command = [
        *command_start(ffmpeg), *window.clock, "-noautorotate", "-ss", window.seek, *source.input(),
        "-map", "0:v:0", *CUT_METADATA, "-vf", f"{window.video_filter()},setpts=PTS-STARTPTS",
        *encoders.video_options(source.media, encoding.crf, encoding.preset),
    ]  # fmt: skip
    if source.has_audio:
        command += ["-map", "0:a?", "-af", window.audio_filter(), *AAC]
    return [*command, *OUTPUT_OPTIONS, str(output)]


def remux_window(ffmpeg: str, source: Source, window: Window, keyframe_before: float, time_base: Fraction,
                 output: Path) -> list[str]:  # fmt: skip
    """The GOPs a window decodes from, stream-copied into MP4 on the source's own clock and time
    base (-copyts), so that a Matroska or MPEG-TS source can be smart-cut: in MP4 every packet
    has a decode time and H.264 an avcC. The seek aims REMUX_LEAD_S before the keyframe the
    window decodes from (an MPEG-TS seek lands on the first keyframe after its target); the copy
    runs REMUX_TAIL_S past the window, so the plan sees what follows its end."""
    seek = max(0.0, keyframe_before - window.origin - REMUX_LEAD_S)
    return [
        *command_start(ffmpeg), "-copyts", "-ss", f"{seek:.6f}", *source.input(),
        "-to", f"{window.end + REMUX_TAIL_S:.6f}", "-map", "0:v:0", "-map", "0:a?", "-c", "copy",
        "-video_track_timescale", str(time_base.denominator), "-f", "mp4", str(output),
    ]  # fmt: skip


def trim_intra_copy(ffmpeg: str, source: Source, window: Window, output: Path) -> list[str]:
    """Frame-exact by stream copy, for codecs whose every frame is a keyframe: the window's
    frames are the source's own packets, bit for bit, chosen by their ticks on the source's
    clock (-copyts; the `noise` bitstream filter drops the others), and every audio track is
    cut to the sample over the same span (in its own codec when that is lossless). Both then
    move to start at 0 together (make_zero), so the sync is the source's."""
    assert window.start_pts is not None, "an intra copy selects frames by their ticks"
    outside = f"lt(pts\\,{window.start_pts})+gte(pts\\,{window.end_pts})"
    audio = []
    if source.has_audio:
        audio = ["-map", "0:a?", *_audio_arguments(intra_copy_audio_codec(source)),
                 "-af", f"atrim=start={window.start:.6f}:end={window.end:.6f}"]  # fmt: skip
    return [
        *command_start(ffmpeg), "-copyts", "-ss", window.seek, *source.input(),
        "-map", "0:v:0", *CUT_METADATA, "-c:v", "copy", "-bsf:v", f"noise=drop={outside}", *audio,
        "-avoid_negative_ts", "make_zero", *intra_copy_muxer(source).options(), str(output),
    ]  # fmt: skip


def intra_copy_audio_codec(source: Source) -> str | None:
    """A lossless source's own codec (PCM, FLAC, ALAC: the cut loses nothing), else AAC."""
    codec = source.media.audio_codec
    if codec is None:
        return None
    return codec if codec.startswith("pcm_") or codec in ("flac", "alac") else "aac"


def intra_copy_muxer(source: Source) -> containers.Muxer:
    return containers.muxer_for(source.media.video_codec, intra_copy_audio_codec(source))


def _audio_arguments(codec: str | None) -> list[str]:
    return AAC if codec == "aac" else ["-c:a", str(codec)]


# An HEVC piece as processor.hevc can renumber it: one slice a picture, no wavefronts or
# weighted prediction, closed GOPs, no B-frames, no encoder-info SEI.
X265_PIECE_PARAMS = "log-level=error:bframes=0:wpp=0:slices=1:weightp=0:open-gop=0:info=0:repeat-headers=0"


def encode_piece(
    ffmpeg: str, source: Source, window: Window, time_base: Fraction, output: Path,
    encoding: Encoding, profile: str, parameter_set_id: int, codec: str = "h264", *, threads: int = 0,
) -> list[str]:  # fmt: skip
    """A smart cut's head or tail: the window's frames re-encoded without B-frames, in the
    source's codec, under a parameter-set id the source does not use (x264 takes it as an
    option; x265's output is renumbered by the splice), keeping the source's timestamps and
    time base (the splice moves them), its pixel format and colour, and its stored orientation
    (a phone video's rotation stays in the track's display matrix, as for the copied frames,
    instead of being applied to the pixels). `threads` (x264 pieces; 0: ffmpeg's choice) limits
    the piece's decoder and encoder, as when two pieces share the machine's cores."""
    limit = ["-threads", str(threads)] if threads and codec != "hevc" else []
    if codec == "hevc":
        encoder = ["-c:v", "libx265", "-pix_fmt", str(source.media.pix_fmt), "-tag:v", "hvc1",
                   "-x265-params", X265_PIECE_PARAMS, "-preset", encoding.preset]  # fmt: skip
    else:
        encoder = ["-c:v", "libx264", "-bf", "0", "-x264-params", f"sps-id={parameter_set_id}:deblock=1",
                   "-preset", encoding.preset, *limit]  # fmt: skip
    return [
        *command_start(ffmpeg), *window.clock, "-noaccurate_seek", "-noautorotate", *limit,
        "-ss", window.keyframe_seek, *source.input(),
        "-map", "0:v:0", "-an", "-vf", window.video_filter(), *encoder,
        "-crf", str(encoding.crf), "-profile:v", profile,
        "-enc_time_base:v", "demux", "-video_track_timescale", str(time_base.denominator),
        *OUTPUT_OPTIONS, str(output),
    ]  # fmt: skip


def encode_audio(ffmpeg: str, source: Source, window: Window, output: Path) -> list[str]:
    """Every audio track of the window as AAC starting at 0, in order with its tags (a smart
    cut's audio)."""
    return [
        *command_start(ffmpeg), *window.clock, "-ss", window.seek, *source.input(),
        "-map", "0:a?", "-vn", "-af", window.audio_filter(), *AAC,
        *OUTPUT_OPTIONS, str(output),
    ]  # fmt: skip


def with_side_tracks(
    ffmpeg: str, result: Path, muxer: containers.Muxer, subtitle_files: list[Path],
    labels: list[tuple[str | None, str | None]], chapters_file: Path | None, output: Path,
    timecode: str | None = None,
) -> list[str]:  # fmt: skip
    """A finished result with subtitle tracks (SRT files we wrote, one per track, each with its
    language and title), chapters (an FFMETADATA file we wrote; none without it) and the
    timecode of its first frame added by stream copy: the result's own picture and sound and
    metadata stay as they are."""
    command = [*command_start(ffmpeg), *containers.input_options(muxer.demuxer), "-i", str(result)]
    for path in subtitle_files:
        command += [*containers.input_options("srt", also_allow="srt"), "-i", str(path)]
    chapters = "-1"
    if chapters_file is not None:
        chapters = str(len(subtitle_files) + 1)
        command += [
            *containers.input_options("ffmetadata", also_allow="ffmetadata"),
            "-i",
            str(chapters_file),
        ]
    command += ["-map", "0:v", "-map", "0:a?"]  # not the timecode track a muxer made of a tag
    for index in range(1, len(subtitle_files) + 1):
        command += ["-map", f"{index}:s"]
    command += ["-map_metadata", "0", "-map_chapters", chapters, "-c", "copy", "-c:s", muxer.subtitle_codec]
    for number, (language, title) in enumerate(labels):
        command += [f"-metadata:s:s:{number}", f"language={language or 'und'}"]
        if title:
            command += [f"-metadata:s:s:{number}", f"title={title}"]
    if timecode:
        command += ["-timecode", timecode]
    return [*command, *muxer.options(), str(output)]


def can_concat_by_copy(sources: list[Source]) -> bool:
    return len({source.stream_signature() for source in sources}) == 1


def concat_list(sources: list[Source]) -> str:
    """The concat demuxer's list file; paths are ours (UUIDs), quotes escaped all the same."""
    lines = []
    for source in sources:
        escaped = str(source.path).replace("'", "'\\''")
        lines.append(f"file '{escaped}'")
    return "\n".join(lines) + "\n"


def merge_copy(
    ffmpeg: str, list_file: Path, output: Path, muxer: containers.Muxer, *, remote: bool = False
) -> list[str]:
    return [
        *command_start(ffmpeg),
        *containers.input_options("concat", also_allow="concat", remote=remote), "-safe", "0",
        "-i", str(list_file),
        "-map", "0:v:0", "-map", "0:a?", "-c", "copy", *muxer.options(), str(output),
    ]  # fmt: skip


def merge_normalised(ffmpeg: str, sources: list[Source], output: Path, encoding: Encoding) -> list[str]:
    """Concat filter: every input scaled and padded to the first one's size (aspect kept), same
    frame rate, square pixels, and encoded as the first one is (its codec family and pixel
    format, processor.encoders); silence for inputs without audio when any has audio."""
    first = sources[0].media
    pixel_format = encoders.encoder_for(first).pixel_format(first.pix_fmt)
    width, height = _even(first.width), _even(first.height)
    rate = normalised_rate(first.frame_rate)
    with_audio = any(source.has_audio for source in sources)
    inputs: list[str] = []
    filters: list[str] = []
    joined = ""
    for index, source in enumerate(sources):
        inputs += source.input()
        filters.append(
            f"[{index}:v:0]scale={width}:{height}:force_original_aspect_ratio=decrease,"
            f"pad={width}:{height}:(ow-iw)/2:(oh-ih)/2,setsar=1,fps={rate},format={pixel_format},"
            f"trim=duration={seconds_arg(source.media.duration)},setpts=PTS-STARTPTS[v{index}]"
        )
        joined += f"[v{index}]"
        if with_audio:
            audio_in = f"[{index}:a:0]" if source.has_audio else f"anullsrc=r={AUDIO_RATE}:cl=stereo,"
            filters.append(
                f"{audio_in}aresample={AUDIO_RATE},aformat=sample_fmts=fltp:channel_layouts=stereo,"
                f"atrim=duration={seconds_arg(source.media.duration)},asetpts=PTS-STARTPTS[a{index}]"
            )
            joined += f"[a{index}]"
    audio_flag = 1 if with_audio else 0
    filters.append(f"{joined}concat=n={len(sources)}:v=1:a={audio_flag}[v]" + ("[a]" if with_audio else ""))
    command = [
        *command_start(ffmpeg), *inputs, "-filter_complex", ";".join(filters), "-map", "[v]",
        *encoders.video_options(first, encoding.crf, encoding.preset),
    ]  # fmt: skip
    if with_audio:
        command += ["-map", "[a]", "-c:a", "aac", "-b:a", "192k"]
    return [*command, *OUTPUT_OPTIONS, str(output)]


def _even(value: int) -> int:
    return max(2, value - value % 2)


def normalised_rate(rate: str | None) -> str:
    """The first input's frame rate, clamped to MAX_OUTPUT_RATE (30 when it has none): every other
    input is resampled to it, so an absurd first rate must not multiply the frames of the rest."""
    parsed = frame_rate(rate)
    if parsed is None:
        return "30"
    clamped = min(parsed, MAX_OUTPUT_RATE)
    return f"{clamped.numerator}/{clamped.denominator}"
