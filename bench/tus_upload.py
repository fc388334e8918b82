"""tus upload of a large file over loopback: ours against raw disk write and @tus/server, same run.

One client for both servers: POST to create, then a single PATCH carrying the whole body in
1 MiB writes, which is what tus-js-client and Uppy do with their default chunk size (infinite).
"""

from __future__ import annotations

import contextlib
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

from bench.harness import (
    RUNS,
    UPLOAD_SIZE,
    WORK_DIR,
    MiB,
    RssSampler,
    median_of,
    raw_disk_write,
    report,
    running_stack,
    send_body,
)
from tests.servers import PROJECT_ROOT
from video_manager.processes import stop
from video_manager.supervisor import free_port

PEER_DIR = PROJECT_ROOT / "bench" / "peer"


def tus_upload(base_url: str, endpoint: str, headers: dict[str, str]) -> tuple[float, int]:
    """Create an upload and PATCH it whole; returns (seconds for the PATCH, status)."""
    import requests

    created = requests.post(
        base_url + endpoint,
        headers={**headers, "Tus-Resumable": "1.0.0", "Upload-Length": str(UPLOAD_SIZE)},
        timeout=30,
    )
    created.raise_for_status()
    path = "/" + created.headers["Location"].split("/", 3)[3]
    patch_headers = {
        **headers,
        "Tus-Resumable": "1.0.0",
        "Upload-Offset": "0",
        "Content-Type": "application/offset+octet-stream",
    }
    started = time.perf_counter()
    status, _ = send_body(base_url, "PATCH", path, patch_headers, [b"", b""], UPLOAD_SIZE)
    return time.perf_counter() - started, status


def peer_available(package: str = "@tus/server") -> bool:
    """Whether bench/peer has `package` installed (installing the peers once if npm exists)."""
    if shutil.which("node") is None or shutil.which("npm") is None:
        return False
    if not (PEER_DIR / "node_modules" / package).is_dir():
        subprocess.run(["npm", "install", "--no-audit", "--no-fund", "--silent"], cwd=PEER_DIR, check=False)
    return (PEER_DIR / "node_modules" / package).is_dir()


def timed_upload(base_url: str, endpoint: str, headers: dict[str, str]) -> float:
    seconds, status = tus_upload(base_url, endpoint, headers)
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


def peer_upload() -> float | None:
    if not peer_available():
        return None
    store = WORK_DIR / "peer-files"
    shutil.rmtree(store, ignore_errors=True)
    store.mkdir(parents=True)
    try:
        with peer_server("tus_server.mjs", str(store)) as url:
            return median_of(RUNS, lambda: timed_upload(url, "/files", {}))
    finally:
        shutil.rmtree(store, ignore_errors=True)


def peer_rows(peer: str, peer_s: float | None, ours_s: float) -> list[tuple[str, str]]:
    """The peer's throughput and ours against it, or why the peer did not run."""
    if peer_s is None:
        return [(peer, "skipped: node/npm not available")]
    mb = UPLOAD_SIZE / 1e6
    return [(f"{peer} PATCH", f"{mb / peer_s:8.0f} MB/s"), (f"ours / {peer}", f"{peer_s / ours_s:8.2f}")]


def main() -> None:
    raw_s = median_of(RUNS, lambda: raw_disk_write(UPLOAD_SIZE, WORK_DIR))
    raw_cached_s = median_of(RUNS, lambda: raw_disk_write(UPLOAD_SIZE, WORK_DIR, fsync=False))
    peer_s = peer_upload()
    with running_stack("tus-upload") as stack:
        headers = {"Authorization": f"Token {stack.token}"}
        with RssSampler(stack.server.process.pid) as rss:
            ours_s = median_of(
                RUNS, lambda: timed_upload(stack.server.url, "/api/videos/chunked_upload/", headers)
            )
    mb = UPLOAD_SIZE / 1e6
    rows = [
        ("raw disk write (1 MiB writes + fsync)", f"{mb / raw_s:8.0f} MB/s"),
        ("raw write into the page cache (no fsync)", f"{mb / raw_cached_s:8.0f} MB/s"),
        ("ours: tus PATCH (no fsync, like tusd)", f"{mb / ours_s:8.0f} MB/s"),
        ("ours / raw disk write + fsync", f"{raw_s / ours_s:8.2f}"),
        ("ours / raw write, no fsync", f"{raw_cached_s / ours_s:8.2f}"),
    ]
    rows += peer_rows("@tus/server + @tus/file-store", peer_s, ours_s)
    rows.append(("server RSS growth (peak)", f"{rss.growth_mib:8.1f} MiB"))
    report(f"tus upload, {UPLOAD_SIZE // MiB} MiB in one PATCH over loopback (median of {RUNS})", rows)


if __name__ == "__main__":
    Path(WORK_DIR).mkdir(parents=True, exist_ok=True)
    main()
