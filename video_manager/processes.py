"""Child processes that never outlive their parent: our servers, redis-server, ffmpeg and probes.

Each child gets its own session (a terminal's Ctrl-C reaches only the parent, which stops
children in order) and PR_SET_PDEATHSIG, so the kernel ends it if the parent is killed. Children
that read untrusted media also get a memory ceiling (RLIMIT_AS) and SIGKILL as their death signal:
ffmpeg may take its time over a SIGTERM, and a runaway one must not outlive its job.
"""

from __future__ import annotations

import contextlib
import ctypes
import multiprocessing
import os
import resource
import signal
import socket
import subprocess
from collections.abc import Callable

STOP_TIMEOUT_S = 30.0
PR_SET_PDEATHSIG = 1


def die_with_parent(death_signal: int) -> None:
    """Asks the kernel to send this process `death_signal` when its parent dies (Linux)."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(PR_SET_PDEATHSIG, death_signal)


def die_with_parent_process(death_signal: int) -> None:
    """For a process started by multiprocessing: dies with the process that started it, also when
    that process was already gone before the request could be made (the kernel would not know)."""
    die_with_parent(death_signal)
    parent = multiprocessing.parent_process()
    if parent is not None and os.getppid() != parent.pid:
        os.kill(os.getpid(), death_signal)


def _child_setup(death_signal: int, memory_limit_bytes: int) -> Callable[[], None]:
    def setup() -> None:
        die_with_parent(death_signal)
        if memory_limit_bytes > 0:
            resource.setrlimit(resource.RLIMIT_AS, (memory_limit_bytes, memory_limit_bytes))

    return setup


def spawn(command: list[str], **kwargs) -> subprocess.Popen:
    """A long-lived part of the system (redis-server, server, worker): SIGTERM when we die."""
    setup = _child_setup(signal.SIGTERM, 0)
    return subprocess.Popen(command, start_new_session=True, preexec_fn=setup, **kwargs)


def spawn_media_tool(command: list[str], *, memory_limit_bytes: int, **kwargs) -> subprocess.Popen:
    """ffmpeg or a probe on untrusted input: a memory ceiling, SIGKILL when we die."""
    setup = _child_setup(signal.SIGKILL, memory_limit_bytes)
    return subprocess.Popen(command, start_new_session=True, preexec_fn=setup, **kwargs)


def stop(process: subprocess.Popen, timeout_s: float = STOP_TIMEOUT_S) -> None:
    """SIGTERM, then SIGKILL if it has not exited in time."""
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout_s)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def address_in_use(host: str, port: int) -> bool:
    """Whether something already listens on host:port. Bound as gunicorn binds (SO_REUSEADDR),
    so connections of a server that just stopped (TIME_WAIT) do not count."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError:
            return True
    return False
