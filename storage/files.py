"""File helpers every store uses: kernel copies, sharded paths from our own ids, staged files
that vanish unless published, and the sweep of what a killed process left."""

from __future__ import annotations

import contextlib
import os
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

STALE_TEMP_AGE_S = 24 * 3600
COPY_BLOCK = 64 * 1024 * 1024


def append_file(source: Path, target_fd: int, count: int) -> None:
    """Append `count` bytes of `source` at the target's position, copied inside the kernel."""
    with open(source, "rb") as handle:
        while count > 0:
            copied = os.copy_file_range(handle.fileno(), target_fd, min(count, COPY_BLOCK))
            if copied == 0:
                raise OSError(f"{source.name} is shorter than expected")
            count -= copied


def sharded(root: Path, video_id: uuid.UUID) -> Path:
    """`root/<first two hex digits>/<id>`: paths come from our own UUIDs only, never from names
    a client sent."""
    video_id = uuid.UUID(str(video_id))
    return root / video_id.hex[:2] / str(video_id)


@contextlib.contextmanager
def staged_file(directory: Path, prefix: str, suffix: str) -> Iterator[Path]:
    """A new empty file in `directory` for a program to write; removed on exit unless it was
    moved or linked into place meanwhile (then only this name goes)."""
    fd, name = tempfile.mkstemp(dir=directory, prefix=prefix, suffix=suffix)
    os.close(fd)
    path = Path(name)
    try:
        yield path
    finally:
        path.unlink(missing_ok=True)


def sweep_stale(directory: Path, max_age_s: float = STALE_TEMP_AGE_S) -> int:
    """Remove temp files left by a process that was killed; returns how many went."""
    cutoff = time.time() - max_age_s
    removed = 0
    for entry in directory.iterdir():
        with contextlib.suppress(FileNotFoundError):
            if entry.is_file() and entry.stat().st_mtime < cutoff:
                entry.unlink()
                removed += 1
    return removed
