"""tus upload of a large file over loopback: ours against raw disk write and @tus/server, same run.

One client for both servers: POST to create, then a single PATCH carrying the whole body in
1 MiB writes, which is what tus-js-client and Uppy do with their default chunk size (infinite).
"""

from __future__ import annotations

import contextlib
import shutil
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from bench.harness import (
    RUNS,
    UPLOAD_SIZE,
    WORK_DIR,
    MiB,
    RssSampler,
    Stack,
    alternating,
    busy_core,
    raw_disk_write,
    report,
    running_stack,
    send_body,
)
from tests.servers import PROJECT_ROOT
from video_manager.processes import stop
from video_manager.supervisor import free_port

PEER_DIR = PROJECT_ROOT / "bench" / "peer"


def tus_upload(
    base_url: str, endpoint: str, headers: dict[str, str], body: Path | None = None
) -> tuple[float, int]:
    """Create an upload, PATCH it whole (UPLOAD_SIZE random bytes, or the file `body`), then
    terminate it (the disk stays as it was); returns (seconds for the PATCH, its status)."""
    import requests

    size = body.stat().st_size if body else UPLOAD_SIZE
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


def timed_upload(base_url: str, endpoint: str, headers: dict[str, str], body: Path | None = None) -> float:
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


def peer_rows(peer: str, peer_s: float | None, ours_s: float) -> list[tuple[str, str]]:
    """The peer's throughput and ours against it, or why the peer did not run."""
    if peer_s is None:
        return [(peer, "skipped: node/npm not available")]
    mb = UPLOAD_SIZE / 1e6
    return [(f"{peer} PATCH", f"{mb / peer_s:8.0f} MB/s"), (f"ours / {peer}", f"{peer_s / ours_s:8.2f}")]


def main() -> None:
    raw = alternating(RUNS, {
        "fsync": lambda: raw_disk_write(UPLOAD_SIZE, WORK_DIR),
        "cached": lambda: raw_disk_write(UPLOAD_SIZE, WORK_DIR, fsync=False),
    })  # fmt: skip
    with contextlib.ExitStack() as running:
        stacks = {
            name: running.enter_context(running_stack(f"tus-{name}", overrides={"server_worker_class": name}))
            for name in ("gevent", "gthread")
        }
        measures = {f"ours ({name})": _ours(stack) for name, stack in stacks.items()}
        peer = "@tus/server + @tus/file-store"
        if peer_available():
            url = running.enter_context(peer_tus_server())
            measures[peer] = lambda: timed_upload(url, "/files", {})
        with RssSampler(stacks["gevent"].server.process.pid) as rss:
            idle = alternating(RUNS, measures)
        with busy_core():
            loaded = alternating(RUNS, measures)
    mb = UPLOAD_SIZE / 1e6
    rows = [
        ("raw disk write (1 MiB writes + fsync)", raw["fsync"].rate(UPLOAD_SIZE)),
        ("raw write into the page cache (no fsync)", raw["cached"].rate(UPLOAD_SIZE)),
    ]
    for load, spreads in (("idle", idle), ("one core busy", loaded)):
        ours = spreads["ours (gevent)"]
        for name, spread in spreads.items():
            rows.append((f"{load}: {name} PATCH", spread.rate(UPLOAD_SIZE)))
        rows.append((f"{load}: gevent vs gthread", ours.times_faster_than(spreads["ours (gthread)"])))
        if peer in spreads:
            rows.append((f"{load}: gevent vs {peer}", ours.times_faster_than(spreads[peer])))
        else:
            rows.append((f"{load}: {peer}", "skipped: node/npm not available"))
    rows.append(
        ("ours / raw write, no fsync (idle)", f"{raw['cached'].median / idle['ours (gevent)'].median:6.2f}")
    )
    rows.append(("server RSS growth (peak, gevent, idle)", f"{rss.growth_mib:8.1f} MiB"))
    report(
        f"tus upload, {UPLOAD_SIZE // MiB} MiB ({mb:.0f} MB) in one PATCH over loopback, "
        f"{RUNS} alternating rounds: median (slowest-fastest); no fsync per PATCH, like tusd",
        rows,
    )


def _ours(stack: Stack) -> Callable[[], float]:
    headers = {"Authorization": f"Token {stack.token}"}
    return lambda: timed_upload(stack.server.url, "/api/videos/chunked_upload/", headers)


if __name__ == "__main__":
    Path(WORK_DIR).mkdir(parents=True, exist_ok=True)
    main()
