"""A PyAV helper module run as a limited child process (JSON in on stdin, JSON out): how the
jobs read an uploaded file with PyAV, so a hostile one costs a killable process."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable

from processor.runner import MIB, FfmpegError
from video_manager.processes import spawn_media_tool


def child_main(commands: dict[str, Callable[[dict], dict]]) -> int:
    """The child's side: the command named on its command line, run on the request read from
    stdin; its answer as JSON on stdout, or why not on stderr (the file's path left out: a
    hostile file may upset PyAV in any way)."""
    import av  # only the child needs PyAV

    request = json.load(sys.stdin)
    try:
        result = commands[sys.argv[1] if len(sys.argv) > 1 else ""](request)
    except (av.FFmpegError, OSError, ValueError, KeyError) as exc:
        print(str(exc).replace(request.get("source", "\0"), "input"), file=sys.stderr)
        return 1
    print(json.dumps(result))
    return 0


class AvChildFailed(Exception):
    """The child could not do it; `reason` is its last line of complaint."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def run_av_child(module: str, command: str, payload: dict, *, timeout_s: float, memory_limit_mb: int) -> dict:
    """`python -m module command` under the limits of every media tool; its JSON answer."""
    process = spawn_media_tool(
        [sys.executable, "-P", "-m", module, command],
        memory_limit_bytes=memory_limit_mb * MIB,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        stdout, stderr = process.communicate(json.dumps(payload).encode(), timeout=timeout_s)
    except subprocess.TimeoutExpired as exc:
        raise FfmpegError(
            "ffmpeg_timeout", f"{module} {command} did not finish within {timeout_s:g} s"
        ) from exc
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    if process.returncode != 0:
        detail = stderr.decode(errors="replace").strip().splitlines()
        raise AvChildFailed(detail[-1] if detail else f"exited with {process.returncode}")
    return json.loads(stdout)
