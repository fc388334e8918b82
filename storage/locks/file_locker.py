"""The single-host locker: flock on a file in data/, across the server's processes.

The ask to let go is a marker file beside the lock; the holder's watcher thread sees it. Redis
is not needed, so uploads keep working while Redis is down.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from storage.locks.errors import UploadLockedError

WATCH_INTERVAL_S = 0.05


class FileLocker:
    def __init__(self, lock_dir: Path, *, wait_s: float = 5.0) -> None:
        self.lock_dir = lock_dir
        self.wait_s = wait_s
        lock_dir.mkdir(parents=True, exist_ok=True)

    @contextlib.contextmanager
    def hold(self, key: str, on_release_request: Callable[[], None] | None = None) -> Iterator[None]:
        lock_path = self.lock_dir / f"{key}.lock"
        release_marker = self.lock_dir / f"{key}.release"
        fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            self._acquire(fd, release_marker)
            release_marker.unlink(missing_ok=True)
            stop = threading.Event()
            watcher = None
            if on_release_request is not None:
                watcher = threading.Thread(
                    target=_watch, args=(release_marker, stop, on_release_request), daemon=True
                )
                watcher.start()
            try:
                yield
            finally:
                stop.set()
                if watcher is not None:
                    watcher.join()
                fcntl.flock(fd, fcntl.LOCK_UN)
        finally:
            os.close(fd)

    @contextlib.contextmanager
    def hold_if_free(self, key: str) -> Iterator[bool]:
        """Take the lock only if nobody holds it, without asking a holder to let go (the expiry
        sweep must never interrupt a live upload); yields whether it was taken."""
        fd = os.open(self.lock_dir / f"{key}.lock", os.O_RDWR | os.O_CREAT, 0o600)
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                yield False
                return
            try:
                yield True
            finally:
                fcntl.flock(fd, fcntl.LOCK_UN)
        finally:
            os.close(fd)

    def _acquire(self, fd: int, release_marker: Path) -> None:
        deadline = time.monotonic() + self.wait_s
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise UploadLockedError("the upload is locked by another request") from None
                release_marker.touch()
                time.sleep(WATCH_INTERVAL_S / 2)

    def forget(self, key: str) -> None:
        """Remove the lock files of an upload that no longer exists."""
        for suffix in (".lock", ".release"):
            (self.lock_dir / f"{key}{suffix}").unlink(missing_ok=True)


def _watch(marker: Path, stop: threading.Event, on_release_request: Callable[[], None]) -> None:
    while not stop.wait(WATCH_INTERVAL_S):
        if marker.exists():
            on_release_request()
            return
