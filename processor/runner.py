"""The one way ffmpeg is run: progress from `-progress pipe:1`, stderr drained, a timeout and a
memory ceiling of its own, and the process killed whatever happens (timeout, job failure, worker
shutdown). A run stopped by our limits or by a crash is a failure of the input, never retried;
only a run stopped from outside (SIGTERM/SIGINT/SIGHUP: a shutdown) may be worth another try."""

from __future__ import annotations

import collections
import re
import signal
import subprocess
import threading
from collections.abc import Callable

from video_manager.processes import spawn_media_tool

STDERR_LINES_KEPT = 20
MIB = 1024 * 1024
STOPPED_FROM_OUTSIDE = {signal.SIGTERM, signal.SIGINT, signal.SIGHUP}
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
    memory_limit_mb: int,
    on_progress: Callable[[float], None] | None = None,
) -> None:
    """Run to completion or raise FfmpegError. `on_progress` gets 0.0 to 1.0 as ffmpeg reports."""
    process = spawn_media_tool(
        command,
        memory_limit_bytes=memory_limit_mb * MIB,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
    )
    stderr_tail: collections.deque[str] = collections.deque(maxlen=STDERR_LINES_KEPT)
    drain = threading.Thread(target=_drain, args=(process.stderr, stderr_tail), daemon=True)
    drain.start()
    timed_out = threading.Event()

    def stop_it() -> None:
        timed_out.set()
        process.kill()

    timer = threading.Timer(timeout_s, stop_it)
    timer.start()
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
    if timed_out.is_set():  # (told by the timer itself: a clock read here raced with it on a busy box)
        raise FfmpegError("ffmpeg_timeout", f"ffmpeg did not finish within {timeout_s:g} s")
    if returncode < 0 and -returncode in STOPPED_FROM_OUTSIDE:
        raise FfmpegError("ffmpeg_killed", f"ffmpeg was stopped by signal {-returncode}", transient=True)
    if returncode < 0 or _out_of_memory(stderr_tail):
        raise FfmpegError(
            "resource_limit",
            f"ffmpeg was stopped ({_signal_name(-returncode) if returncode < 0 else 'out of memory'}): "
            f"the input needs more than this server allows (memory limit {memory_limit_mb} MiB)",
        )
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


def _out_of_memory(stderr_tail: collections.deque[str]) -> bool:
    return any("Cannot allocate memory" in line or "out of memory" in line.lower() for line in stderr_tail)


def _signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"


def scrub(text: str) -> str:
    """Remove absolute paths so error details never reveal the server's layout."""
    return _PATHS.sub("<file>", text).strip()


def _drain(stream, tail: collections.deque[str]) -> None:
    for raw in stream:
        tail.append(raw.decode(errors="replace").rstrip())
