"""What every benchmark needs: a scratch folder, a running stack, raw baselines, RSS sampling."""

from __future__ import annotations

import contextlib
import http.client
import os
import shutil
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from tests.servers import PROJECT_ROOT, LiveServer, LiveWorker, cli_create_user, process_env
from video_manager import binaries
from video_manager.supervisor import EmbeddedRedis

MiB = 1024 * 1024
GiB = 1024 * MiB
WORK_DIR = PROJECT_ROOT / "bench" / ".work"
CHUNK = os.urandom(MiB)
UPLOAD_SIZE = int(os.environ.get("BENCH_UPLOAD_MIB", "1024")) * MiB
RUNS = int(os.environ.get("BENCH_RUNS", "3"))


@dataclass
class Stack:
    server: LiveServer
    env: dict[str, str]
    data_dir: Path
    token: str
    worker: LiveWorker | None = None


@contextlib.contextmanager
def running_stack(
    name: str, *, workers: int = 1, with_worker: bool = False, overrides: dict[str, str] | None = None
) -> Iterator[Stack]:
    """redis-server + gunicorn (+ RQ worker) on loopback, with a fresh user; `overrides` are config
    keys as `section_key` (e.g. `storage_backend`)."""
    data_dir = WORK_DIR / name
    shutil.rmtree(data_dir, ignore_errors=True)
    data_dir.mkdir(parents=True)
    redis = EmbeddedRedis(data_dir)
    redis.start()
    env = process_env(data_dir, redis.url, server_workers=str(workers), **(overrides or {}))
    server = LiveServer(env).start()
    worker = LiveWorker(env).start() if with_worker else None
    try:
        yield Stack(
            server=server, env=env, data_dir=data_dir, token=cli_create_user(env, "bench"), worker=worker
        )
    finally:
        server.stop()
        if worker:
            worker.stop()
        redis.stop()
        shutil.rmtree(data_dir, ignore_errors=True)


def settled() -> None:
    """Flush dirty pages left by the previous measurement so it does not slow down the next."""
    os.sync()
    time.sleep(0.5)


@dataclass(frozen=True)
class Spread:
    """Seconds of repeated runs of one measurement: the median, and the range around it."""

    samples: tuple[float, ...]

    @property
    def median(self) -> float:
        return statistics.median(self.samples)

    def seconds(self) -> str:
        return f"{self.median:7.3f} s ({min(self.samples):.3f}-{max(self.samples):.3f})"

    def rate(self, size: int) -> str:
        """MB/s for `size` bytes: the median, and the slowest-fastest range."""
        mb = size / 1e6
        return f"{mb / self.median:6.0f} MB/s ({mb / max(self.samples):.0f}-{mb / min(self.samples):.0f})"

    def times_faster_than(self, other: Spread) -> str:
        """other / self, round by round (runs that alternated saw the same load on the box)."""
        ratios = [theirs / ours for ours, theirs in zip(self.samples, other.samples, strict=True)]
        return f"{statistics.median(ratios):6.2f}x ({min(ratios):.2f}-{max(ratios):.2f})"


def alternating(runs: int, measures: dict[str, Callable[[], float]]) -> dict[str, Spread]:
    """Each measurement once per round, in turn, `runs` rounds, each on a settled disk: load on
    the box (another job, a noisy neighbour) falls on all of them alike, not on one. Each round
    starts one measurement further on, so none always runs first (on this VM a write into pages
    the hypervisor took back costs several times one into pages it still lends)."""
    samples: dict[str, list[float]] = {name: [] for name in measures}
    names = list(measures)
    for round_number in range(runs):
        start = round_number % len(names)
        for name in names[start:] + names[:start]:
            settled()
            samples[name].append(measures[name]())
    return {name: Spread(tuple(found)) for name, found in samples.items()}


def median_of(runs: int, measure: Callable[[], float]) -> float:
    """Median seconds of `runs` calls of `measure()`, each started on a settled disk."""
    return alternating(runs, {"only": measure})["only"].median


