"""Per-upload exclusive locks, as tusd's Locker: one request at a time changes an upload.

As in tusd, a request that finds an upload locked asks the holder to let go instead of waiting
for it: a client that reconnects after a network cut must not wait for its old, half-open
request to time out. The holder's `on_release_request` (which stops reading the old body) is
called, then the lock passes on.

Two lockers behind one interface: `FileLocker` (flock under data/, one host, works without
Redis) and `RedisLocker` (leases in Redis, for several hosts). `[locks] backend` chooses.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import Protocol

from storage.locks.errors import LockUnavailableError, UploadLockedError
from storage.locks.file_locker import FileLocker
from video_manager.config import Config, ConfigError

__all__ = ["FileLocker", "LockUnavailableError", "Locker", "UploadLockedError", "locker_from_config"]


class Locker(Protocol):
    def hold(
        self, key: str, on_release_request: Callable[[], None] | None = None
    ) -> contextlib.AbstractContextManager[None]:
        """Hold `key`, asking its holder to let go; UploadLockedError if it does not in time."""

    def hold_if_free(self, key: str) -> contextlib.AbstractContextManager[bool]:
        """Hold `key` only if nobody does, without asking; yields whether it was taken."""

    def forget(self, key: str) -> None:
        """Drop what the locker keeps for a key that no longer exists."""


def locker_from_config(config: Config) -> Locker:
    if config.locks.backend == "redis" or config.on_object_storage:  # object storage: several hosts
        from storage.locks.redis_locker import RedisLocker
        from video_manager.redis_client import connect

        return RedisLocker(lambda: connect(config), wait_s=config.locks.wait_s, lease_s=config.locks.lease_s)
    if config.locks.backend != "file":
        raise ConfigError(f"locks.backend must be 'file' or 'redis', not {config.locks.backend!r}")
    return FileLocker(config.data_dir / "uploads" / "locks", wait_s=config.locks.wait_s)
