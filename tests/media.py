"""Test videos are generated with the real ffmpeg, never committed."""

from __future__ import annotations

import contextlib
import fcntl
import subprocess
from collections.abc import Iterator
from pathlib import Path

from video_manager import binaries


@contextlib.contextmanager
def made_once(folder: Path) -> Iterator[bool]:
    """Test processes side by side make a folder's files once: the first to get here is told to
    make them (True) while it holds a lock; the others wait for it, then are told they exist
    (False). A maker that fails leaves them for the next one to make."""
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        done = folder / ".made"
        if done.exists():
            yield False
            return
        yield True
        done.touch()


def make_video(
    path: Path,
    *,
    seconds: float = 3.0,
    size: str = "320x240",
    rate: int | str = 30,
    audio: bool = True,
    pattern: str = "testsrc",
    gop: int = 30,
    video_codec: str = "libx264",
    pix_fmt: str = "yuv420p",
    audio_codec: str = "aac",
    audio_rate: int = 48000,
    beep: bool = False,
    encoder_args: tuple[str, ...] = ("-preset", "ultrafast"),
    video_filter: str = "",
    index_first: bool = True,
    start_offset: float = 0.0,
    x265_params: str = "log-level=error",
) -> Path:
    """A test clip (H.264/AAC by default) with a keyframe every `gop` frames; the container
    follows the file's extension. `beep` adds a 4 kHz beep at the start of every second, so the
    audio's place in time can be measured; `encoder_args` replace x264's defaults here;
    `video_filter` is applied to the picture; `index_first=False` leaves an MP4's index at its end;
    `start_offset` seconds start the file's clock late (as Matroska and FLV files cut by editors do);
    `x265_params` are x265's (its defaults make open GOPs: `open-gop=0` closes them)."""
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
        tone = f"sine=frequency={1000 if beep else 440}:sample_rate={audio_rate}"
        command += ["-f", "lavfi", "-i", tone + (":beep_factor=4" if beep else "")]
    command += ["-t", str(seconds), "-c:v", video_codec, "-pix_fmt", pix_fmt, "-g", str(gop)]
    if video_filter:
        command += ["-vf", video_filter]
    if video_codec == "libx264":
        command += list(encoder_args)
    elif video_codec == "libx265":
        command += ["-preset", "ultrafast", "-x265-params", x265_params]
    elif video_codec == "libvpx-vp9":
        command += ["-deadline", "realtime", "-cpu-used", "8"]
    if audio:
        command += ["-c:a", audio_codec]
    if start_offset:
        command += ["-output_ts_offset", str(start_offset)]
    if path.suffix in (".mp4", ".mov") and index_first:
        command += ["-movflags", "+faststart"]
    subprocess.run([*command, str(path)], check=True)
    return path


def turned_90(plain: Path, path: Path) -> Path:
    """`plain` stream-copied into `path` with a display matrix turning it 90°, as phones store
    portrait video (landscape pixels)."""
    subprocess.run([binaries.ffmpeg_path(), "-v", "error", "-y", "-display_rotation", "90", "-i", str(plain),
                    "-c", "copy", str(path)], check=True)  # fmt: skip
    return path
