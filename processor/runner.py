"""The one way ffmpeg is run: progress from `-progress pipe:1`, stderr drained, a timeout of its
own, and the process killed whatever happens (timeout, job failure, worker shutdown)."""

from __future__ import annotations

import collections
import re
import subprocess
import threading
import time
from collections.abc import Callable

from processes import spawn

STDERR_LINES_KEPT = 20
_PATHS = re.compile(r"(/[^\s:'\"]+)+")


class FfmpegError(RuntimeError):
    """ffmpeg failed; `detail` is its last stderr lines with server paths removed."""

    def __init__(self, code: str, detail: str, *, transient: bool = False) -> None:
        super().__init__(detail)
        self.code = code
        self.detail = detail
        self.transient = transient


def run_ffmpeg(
    command: list[str],
    *,
    expected_duration: float,
    timeout_s: float,
    on_progress: Callable[[float], None] | None = None,
) -> None:
    """Run to completion or raise FfmpegError. `on_progress` gets 0.0 to 1.0 as ffmpeg reports."""
    process = spawn(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL)
    stderr_tail: collections.deque[str] = collections.deque(maxlen=STDERR_LINES_KEPT)
    drain = threading.Thread(target=_drain, args=(process.stderr, stderr_tail), daemon=True)
    drain.start()
    timer = threading.Timer(timeout_s, process.kill)
    timer.start()
    started = time.monotonic()
    try:
        assert process.stdout is not None
        for raw in process.stdout:
            fraction = parse_progress_line(raw.decode(errors="replace"), expected_duration)
            if fraction is not None and on_progress is not None:
                on_progress(fraction)
        returncode = process.wait()
    finally:
        timer.cancel()
        if process.poll() is None:
            process.kill()
            process.wait()
        drain.join(timeout=5)
    if returncode == 0:
        return
    detail = scrub("\n".join(stderr_tail)) or f"ffmpeg exited with status {returncode}"
    if time.monotonic() - started >= timeout_s:
        raise FfmpegError("ffmpeg_timeout", f"ffmpeg did not finish within {timeout_s:g} s")
    if returncode < 0:
        raise FfmpegError("ffmpeg_killed", f"ffmpeg was stopped by signal {-returncode}", transient=True)
    raise FfmpegError("ffmpeg_failed", detail)


def parse_progress_line(line: str, expected_duration: float) -> float | None:
    """`out_time_us=1234567` (or out_time_ms, also in µs) → fraction done; `progress=end` → 1.0."""
    key, _, value = line.strip().partition("=")
    if key == "progress" and value == "end":
        return 1.0
    if key not in ("out_time_us", "out_time_ms") or expected_duration <= 0:
        return None
    try:
        microseconds = int(value)
    except ValueError:  # "N/A" before the first frame
        return None
    return min(max(microseconds / 1e6 / expected_duration, 0.0), 1.0)


def scrub(text: str) -> str:
    """Remove absolute paths so error details never reveal the server's layout."""
    return _PATHS.sub("<file>", text).strip()


def _drain(stream, tail: collections.deque[str]) -> None:
    for raw in stream:
        tail.append(raw.decode(errors="replace").rstrip())
