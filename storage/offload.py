"""Long disk calls (fsync of a big file, a kernel copy of gigabytes) off the event loop.

Under gunicorn's gevent worker one blocking system call stalls every connection of the process;
run there, such calls go to gevent's thread pool. Elsewhere (the RQ worker, tests, gthread)
they simply run.
"""

from __future__ import annotations

import functools
import os
import sys
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

T = TypeVar("T")
HELPER_THREADS = 32  # gthread serves a request per thread; each writes through at most one helper


def off_loop(call: Callable[..., T], *args: object) -> T:
    if _gevent_patched():
        import gevent

        return gevent.get_hub().threadpool.apply(call, args)
    return call(*args)


def _gevent_patched() -> bool:
    if "gevent" not in sys.modules:
        return False
    from gevent import monkey

    return monkey.is_module_patched("socket")


def started_off_loop(call: Callable[..., T], *args: object) -> Callable[[], T]:
    """`call` begun on a helper thread (gevent's pool under gevent), so the caller goes on beside
    it; returns the function that waits for its result."""
    if _gevent_patched():
        import gevent

        return gevent.get_hub().threadpool.spawn(call, *args).get
    return _helpers().submit(call, *args).result


@functools.cache
def _helpers() -> ThreadPoolExecutor:
    return ThreadPoolExecutor(max_workers=HELPER_THREADS, thread_name_prefix="off-loop")


os.register_at_fork(after_in_child=_helpers.cache_clear)  # a pool's threads do not survive fork()
