"""Probing as a validator: a file is a video only if it opens through an allowed container with a
real video stream, within the machine limits we set.

The probe runs in a child process with a timeout and a memory ceiling: ffprobe when configured or
on PATH, else PyAV (processor.probe_av), which prints the same JSON shape.
"""

from __future__ import annotations

import contextlib
import json
import re
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

from processor import containers
from video_manager.errors import InvalidVideoError
from video_manager.processes import WaitingTool

MIB = 1024 * 1024
PATH_FROM_STDIN = "-"


# Demuxers whose duration counts from timestamp zero, not from the file's first timestamp
# (Matroska's Duration element covers the segment from 0: a 10 s file starting at 5 s says 15 s).
DURATION_FROM_ZERO = ("matroska",)


HDR_TRANSFERS = frozenset({"smpte2084", "arib-std-b67"})


@dataclass(frozen=True)
class MediaInfo:
    duration: float
    width: int
    height: int
    video_codec: str
    audio_codec: str | None
    pix_fmt: str | None
    frame_rate: str | None
    sample_rate: int | None
    audio_channels: int | None
    format_name: str
    content_type: str
    color_transfer: str | None = None  # `smpte2084` (PQ) and `arib-std-b67` (HLG) are HDR
    subtitle_tracks: int = 0  # text ones, which a cut carries (cues moved into its window)
    chapters: int = 0
    timecode: str | None = None  # a camera's (a MOV timecode track), of the first frame

    @property
    def hdr(self) -> bool:
        return self.color_transfer in HDR_TRANSFERS

    @property
    def demuxer(self) -> str | None:
        return containers.demuxer_of(self.format_name) or containers.demuxer_for_content_type(
            self.content_type
        )


@dataclass(frozen=True)
class MediaLimits:
    max_frame_rate: float = 240.0
    max_frame_side: int = 8192
    max_duration_s: float = 24 * 3600.0


@dataclass(frozen=True)
class Prober:
    ffprobe: str | None  # None: PyAV in a child process
    timeout_s: float = 60.0
    memory_limit_mb: int = 4096
    limits: MediaLimits = MediaLimits()

    def command(self, path: Path | str, remote: bool = False) -> list[str]:
        """`remote`: `path` is a presigned URL of our own bucket (read in ranges)."""
        if self.ffprobe is None:
            return [
                sys.executable,
                "-P",
                "-m",
                "processor.probe_av",
                str(path),  # PATH_FROM_STDIN: the child reads it from its first line of input
                *(["--remote"] if remote else []),
            ]
        reading = containers.REMOTE_READ_OPTIONS if remote else []
        return [
            self.ffprobe, "-v", "error", *containers.input_options(None, remote=remote), *reading,
            "-print_format", "json", "-show_format", "-show_streams",
            "-show_chapters", str(path),
        ]  # fmt: skip

    def probe(self, path: Path | str, *, remote: bool = False) -> MediaInfo:
        with self.start(remote=remote) as pending:
            return pending.result(path)

    @contextlib.contextmanager
    def start(self, *, remote: bool = False) -> Iterator[PendingProbe]:
        """A probe made ready before its file is whole: the PyAV child (an interpreter that
        imports PyAV, about 0.1 s) starts now and waits for the path, so a finishing upload pays
        only the probe itself. The child is killed on exit if it was never given a path."""
        waiting = self.tool(PATH_FROM_STDIN, remote) if self.ffprobe is None else contextlib.nullcontext()
        with waiting as child:
            yield PendingProbe(self, remote, child)

    def tool(self, path: Path | str, remote: bool) -> WaitingTool:
        return WaitingTool(self.command(path, remote), memory_limit_bytes=self.memory_limit_mb * MIB)


@dataclass
class PendingProbe:
    """One probe, its child (PyAV) already running where `child` is set."""

    prober: Prober
    remote: bool
    child: WaitingTool | None

    def result(self, path: Path | str) -> MediaInfo:
        prober = self.prober
        if self.child is None:
            with prober.tool(path, self.remote) as tool:
                return self._read(path, tool, b"")
        return self._read(path, self.child, f"{path}\n".encode())

    def _read(self, path: Path | str, tool: WaitingTool, request: bytes) -> MediaInfo:
        prober = self.prober
        try:
            returncode, stdout, stderr = tool.answer(request, prober.timeout_s)
        except subprocess.TimeoutExpired as exc:
            raise InvalidVideoError(f"probing did not finish within {prober.timeout_s:g} s") from exc
        if returncode != 0:
            reason = stderr.decode(errors="replace").replace(str(path), "input").strip()
            last_line = reason.splitlines()[-1] if reason else f"probe exited with {returncode}"
            raise InvalidVideoError(f"not a readable video: {plain_reason(last_line)}")
        try:
            report = json.loads(stdout or b"{}")
        except ValueError as exc:
            raise InvalidVideoError("not a readable video: the probe's report was unreadable") from exc
        return check_limits(parse_probe_output(report), prober.limits)


