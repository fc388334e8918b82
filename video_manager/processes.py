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
import selectors
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable

STOP_TIMEOUT_S = 30.0
MAX_FD = 1 << 20  # close_range() closes what is open up to here, at no cost for the rest
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


class WaitingTool:
    """A media tool started before its input is known: a child that imports PyAV spends about
    0.1 s on that, which then overlaps other work (an upload's last bytes, a cut's encodes).
    `answer` hands it its input; leaving the `with` block ends it if it never got one."""

    def __init__(self, command: list[str], *, memory_limit_bytes: int) -> None:
        self.process = spawn_media_tool(
            command,
            memory_limit_bytes=memory_limit_bytes,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        self.answered = False

    def answer(self, request: bytes, timeout_s: float) -> tuple[int, bytes, bytes]:
        """(exit status, stdout, stderr). Past `timeout_s` it is killed and
        `subprocess.TimeoutExpired` raised."""
        self.answered = True
        process = self.process
        try:
            stdout, stderr = process.communicate(request, timeout=timeout_s)
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()
        return process.returncode, stdout, stderr

    def __enter__(self) -> WaitingTool:
        return self

    def __exit__(self, *_exc: object) -> None:
        if not self.answered:
            self.answered = True
            self.process.kill()
            self.process.communicate()  # reaps it and closes its pipes


class ForkedTool:
    """A media tool forked from this process instead of started afresh: where what it runs is
    already imported (the worker imports PyAV once), a child costs a few milliseconds instead of
    an interpreter's start-up (about 0.1 s). The limits of `spawn_media_tool` hold (a session of
    its own, SIGKILL when this process dies, an address-space ceiling), and it keeps none of this
    process's files but its three pipes. `run` is called in the child; it returns the exit
    status. Used as `WaitingTool` is: `answer`, inside a `with` block."""

    def __init__(self, run: Callable[[], int], *, memory_limit_bytes: int) -> None:
        stdin_read, self._stdin = os.pipe()
        self._stdout, stdout_write = os.pipe()
        self._stderr, stderr_write = os.pipe()
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(AttributeError, OSError, ValueError):
                stream.flush()
        self.pid = os.fork()
        if self.pid == 0:  # the child: nothing here may return into the parent's code
            status = 1
            try:
                os.setsid()
                _child_setup(signal.SIGKILL, memory_limit_bytes)()
                for source, target in ((stdin_read, 0), (stdout_write, 1), (stderr_write, 2)):
                    os.dup2(source, target)
                os.closerange(3, MAX_FD)
                with (  # the child's own streams, on its pipes (flushed as they close)
                    open(0, closefd=False) as sys.stdin,
                    open(1, "w", closefd=False) as sys.stdout,
                    open(2, "w", closefd=False) as sys.stderr,
                ):
                    status = run()
            except BaseException as exc:  # said on stderr, as a spawned child's traceback would
                with contextlib.suppress(OSError):
                    os.write(2, f"{type(exc).__name__}: {exc}\n".encode(errors="replace"))
            finally:
                os._exit(status)
        for end in (stdin_read, stdout_write, stderr_write):
            os.close(end)
        self._open = {self._stdin, self._stdout, self._stderr}
        self._reaped = False

    def answer(self, request: bytes, timeout_s: float) -> tuple[int, bytes, bytes]:
        """(exit status, stdout, stderr). Past `timeout_s` it is killed and
        `subprocess.TimeoutExpired` raised."""
        deadline = time.monotonic() + timeout_s
        outputs: dict[int, list[bytes]] = {self._stdout: [], self._stderr: []}
        try:
            with contextlib.suppress(BrokenPipeError):  # it ended early: its stderr says why
                view = memoryview(request)
                while view:
                    view = view[os.write(self._stdin, view) :]
            self._close(self._stdin)
            with selectors.DefaultSelector() as selector:
                for fd in outputs:
                    selector.register(fd, selectors.EVENT_READ)
                while selector.get_map():
                    left = deadline - time.monotonic()
                    if left <= 0:
                        raise subprocess.TimeoutExpired(f"forked media tool {self.pid}", timeout_s)
                    for key, _ in selector.select(left):
                        data = os.read(key.fd, 65536)
                        if data:
                            outputs[key.fd].append(data)
                        else:
                            selector.unregister(key.fd)
            status = os.waitstatus_to_exitcode(os.waitpid(self.pid, 0)[1])
            self._reaped = True
            return status, b"".join(outputs[self._stdout]), b"".join(outputs[self._stderr])
        finally:
            self._end()

    def _end(self) -> None:
        if not self._reaped:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, signal.SIGKILL)
            os.waitpid(self.pid, 0)
            self._reaped = True
        for fd in list(self._open):
            self._close(fd)

    def _close(self, fd: int) -> None:
        """Each pipe end once: a number closed twice may by then name another file."""
        if fd in self._open:
            self._open.discard(fd)
            os.close(fd)

    def __enter__(self) -> ForkedTool:
        return self

    def __exit__(self, *_exc: object) -> None:
        self._end()  # nothing left to do once answered: reaped, and its pipes closed


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
