"""Which H.264 encoder the ladder uses: `ffmpeg.encoder`, where `auto` is NVENC when this host
has an NVIDIA GPU (`nvidia-smi` lists one) and the shipped ffmpeg's `h264_nvenc` opens on it,
else x264. Asked once per process: a worker's hardware does not change under it."""

from __future__ import annotations

import functools
import shutil
import subprocess

DETECTION_TIMEOUT_S = 20


@functools.cache
def h264_encoder(setting: str, ffmpeg: str) -> str:
    if setting != "auto":
        return setting
    return "h264_nvenc" if _has_nvidia_gpu() and _nvenc_opens(ffmpeg) else "libx264"


def _has_nvidia_gpu() -> bool:
    smi = shutil.which("nvidia-smi")
    if smi is None:
        return False
    try:
        listed = subprocess.run([smi, "-L"], capture_output=True, text=True, timeout=DETECTION_TIMEOUT_S)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return listed.returncode == 0 and "GPU" in listed.stdout


def _nvenc_opens(ffmpeg: str) -> bool:
    """A one-frame encode of a generated picture (no input file is read)."""
    command = [
        ffmpeg, "-hide_banner", "-nostdin", "-loglevel", "error", "-f", "lavfi", "-i",
        "color=c=black:s=256x256:d=0.1", "-frames:v", "1", "-c:v", "h264_nvenc", "-f", "null", "-",
    ]  # fmt: skip
    try:
        return subprocess.run(command, capture_output=True, timeout=DETECTION_TIMEOUT_S).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False
