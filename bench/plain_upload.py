"""Plain multipart upload of a large body: throughput against raw disk write, and server RSS."""

from __future__ import annotations

import time

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


def main() -> None:
    raw_s = median_of(RUNS, lambda: raw_disk_write(UPLOAD_SIZE, WORK_DIR))
    boundary = "benchboundary7f3a"
    prefix = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="big.mp4"\r\n'
        "Content-Type: video/mp4\r\n\r\n"
    ).encode()
    suffix = f"\r\n--{boundary}--\r\n".encode()
    with running_stack("plain-upload") as stack:
        headers = {
            "Authorization": f"Token {stack.token}",
            "Content-Type": f"multipart/form-data; boundary={boundary}",
        }

        def upload() -> float:
            started = time.perf_counter()
            # Random bytes: the body streams to disk in full, then ffprobe rejects it (422).
            status, _ = send_body(
                stack.server.url, "POST", "/api/videos/upload/", headers, [prefix, suffix], UPLOAD_SIZE
            )
            assert status == 422, status
            return time.perf_counter() - started

        with RssSampler(stack.server.process.pid) as rss:
            upload_s = median_of(RUNS, upload)
    mb = UPLOAD_SIZE / 1e6
    report(
        f"plain multipart upload, {UPLOAD_SIZE // MiB} MiB over loopback (median of {RUNS})",
        [
            ("raw disk write", f"{mb / raw_s:8.0f} MB/s"),
            ("POST /api/videos/upload/ (multipart)", f"{mb / upload_s:8.0f} MB/s"),
            ("ratio to raw disk write", f"{raw_s / upload_s:8.2f}"),
            ("server RSS before", f"{rss.baseline / MiB:8.1f} MiB"),
            ("server RSS growth (peak)", f"{rss.growth_mib:8.1f} MiB"),
        ],
    )


if __name__ == "__main__":
    main()
