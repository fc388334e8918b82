"""`video-manager run`: the embedded redis-server, one RQ worker and the HTTP server as children.

Ctrl-C reaches only this supervisor (children run in their own sessions, see processes.py), which
then stops them in order: server, worker, Redis. A child that dies unexpectedly (killed, crashed)
is started again after a short delay that grows while it keeps dying, and the others keep running.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import KW_ONLY, dataclass
from pathlib import Path

from redis import Redis
from redis.exceptions import RedisError

from video_manager import binaries
from video_manager.config import Config
from video_manager.processes import address_in_use, spawn, stop
from video_manager.redis_client import EMBEDDED_URL_FILE

log = logging.getLogger("video-manager")


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class EmbeddedRedis:
    """A private redis-server on a free loopback port with its data under `data/redis`."""

    def __init__(self, data_dir: Path) -> None:
        self.dir = data_dir / "redis"
        self.url_file = data_dir / EMBEDDED_URL_FILE
        self.port = 0
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self, timeout_s: float = 10.0) -> str:
        self.dir.mkdir(parents=True, exist_ok=True)
        self.port = self.port or free_port()  # a restart keeps its port, so clients reconnect
        command = [
            binaries.redis_server_path(),
            "--port",
            str(self.port),
            "--bind",
            "127.0.0.1",
            "--dir",
            str(self.dir),
            "--save",
            "60 1",
            "--appendonly",
            "no",
            "--protected-mode",
            "yes",
            "--logfile",
            str(self.dir / "redis.log"),
        ]
        self.process = spawn(command, stdout=subprocess.DEVNULL)
        deadline = time.monotonic() + timeout_s
        client = Redis(host="127.0.0.1", port=self.port, socket_connect_timeout=0.5)
        while True:
            try:
                client.ping()
                break
            except RedisError:
                if self.process.poll() is not None or time.monotonic() > deadline:
                    self.stop()
                    raise RuntimeError(f"redis-server did not start (see {self.dir / 'redis.log'})") from None
                time.sleep(0.05)
        self.url_file.write_text(self.url)
        return self.url

    def stop(self) -> None:
        if self.process is not None:
            stop(self.process)
        with contextlib.suppress(FileNotFoundError):
            if self.url_file.read_text().strip() == self.url:
                self.url_file.unlink()


RESTART_DELAY_S = 0.5  # after a child's first unexpected exit; doubled for each quick one after
RESTART_DELAY_MAX_S = 30.0
STABLE_AFTER_S = 60.0  # a child that ran this long starts again at the shortest delay


@dataclass
class Child:
    """A part of the system the supervisor keeps running: started again, with a growing delay,
    whenever it exits without being asked to."""

    name: str
    start: Callable[[], subprocess.Popen]
    stop: Callable[[subprocess.Popen], None]
    _: KW_ONLY
    # False while it cannot start yet (the server: its port still held by the killed one's workers,
    # finishing their requests); the restart waits instead of failing and backing off.
    can_start: Callable[[], bool] = lambda: True
    process: subprocess.Popen | None = None
    started_at: float = 0.0
    delay_s: float = RESTART_DELAY_S
    restart_at: float | None = None

    def launch(self) -> None:
        self.process, self.started_at, self.restart_at = self.start(), time.monotonic(), None

    def check(self, now: float) -> None:
        """Start it again when it is due; note its exit and schedule the restart."""
        if self.restart_at is not None:
            if now >= self.restart_at and self.can_start():
                log.info("starting %s again", self.name)
                try:
                    self.launch()
                except (OSError, RuntimeError) as exc:
                    log.error("%s did not start (%s)", self.name, exc)
                    self._schedule(now)
            return
        if self.process is None or self.process.poll() is None:
            return
        _end_group(self.process)  # what it started (gunicorn's workers, the worker's helpers) goes too
        if now - self.started_at >= STABLE_AFTER_S:
            self.delay_s = RESTART_DELAY_S
        log.error("%s exited with %s; starting it again in %.1f s", self.name, self.process.returncode,
                  self.delay_s)  # fmt: skip
        self._schedule(now)

    def _schedule(self, now: float) -> None:
        self.restart_at = now + self.delay_s
        self.delay_s = min(self.delay_s * 2, RESTART_DELAY_MAX_S)

    def halt(self) -> None:
        if self.process is not None:
            self.stop(self.process)


def _end_group(process: subprocess.Popen) -> None:
    """Children run in sessions of their own (processes.spawn): their group outlives a killed leader."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGTERM)


def run_all(config: Config, config_path: str | None) -> int:
    """Start everything and keep it running until Ctrl-C or SIGTERM; returns the exit code."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    shutil.rmtree(config.metrics_dir, ignore_errors=True)  # counters start at zero with the system
    env = dict(os.environ)
    if config_path:
        env["VIDEO_MANAGER_CONFIG"] = str(Path(config_path).resolve())
    children: list[Child] = []
    redis_server = None
    if not config.redis.url:
        redis_server = EmbeddedRedis(config.data_dir)
        env["VIDEO_MANAGER_REDIS_URL"] = redis_server.start()
        log.info("embedded redis-server on 127.0.0.1:%d", redis_server.port)
        children.append(Child("redis-server", _restart_redis(redis_server), lambda _p: redis_server.stop(),
                              process=redis_server.process))  # fmt: skip

    stopping = False

    def request_stop(_signum, _frame) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, request_stop)
    signal.signal(signal.SIGTERM, request_stop)
    me = [sys.executable, "-P", "-m", "video_manager"]

    def port_free() -> bool:
        return not address_in_use(config.server.host, config.server.port)

    for name, command, can_start in (("worker", "worker", lambda: True), ("server", "serve", port_free)):
        child = Child(name, lambda command=command: spawn([*me, command], env=env), stop, can_start=can_start)
        child.launch()
        children.append(child)
    log.info("serving on http://%s:%d (Ctrl-C stops everything)", config.server.host, config.server.port)
    log.info("for the client commands: export VIDEO_MANAGER_URL=%s", config.client_url)
    try:
        while not stopping:
            now = time.monotonic()
            for child in children:
                child.check(now)
            time.sleep(0.2)
    finally:
        for child in reversed(children):  # server, worker, then Redis
            child.halt()
        log.info("stopped")
    return 0


def _restart_redis(redis_server: EmbeddedRedis) -> Callable[[], subprocess.Popen]:
    def start() -> subprocess.Popen:
        redis_server.start()  # the same port: every client reconnects by itself
        assert redis_server.process is not None
        return redis_server.process

    return start