@contextlib.contextmanager
def busy_core() -> Iterator[None]:
    """A fixed background load: one process spinning on one core while the measurement runs."""
    spinner = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        yield
    finally:
        spinner.kill()
        spinner.wait()


def raw_disk_write(size: int, directory: Path, *, fsync: bool = True) -> float:
    """Seconds to write `size` bytes in 1 MiB writes (and fsync): the disk's own ceiling."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "raw-write.bin"
    started = time.perf_counter()
    with open(path, "wb") as handle:
        for _ in range(size // MiB):
            handle.write(CHUNK)
        handle.flush()
        if fsync:
            os.fsync(handle.fileno())
    elapsed = time.perf_counter() - started
    path.unlink()
    return elapsed


def send_body(
    url: str, method: str, path: str, headers: dict[str, str], parts: list[bytes], size: int,
    body: Path | None = None,
) -> tuple[int, bytes]:  # fmt: skip
    """Send prefix parts, then `size` bytes of random data (or the first `size` bytes of the file
    `body`) in 1 MiB writes, with a Content-Length."""
    host, port = url.removeprefix("http://").split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=600)
    prefix, suffix = parts
    connection.putrequest(method, path)
    for key, value in {**headers, "Content-Length": str(len(prefix) + size + len(suffix))}.items():
        connection.putheader(key, value)
    connection.endheaders()
    connection.send(prefix)
    if body is None:
        for _ in range(size // MiB):
            connection.send(CHUNK)
    else:
        with open(body, "rb") as handle:
            left = size
            while left and (block := handle.read(min(MiB, left))):
                connection.send(block)
                left -= len(block)
    connection.send(suffix)
    response = connection.getresponse()
    body = response.read()
    connection.close()
    return response.status, body


class RssSampler:
    """Peak resident memory of a process tree, sampled from /proc every 20 ms; subclasses sample
    something else per process by overriding `measure`."""

    def __init__(self, root_pid: int) -> None:
        self.root_pid = root_pid
        self.peak = 0
        self.baseline = self.current()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def current(self) -> int:
        return sum(self.measure(pid) for pid in [self.root_pid, *_children(self.root_pid)])

    def measure(self, pid: int) -> int:
        return _rss(pid)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, self.current())
            time.sleep(0.02)

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        self._thread.join()

    @property
    def growth_mib(self) -> float:
        return (self.peak - self.baseline) / MiB


def _children(pid: int) -> list[int]:
    found = []
    with contextlib.suppress(FileNotFoundError):
        for task in Path(f"/proc/{pid}/task").iterdir():
            text = (task / "children").read_text().split()
            for child in map(int, text):
                found += [child, *_children(child)]
    return found


def _rss(pid: int) -> int:
    with contextlib.suppress(FileNotFoundError, ProcessLookupError):
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    return 0


def report(title: str, rows: list[tuple[str, str]]) -> None:
    print(f"\n== {title}")
    width = max(len(label) for label, _ in rows)
    for label, value in rows:
        print(f"  {label.ljust(width)}  {value}")


def long_video() -> Path:
    """About 1 GiB of H.264/AAC: a 10 s high-bitrate clip, stream-copied 25 times over."""
    clip, video = WORK_DIR / "clip-1080p.mp4", WORK_DIR / "long-1gib.mp4"
    if not video.exists():
        ffmpeg = [binaries.ffmpeg_path(), "-v", "error", "-y"]
        subprocess.run(
            [*ffmpeg, "-f", "lavfi", "-i", "testsrc2=size=1920x1080:rate=30", "-f", "lavfi",
             "-i", "sine=frequency=440:sample_rate=48000", "-t", "10", "-c:v", "libx264",
             "-preset", "ultrafast", "-qp", "4", "-g", "60", "-pix_fmt", "yuv420p", "-c:a", "aac", str(clip)],
            check=True,
        )  # fmt: skip
        subprocess.run([*ffmpeg, "-stream_loop", "24", "-i", str(clip), "-c", "copy", str(video)], check=True)
    return video
