"""Long disk calls (fsync of a big file, a kernel copy of gigabytes) off the event loop.

Under gunicorn's gevent worker one blocking system call stalls every connection of the process;
run there, such calls go to gevent's thread pool. Elsewhere (the RQ worker, tests, gthread)
they simply run.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def off_loop(call: Callable[..., T], *args: object) -> T:
    if "gevent" in sys.modules:
        from gevent import monkey

        if monkey.is_module_patched("socket"):
            import gevent

            return gevent.get_hub().threadpool.apply(call, args)
    return call(*args)
