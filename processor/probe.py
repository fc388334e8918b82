"""ffprobe as a validator: a file is a video only if ffprobe finds a real video stream in it."""

from __future__ import annotations

import json
import subprocess
from dataclasses import dataclass
from pathlib import Path

# Demuxers that read still images; a PNG renamed .mp4 must not pass as a video.
IMAGE_FORMATS = ("image2", "png_pipe", "jpeg_pipe", "webp_pipe", "gif", "bmp_pipe", "tiff_pipe")

CONTENT_TYPES = {
    "mov,mp4,m4a,3gp,3g2,mj2": "video/mp4",
    "matroska,webm": "video/webm",
    "avi": "video/x-msvideo",
    "mpegts": "video/mp2t",
    "flv": "video/x-flv",
    "mpeg": "video/mpeg",
    "ogg": "video/ogg",
}


class InvalidVideoError(ValueError):
    """ffprobe cannot read the file as a video; the message says why, without server paths."""


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


def probe(path: Path, ffprobe: str, timeout_s: float) -> MediaInfo:
    command = [
        ffprobe,
        "-v",
        "error",
        "-print_format",
        "json",
        "-show_format",
        "-show_streams",
        str(path),
    ]
    try:
        completed = subprocess.run(command, capture_output=True, timeout=timeout_s, check=False)
    except subprocess.TimeoutExpired as exc:
        raise InvalidVideoError(f"ffprobe did not finish within {timeout_s:g} s") from exc
    if completed.returncode != 0:
        reason = completed.stderr.decode(errors="replace").replace(str(path), "input").strip()
        last_line = reason.splitlines()[-1] if reason else "unreadable file"
        raise InvalidVideoError(f"not a readable video: {last_line}")
    return parse_probe_output(json.loads(completed.stdout or b"{}"))


def parse_probe_output(report: dict) -> MediaInfo:
    """Turn ffprobe's JSON into MediaInfo, rejecting images, audio-only files and empty streams."""
    fmt = report.get("format", {})
    format_name = fmt.get("format_name", "")
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
    if format_name in IMAGE_FORMATS or format_name.endswith("_pipe"):
        raise InvalidVideoError(f"{format_name} is a still image, not a video")
    duration = _float(fmt.get("duration")) or _float(video.get("duration"))
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
        frame_rate=video.get("avg_frame_rate")
        if video.get("avg_frame_rate") != "0/0"
        else video.get("r_frame_rate"),
        sample_rate=int(audio["sample_rate"]) if audio and audio.get("sample_rate") else None,
        audio_channels=int(audio["channels"]) if audio and audio.get("channels") else None,
        format_name=format_name,
        content_type=CONTENT_TYPES.get(format_name, "application/octet-stream"),
    )


def _float(value: object) -> float | None:
    try:
        return float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
