"""The multi-host locker: a lease in Redis that its holder keeps renewing.

`SET key token NX PX lease` takes the lock; the holder's watcher renews the lease while the
request runs, so a holder whose host died loses the lock when its lease runs out, never
earlier. A newcomer asks the holder to let go by setting a release key, which the watcher
polls (the same contract as the file locker's marker). Renewal and release compare the token,
so nobody ever extends or deletes a lock that is no longer theirs.
"""

from __future__ import annotations

import contextlib
import secrets
import threading
import time
from collections.abc import Callable, Iterator

from redis import Redis
from redis.exceptions import RedisError

from storage.locks.errors import LockUnavailableError, UploadLockedError

PREFIX = "video-manager:upload-lock:"
WATCH_INTERVAL_S = 0.05

# Renew or delete only while the key still holds our token.
_IF_OURS = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call({}) end return 0"
_RENEW = _IF_OURS.format("'pexpire', KEYS[1], ARGV[2]")
_RELEASE = _IF_OURS.format("'del', KEYS[1]")


class RedisLocker:
    def __init__(self, connect: Callable[[], Redis], *, wait_s: float = 5.0, lease_s: float = 30.0) -> None:
        self._connect = connect
        self._redis: Redis | None = None
        self.wait_s = wait_s
        self.lease_ms = int(lease_s * 1000)

    @property
    def redis(self) -> Redis:
        """Connected lazily: the process starts (and answers 503) while Redis is down."""
        if self._redis is None:
            self._redis = self._connect()
        return self._redis

    @contextlib.contextmanager
    def hold(self, key: str, on_release_request: Callable[[], None] | None = None) -> Iterator[None]:
        token = secrets.token_hex(16)
        with _redis_errors():
            self._acquire(key, token)
            self.redis.delete(PREFIX + key + ":release")
        stop = threading.Event()
        watcher = threading.Thread(
            target=self._watch, args=(key, token, stop, on_release_request), daemon=True
        )
        watcher.start()
        try:
            yield
        finally:
            stop.set()
            watcher.join()
            with contextlib.suppress(RedisError):  # the lease runs out by itself
                self.redis.eval(_RELEASE, 1, PREFIX + key, token)

    @contextlib.contextmanager
    def hold_if_free(self, key: str) -> Iterator[bool]:
        token = secrets.token_hex(16)
        with _redis_errors():
            taken = bool(self.redis.set(PREFIX + key, token, nx=True, px=self.lease_ms))
        try:
            yield taken
        finally:
            if taken:
                with contextlib.suppress(RedisError):
                    self.redis.eval(_RELEASE, 1, PREFIX + key, token)

    def forget(self, key: str) -> None:
        with contextlib.suppress(RedisError):
            self.redis.delete(PREFIX + key + ":release")

    def _acquire(self, key: str, token: str) -> None:
        deadline = time.monotonic() + self.wait_s
        while not self.redis.set(PREFIX + key, token, nx=True, px=self.lease_ms):
            if time.monotonic() > deadline:
                raise UploadLockedError("the upload is locked by another request")
            self.redis.set(PREFIX + key + ":release", "1", px=self.lease_ms)
            time.sleep(WATCH_INTERVAL_S / 2)

    def _watch(
        self, key: str, token: str, stop: threading.Event, on_release_request: Callable[[], None] | None
    ) -> None:
        """Renew the lease a few times per lease period; pass on a release request once."""
        renew_every = self.lease_ms / 3000
        renewed = time.monotonic()
        asked = False
        while not stop.wait(WATCH_INTERVAL_S):
            try:
                if time.monotonic() - renewed >= renew_every:
                    self.redis.eval(_RENEW, 1, PREFIX + key, token, self.lease_ms)
                    renewed = time.monotonic()
                if (
                    on_release_request is not None
                    and not asked
                    and self.redis.exists(PREFIX + key + ":release")
                ):
                    asked = True
                    on_release_request()
            except RedisError:  # a blip: the lease outlives it; try again next round
                continue


@contextlib.contextmanager
def _redis_errors() -> Iterator[None]:
    try:
        yield
    except RedisError as exc:
        raise LockUnavailableError(f"the lock service is unavailable ({type(exc).__name__})") from exc
