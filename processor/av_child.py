"""A PyAV helper module run as a limited child process (JSON in on stdin, JSON out): how the
jobs read an uploaded file with PyAV, so a hostile one costs a killable process."""

from __future__ import annotations

import functools
import importlib
import json
import subprocess
import sys
from collections.abc import Callable

from processor.runner import MIB, FfmpegError
from video_manager.processes import ForkedTool, WaitingTool

_PRELOADED: set[str] = set()


def child_main(commands: dict[str, Callable[[dict], dict]], command: str | None = None) -> int:
    """The child's side: `command` (else the one named on its command line), run on the request
    read from stdin; its answer as JSON on stdout, or why not on stderr (the file's path left
    out: a hostile file may upset PyAV in any way)."""
    import av  # only the child needs PyAV

    request = json.load(sys.stdin)
    if command is None:
        command = sys.argv[1] if len(sys.argv) > 1 else ""
    try:
        result = commands[command](request)
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


def preload(*modules: str) -> None:
    """Import these helper modules (and PyAV) into this process, so that their children are
    forked from it (`ForkedTool`): the worker does so before RQ forks a work horse per job, and
    a plan or a splice then starts in milliseconds instead of an interpreter's 0.1 s."""
    for module in modules:
        importlib.import_module(module)
        _PRELOADED.add(module)


def start_av_child(module: str, command: str, *, memory_limit_mb: int) -> WaitingTool | ForkedTool:
    """`python -m module command` under the limits of every media tool, started now and waiting
    for its request (see `answer_of`): forked from this process where the module was preloaded."""
    if module in _PRELOADED:
        commands = importlib.import_module(module).COMMANDS
        return ForkedTool(
            functools.partial(child_main, commands, command), memory_limit_bytes=memory_limit_mb * MIB
        )
    command_line = [sys.executable, "-P", "-m", module, command]
    return WaitingTool(command_line, memory_limit_bytes=memory_limit_mb * MIB)


def answer_of(child: WaitingTool | ForkedTool, payload: dict, *, timeout_s: float) -> dict:
    """The child's JSON answer to `payload`; AvChildFailed with its complaint when it fails."""
    try:
        returncode, stdout, stderr = child.answer(json.dumps(payload).encode(), timeout_s)
    except subprocess.TimeoutExpired as exc:
        detail = f"reading the video with PyAV did not finish within {timeout_s:g} s"
        raise FfmpegError("ffmpeg_timeout", detail) from exc
    if returncode != 0:
        detail = stderr.decode(errors="replace").strip().splitlines()
        raise AvChildFailed(detail[-1] if detail else f"exited with {returncode}")
    return json.loads(stdout)


def run_av_child(module: str, command: str, payload: dict, *, timeout_s: float, memory_limit_mb: int) -> dict:
    """`python -m module command` under the limits of every media tool; its JSON answer."""
    with start_av_child(module, command, memory_limit_mb=memory_limit_mb) as child:
        return answer_of(child, payload, timeout_s=timeout_s)