def plain_reason(line: str) -> str:
    """The probe's complaint as a person reads it: ffprobe's `input: Invalid data found when
    processing input` becomes `invalid data found when processing input`."""
    line = re.sub(r"^'?input'?:\s*", "", line.strip())
    return line[:1].lower() + line[1:]


def parse_probe_output(report: dict) -> MediaInfo:
    """Turn ffprobe's JSON into MediaInfo, rejecting other containers, images, audio-only files."""
    fmt = report.get("format", {})
    format_name = fmt.get("format_name", "")
    demuxer = containers.demuxer_of(format_name)
    streams = report.get("streams", [])
    video = next(
        (
            s
            for s in streams
            if s.get("codec_type") == "video" and not s.get("disposition", {}).get("attached_pic")
        ),
        None,
    )
    if video is None:
        raise InvalidVideoError("no video stream found")
    if demuxer is None:
        raise InvalidVideoError(f"{format_name or 'this'} is not a video container we accept")
    duration = _float(fmt.get("duration")) or _float(video.get("duration"))
    if duration and demuxer in DURATION_FROM_ZERO:
        duration -= _float(fmt.get("start_time")) or 0.0
    if not duration or duration <= 0:
        raise InvalidVideoError("the video has no duration")
    audio = next((s for s in streams if s.get("codec_type") == "audio"), None)
    return MediaInfo(
        duration=duration,
        width=int(video.get("width") or 0),
        height=int(video.get("height") or 0),
        video_codec=video.get("codec_name", "unknown"),
        audio_codec=audio.get("codec_name") if audio else None,
        pix_fmt=video.get("pix_fmt"),
        color_transfer=video.get("color_transfer"),
        frame_rate=video.get("avg_frame_rate")
        if video.get("avg_frame_rate") not in (None, "0/0")
        else video.get("r_frame_rate"),
        sample_rate=int(audio["sample_rate"]) if audio and audio.get("sample_rate") else None,
        audio_channels=int(audio["channels"]) if audio and audio.get("channels") else None,
        format_name=format_name,
        content_type=containers.ALLOWED[demuxer],
        subtitle_tracks=sum(
            s.get("codec_type") == "subtitle" and s.get("codec_name") in containers.TEXT_SUBTITLE_CODECS
            for s in streams
        ),
        chapters=len(report.get("chapters") or []),
        timecode=_timecode(streams),
    )


TIMECODE = re.compile(r"^\d{2}:\d{2}:\d{2}[:;.]\d{2}$")


def _timecode(streams: list[dict]) -> str | None:
    """The first stream's `timecode` tag (the video's, or a timecode track's) that reads as one."""
    for stream in streams:
        value = str((stream.get("tags") or {}).get("timecode", ""))
        if TIMECODE.match(value):
            return value
    return None


def check_limits(info: MediaInfo, limits: MediaLimits) -> MediaInfo:
    """Refuse what would make ffmpeg's work unbounded: absurd frame rates, sizes or durations."""
    rate = frame_rate(info.frame_rate)
    if rate is not None and rate > limits.max_frame_rate:
        raise InvalidVideoError(f"the frame rate {float(rate):g} fps exceeds {limits.max_frame_rate:g} fps")
    if not 0 < info.width <= limits.max_frame_side or not 0 < info.height <= limits.max_frame_side:
        raise InvalidVideoError(
            f"the frame size {info.width}x{info.height} is outside 1..{limits.max_frame_side} pixels"
        )
    if info.duration > limits.max_duration_s:
        raise InvalidVideoError(f"the duration {info.duration:g} s exceeds {limits.max_duration_s:g} s")
    return info


def frame_rate(text: str | None) -> Fraction | None:
    """`30000/1001` → Fraction; None when absent or meaningless (0, 0/0)."""
    try:
        rate = Fraction(text) if text else None
    except (ValueError, ZeroDivisionError):
        return None
    return rate if rate and rate > 0 else None


def _float(value: object) -> float | None:
    try:
        return float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
