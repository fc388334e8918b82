"""tus upload of a large video over loopback: ours against raw disk write and @tus/server, same run,
alternating, idle and with one core kept busy.

One client for both servers: POST to create, then a single PATCH carrying the whole body in
1 MiB writes, which is what tus-js-client and Uppy do with their default chunk size (infinite).
Ours answers the last PATCH once the video is probed and recorded; the peer only stores bytes.
"""

from __future__ import annotations

import contextlib
import functools
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import requests

from bench.harness import (
    RUNS,
    WORK_DIR,
    RssSampler,
    Spread,
    Stack,
    alternating,
    busy_core,
    long_video,
    raw_disk_write,
    report,
    running_stack,
    send_body,
)
from tests.servers import PROJECT_ROOT
from video_manager.processes import stop
from video_manager.supervisor import free_port

PEER_DIR = PROJECT_ROOT / "bench" / "peer"


def tus_upload(base_url: str, endpoint: str, headers: dict[str, str], body: Path) -> tuple[float, int]:
    """Create an upload, PATCH the file `body` whole, then terminate it (the peer's disk stays as
    it was); returns (seconds for the PATCH, its status)."""
    size = body.stat().st_size
    tus = {**headers, "Tus-Resumable": "1.0.0"}
    created = requests.post(base_url + endpoint, headers={**tus, "Upload-Length": str(size)}, timeout=30)
    created.raise_for_status()
    path = "/" + created.headers["Location"].split("/", 3)[3]
    patch_headers = {**tus, "Upload-Offset": "0", "Content-Type": "application/offset+octet-stream"}
    started = time.perf_counter()
    status, _ = send_body(base_url, "PATCH", path, patch_headers, [b"", b""], size, body)
    elapsed = time.perf_counter() - started
    requests.delete(base_url + path, headers=tus, timeout=60)
    return elapsed, status


def peer_available(package: str = "@tus/server") -> bool:
    """Whether bench/peer has `package` installed (installing the peers once if npm exists)."""
    if shutil.which("node") is None or shutil.which("npm") is None:
        return False
    if not (PEER_DIR / "node_modules" / package).is_dir():
        subprocess.run(["npm", "install", "--no-audit", "--no-fund", "--silent"], cwd=PEER_DIR, check=False)
    return (PEER_DIR / "node_modules" / package).is_dir()


def timed_upload(base_url: str, endpoint: str, headers: dict[str, str], body: Path) -> float:
    seconds, status = tus_upload(base_url, endpoint, headers, body)
    assert status == 204, status
    return seconds


@contextlib.contextmanager
def peer_server(script: str, *args: str) -> Iterator[str]:
    """A Node peer tus server from bench/peer on a free loopback port; yields its base URL."""
    port = free_port()
    process = subprocess.Popen(
        ["node", script, str(port), *args], cwd=PEER_DIR, stdout=subprocess.PIPE, text=True
    )
    try:
        assert process.stdout is not None and process.stdout.readline().startswith("ready")
        yield f"http://127.0.0.1:{port}"
    finally:
        stop(process)


@contextlib.contextmanager
def peer_tus_server() -> Iterator[str]:
    """@tus/server with its file store, in a folder of its own."""
    store = WORK_DIR / "peer-files"
    shutil.rmtree(store, ignore_errors=True)
    store.mkdir(parents=True)
    try:
        with peer_server("tus_server.mjs", str(store)) as url:
            yield url
    finally:
        shutil.rmtree(store, ignore_errors=True)


def our_upload(stack: Stack, video: Path) -> float:
    """One tus upload of the video that becomes a video, deleted afterwards (the store stays as
    it was)."""
    headers = {"Authorization": f"Token {stack.token}"}
    seconds = timed_upload(stack.server.url, "/api/videos/chunked_upload/", headers, video)
    listed = requests.get(f"{stack.server.url}/api/videos/", headers=headers, timeout=60).json()["results"]
    for video_row in listed:
        requests.delete(f"{stack.server.url}/api/videos/{video_row['id']}/", headers=headers, timeout=60)
    return seconds


def compared(spreads: dict[str, Spread], ours: str, size: int, label: str = "") -> list[tuple[str, str]]:
    """Each measurement's rate, then ours against each of the others round by round."""
    rows = [(f"{label}{name}", spread.rate(size)) for name, spread in spreads.items()]
    rows += [
        (f"{label}{ours} vs {name}", spreads[ours].times_faster_than(spread))
        for name, spread in spreads.items()
        if name != ours
    ]
    return rows


def main() -> None:
    video = long_video()
    size = video.stat().st_size
    raw = alternating(RUNS, {
        "fsync": lambda: raw_disk_write(size, WORK_DIR),
        "cached": lambda: raw_disk_write(size, WORK_DIR, fsync=False),
    })  # fmt: skip
    with contextlib.ExitStack() as running:
        stacks = {
            name: running.enter_context(running_stack(f"tus-{name}", overrides={"server_worker_class": name}))
            for name in ("gevent", "gthread")
        }
        measures = {
            f"ours ({name})": functools.partial(our_upload, stack, video) for name, stack in stacks.items()
        }
        peer = "@tus/server + @tus/file-store"
        if peer_available():
            url = running.enter_context(peer_tus_server())
            measures[peer] = lambda: timed_upload(url, "/files", {}, video)
        with RssSampler(stacks["gevent"].server.process.pid) as rss:
            idle = alternating(RUNS, measures)
        with busy_core():
            loaded = alternating(RUNS, measures)
    rows = [
        ("raw disk write (1 MiB writes + fsync)", raw["fsync"].rate(size)),
        ("raw write into the page cache (no fsync)", raw["cached"].rate(size)),
    ]
    for load, spreads in (("idle", idle), ("one core busy", loaded)):
        rows += compared(spreads, "ours (gevent)", size, f"{load}: ")
        if peer not in spreads:
            rows.append((f"{load}: {peer}", "skipped: node/npm not available"))
    rows.append(
        ("ours / raw write, no fsync (idle)", f"{raw['cached'].median / idle['ours (gevent)'].median:6.2f}")
    )
    rows.append(("server RSS growth (peak, gevent, idle)", f"{rss.growth_mib:8.1f} MiB"))
    report(
        f"tus upload of a {size / 1e6:.0f} MB 1080p video in one PATCH over loopback, finished (probed, "
        f"recorded) before the answer; {RUNS} alternating rounds: median (slowest-fastest), ratios "
        "round by round; no fsync per PATCH, like tusd",
        rows,
    )


if __name__ == "__main__":
    Path(WORK_DIR).mkdir(parents=True, exist_ok=True)
    main()
