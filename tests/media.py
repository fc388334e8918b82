"""Test videos are generated with the real ffmpeg, never committed."""

from __future__ import annotations

import subprocess
from pathlib import Path

import binaries


def make_video(
    path: Path,
    *,
    seconds: float = 3.0,
    size: str = "320x240",
    rate: int = 30,
    audio: bool = True,
    pattern: str = "testsrc",
    gop: int = 30,
) -> Path:
    """An H.264/AAC mp4 with a keyframe every `gop` frames."""
    command = [
        binaries.ffmpeg_path(),
        "-v",
        "error",
        "-y",
        "-f",
        "lavfi",
        "-i",
        f"{pattern}=size={size}:rate={rate}",
    ]
    if audio:
        command += ["-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000"]
    command += [
        "-t",
        str(seconds),
        "-c:v",
        "libx264",
        "-preset",
        "ultrafast",
        "-pix_fmt",
        "yuv420p",
        "-g",
        str(gop),
    ]
    if audio:
        command += ["-c:a", "aac"]
    command += ["-movflags", "+faststart", str(path)]
    subprocess.run(command, check=True)
    return path
