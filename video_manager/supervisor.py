"""`video-manager run`: the embedded redis-server, one RQ worker and the HTTP server as children.

Ctrl-C reaches only this supervisor (children run in their own sessions, see processes.py), which
then stops them in order: server, worker, Redis.
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
from pathlib import Path

from redis import Redis
from redis.exceptions import RedisError

from video_manager import binaries
from video_manager.config import Config
from video_manager.processes import spawn, stop
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


def run_all(config: Config, config_path: str | None) -> int:
    """Start everything and wait; returns the exit code for the CLI."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    shutil.rmtree(config.metrics_dir, ignore_errors=True)  # counters start at zero with the system
    env = dict(os.environ)
    if config_path:
        env["VIDEO_MANAGER_CONFIG"] = str(Path(config_path).resolve())
    redis_server = None
    if not config.redis.url:
        redis_server = EmbeddedRedis(config.data_dir)
        env["VIDEO_MANAGER_REDIS_URL"] = redis_server.start()
        log.info("embedded redis-server on 127.0.0.1:%d", redis_server.port)

    stopping = False

    def request_stop(_signum, _frame) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, request_stop)
    signal.signal(signal.SIGTERM, request_stop)
    me = [sys.executable, "-P", "-m", "video_manager"]
    children = {
        "worker": spawn([*me, "worker"], env=env),
        "server": spawn([*me, "serve"], env=env),
    }
    log.info("serving on http://%s:%d (Ctrl-C stops everything)", config.server.host, config.server.port)
    exit_code = 0
    try:
        while not stopping:
            for name, child in children.items():
                if child.poll() is not None:
                    log.error("%s exited with %s; stopping", name, child.returncode)
                    stopping, exit_code = True, 1
            time.sleep(0.2)
    finally:
        for name in ("server", "worker"):
            stop(children[name])
        if redis_server is not None:
            redis_server.stop()
        log.info("stopped")
    return exit_code
