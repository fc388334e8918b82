"""One contract for every locker (file and Redis), as tusd's lockers share one: exclusive holds,
release requests, non-intrusive try-locks; plus what only leases do (expiry, renewal)."""

from __future__ import annotations

import threading
import time

import pytest
from redis import Redis

from storage.locks import FileLocker, LockUnavailableError, UploadLockedError
from storage.locks.redis_locker import PREFIX, RedisLocker


@pytest.fixture(params=["file", "redis"])
def make_locker(request, tmp_path, redis_server):
    def make(**options):
        if request.param == "file":
            return FileLocker(tmp_path / "locks", **{k: v for k, v in options.items() if k == "wait_s"})
        return RedisLocker(lambda: Redis.from_url(redis_server.url), **options)

    return make


def hold_in_thread(locker, key: str, on_release_request=None):
    """Hold `key` in another thread until `done` is set (or the release callback sets it)."""
    held, done = threading.Event(), threading.Event()

    def run() -> None:
        with locker.hold(key, on_release_request=on_release_request):
            held.set()
            done.wait(10)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    assert held.wait(5)
    return done, thread


def test_a_holder_that_ignores_requests_keeps_the_lock(make_locker):
    locker = make_locker(wait_s=0.3)
    done, thread = hold_in_thread(locker, "a")
    with pytest.raises(UploadLockedError), locker.hold("a"):
        pass
    done.set()
    thread.join()
    with locker.hold("a"):  # free again at once
        pass


def test_a_newcomer_asks_the_holder_to_let_go(make_locker):
    locker = make_locker(wait_s=5)
    asked = threading.Event()
    done, thread = hold_in_thread(locker, "b", on_release_request=lambda: (asked.set(), done.set()))
    started = time.monotonic()
    with locker.hold("b"):
        assert asked.is_set()
        assert time.monotonic() - started < 2
    thread.join()


def test_hold_if_free_never_disturbs_a_holder(make_locker):
    locker = make_locker(wait_s=1)
    asked = threading.Event()
    done, thread = hold_in_thread(locker, "c", on_release_request=asked.set)
    with locker.hold_if_free("c") as free:
        assert free is False
    time.sleep(0.2)
    assert not asked.is_set()
    done.set()
    thread.join()
    with locker.hold_if_free("c") as free:
        assert free is True
        with locker.hold_if_free("c") as again:
            assert again is False


def test_keys_are_independent(make_locker):
    locker = make_locker(wait_s=0.2)
    with locker.hold("d"), locker.hold("e"):
        pass


def test_a_dead_holders_lease_runs_out(redis_server):
    redis = Redis.from_url(redis_server.url)
    redis.set(PREFIX + "f", "a host that died", px=400)
    locker = RedisLocker(lambda: redis, wait_s=3)
    started = time.monotonic()
    with locker.hold("f"):
        assert 0.2 < time.monotonic() - started < 2.5


def test_a_live_holder_keeps_renewing_its_lease(redis_server):
    locker = RedisLocker(lambda: Redis.from_url(redis_server.url), wait_s=0.2, lease_s=0.3)
    with locker.hold("g"):
        time.sleep(1.0)  # three lease periods
        with pytest.raises(UploadLockedError), locker.hold("g"):
            pass


def test_redis_down_is_lock_unavailable():
    locker = RedisLocker(lambda: Redis(host="127.0.0.1", port=1, socket_connect_timeout=0.5), wait_s=0.2)
    with pytest.raises(LockUnavailableError), locker.hold("h"):
        pass
