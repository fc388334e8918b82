"""Child processes that never outlive their parent: our servers, redis-server and ffmpeg.

Each child gets its own session (a terminal's Ctrl-C reaches only the parent, which stops
children in order) and PR_SET_PDEATHSIG, so the kernel ends it if the parent is killed.
"""

from __future__ import annotations

import contextlib
import ctypes
import signal
import subprocess

STOP_TIMEOUT_S = 30.0
PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


def spawn(command: list[str], **kwargs) -> subprocess.Popen:
    return subprocess.Popen(command, start_new_session=True, preexec_fn=_die_with_parent, **kwargs)


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
