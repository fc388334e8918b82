"""The IETF draft's upload against our own tus 1.0.0 upload of the same 512 MiB, same server, same
run, alternating: create, then one append of the whole body in 1 MiB writes that completes it."""

from __future__ import annotations

import time
from pathlib import Path

import requests

from bench.harness import RUNS, WORK_DIR, MiB, median_of, report, running_stack, send_body
from tests.raw_http import exchange

SIZE = 512 * MiB
ENDPOINT = "/api/videos/chunked_upload/"


def path_of(url: str) -> str:
    return "/" + url.split("/", 3)[3]


def tus(base_url: str, token: str) -> float:
    auth = {"Authorization": f"Token {token}", "Tus-Resumable": "1.0.0"}
    created = requests.post(base_url + ENDPOINT, headers={**auth, "Upload-Length": str(SIZE)}, timeout=30)
    headers = {**auth, "Upload-Offset": "0", "Content-Type": "application/offset+octet-stream"}
    started = time.perf_counter()
    status, _ = send_body(base_url, "PATCH", path_of(created.headers["Location"]), headers, [b"", b""], SIZE)
    assert status == 204, status
    return time.perf_counter() - started


def draft(base_url: str, port: int, token: str) -> float:
    auth = {"Authorization": f"Token {token}", "Upload-Draft-Interop-Version": "8"}
    *_interim, created = exchange(port, "POST", ENDPOINT, {**auth, "Upload-Complete": "?0",
                                  "Upload-Length": str(SIZE)})  # fmt: skip
    headers = {
        **auth,
        "Upload-Offset": "0",
        "Upload-Complete": "?1",
        "Content-Type": "application/partial-upload",
    }
    started = time.perf_counter()
    status, _ = send_body(base_url, "PATCH", path_of(created.headers["location"]), headers, [b"", b""], SIZE)
    assert status == 204, status
    return time.perf_counter() - started


def main() -> None:
    with running_stack("ietf-upload") as stack:
        url, token = stack.server.url, stack.token
        tus_s, draft_s = [], []
        for _ in range(RUNS):
            tus_s.append(median_of(1, lambda: tus(url, token)))
            draft_s.append(median_of(1, lambda: draft(url, stack.server.port, token)))
    tus_median, draft_median = sorted(tus_s)[RUNS // 2], sorted(draft_s)[RUNS // 2]
    mb = SIZE / 1e6
    rows = [
        ("ours: tus 1.0.0 PATCH", f"{mb / tus_median:8.0f} MB/s"),
        ("ours: IETF draft (interop 8) append", f"{mb / draft_median:8.0f} MB/s"),
        ("draft / tus", f"{tus_median / draft_median:8.3f}"),
    ]
    report(
        f"IETF draft upload against tus, {SIZE // MiB} MiB in one request (median of {RUNS}, alternating)",
        rows,
    )


if __name__ == "__main__":
    Path(WORK_DIR).mkdir(parents=True, exist_ok=True)
    main()
