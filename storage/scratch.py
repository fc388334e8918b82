"""Scratch space on this host: request bodies being spooled, files ffmpeg is writing.

It sits on the same filesystem as the local stores, so publishing a finished file is one link,
and every name in it is temporary: a crash leaves only files the sweep removes.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import IO

from storage.files import STALE_TEMP_AGE_S, staged_file, sweep_stale


class Scratch:
    def __init__(self, directory: Path) -> None:
        self.dir = directory
        directory.mkdir(parents=True, exist_ok=True)

    def temp_file(self) -> IO[bytes]:
        """A temp file that deletes its name when closed; a store links the bytes first."""
        return tempfile.NamedTemporaryFile(dir=self.dir, prefix="upload-", delete=True)

    @contextlib.contextmanager
    def staged_path(self, suffix: str = "", tag: str = "") -> Iterator[Path]:
        """A temp path for a program (ffmpeg) to write; removed afterwards (published or not).

        `tag` (a task id) names the file so that the leftovers of a killed worker can be found.
        """
        with staged_file(self.dir, f"stage-{tag}-", suffix) as path:
            yield path

    def touch_staged(self, tag: str) -> None:
        """A live run marks its temp files fresh, so `remove_staged` never takes them."""
        for staged in self.dir.glob(f"stage-{tag}-*"):
            with contextlib.suppress(FileNotFoundError):
                os.utime(staged)

    def remove_staged(self, tag: str, older_than_s: float) -> int:
        """Remove a dead run's temp files: those its heartbeat stopped touching."""
        cutoff = time.time() - older_than_s
        removed = 0
        for leftover in self.dir.glob(f"stage-{tag}-*"):
            with contextlib.suppress(FileNotFoundError):
                if leftover.stat().st_mtime < cutoff:
                    leftover.unlink()
                    removed += 1
        return removed

    def sweep_stale_temps(self, max_age_s: float = STALE_TEMP_AGE_S) -> int:
        return sweep_stale(self.dir, max_age_s)
