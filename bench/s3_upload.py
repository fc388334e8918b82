"""tus upload into S3-compatible storage (SeaweedFS on loopback), all against the same store in
the same run: ours, @tus/server + @tus/s3-store (the peer), and boto3's own multipart upload of
the same number of bytes (the limit). Then a fast trim of 10 s from a 1 GiB video on S3, counting
the bytes the worker reads from the store.

The body is a real 1 GiB 1080p H.264/AAC video for all three: after its last byte our server
completes the multipart upload at the video's own key, probes it through a presigned URL (a few
ranges) and records the video before the PATCH is answered; nothing is copied inside the store.
"""

from __future__ import annotations

import contextlib
import functools
import os
import shutil
import time
from pathlib import Path

from boto3.s3.transfer import TransferConfig

from bench.harness import (
    RUNS,
    WORK_DIR,
    GiB,
    MiB,
    RssSampler,
    alternating,
    long_video,
    report,
    running_stack,
)
from bench.tus_upload import compared, our_upload, peer_available, peer_server, timed_upload
from tests.api import trim, wait_task
from tests.servers import CountingProxy, LiveWorker, SeaweedS3
from tests.tus import new_upload, patch

PART_SIZE = 8 * MiB
OURS = "ours: tus PATCH into S3, completed, probed, recorded"
PEER = "@tus/server + @tus/s3-store"
BOTO3 = "boto3 multipart upload (the limit)"


def boto3_upload(store: SeaweedS3, video: Path) -> float:
    """boto3's managed multipart upload (its defaults: 8 MiB parts, 10 threads)."""
    config = TransferConfig(multipart_chunksize=PART_SIZE, multipart_threshold=PART_SIZE)
    started = time.perf_counter()
    store.client().upload_file(str(video), store.bucket, "baseline/object", Config=config)
    return time.perf_counter() - started


class ScratchSampler(RssSampler):
    """Peak bytes of the scratch files a process tree holds open (they have no name to list)."""

    def __init__(self, root_pid: int, scratch_dir: Path) -> None:
        self.marker = str(scratch_dir)
        super().__init__(root_pid)

    def measure(self, pid: int) -> int:
        total = 0
        with contextlib.suppress(OSError):
            for fd in os.scandir(f"/proc/{pid}/fd"):
                with contextlib.suppress(OSError):
                    if os.readlink(fd.path).startswith(self.marker):
                        total += os.stat(fd.path).st_size
        return total


def fast_trim_reads(stack, store: SeaweedS3) -> tuple[int, int, float]:
    """Upload a 1 GiB video, fast-trim 10 s from its middle with a worker whose S3 traffic goes
    through a counting relay; returns (source bytes, bytes read by the worker, trim seconds)."""
    video = long_video()
    size = video.stat().st_size
    url = new_upload(stack.server.url, stack.token, size, name="long.mp4")
    with open(video, "rb") as handle:
        offset = 0
        while block := handle.read(256 * MiB):
            assert patch(url, stack.token, offset, block).status_code == 204
            offset += len(block)
    proxy = CountingProxy(store.port)
    worker = LiveWorker({**stack.env, "VIDEO_MANAGER_S3_ENDPOINT_URL": f"http://127.0.0.1:{proxy.port}"})
    worker.start()
    try:
        started = time.perf_counter()
        video_id = url.rsplit("/", 1)[1]
        task = trim(stack.server, stack.token, video_id, start_time=120, end_time=130, mode="fast")
        assert wait_task(stack.token, task.json(), timeout_s=600)["status"] == "finished"
        return size, proxy.bytes_to_clients, time.perf_counter() - started
    finally:
        worker.stop()
        proxy.close()


def main() -> None:
    video = long_video()
    size = video.stat().st_size
    store = SeaweedS3(WORK_DIR / "seaweedfs").start()
    overrides = {
        "storage_backend": "s3", "s3_endpoint_url": store.endpoint_url, "s3_bucket": store.bucket,
        "s3_region": "us-east-1", "s3_access_key_id": "bench", "s3_secret_access_key": "bench",
        "s3_part_size": str(PART_SIZE),
    }  # fmt: skip
    try:
        with contextlib.ExitStack() as running:
            stack = running.enter_context(running_stack("s3-upload", overrides=overrides))
            measures = {OURS: functools.partial(our_upload, stack, video)}
            if peer_available("@tus/s3-store"):
                script = ("tus_s3_server.mjs", store.endpoint_url, store.bucket, str(PART_SIZE))
                url = running.enter_context(peer_server(*script))
                measures[PEER] = lambda: timed_upload(url, "/files", {}, video)
            measures[BOTO3] = functools.partial(boto3_upload, store, video)
            pid = stack.server.process.pid
            with RssSampler(pid) as rss, ScratchSampler(pid, stack.data_dir / "scratch") as scratch:
                spreads = alternating(RUNS, measures)
            source_size, read, trim_s = fast_trim_reads(stack, store)
    finally:
        store.stop()
        shutil.rmtree(store.directory, ignore_errors=True)  # gigabytes per run, made by this run
    rows = compared(spreads, OURS, size)
    if PEER not in spreads:
        rows.append((PEER, "skipped: node/npm not available"))
    rows += [
        ("server RSS growth (peak)", f"{rss.growth_mib:8.1f} MiB"),
        ("scratch disk (peak)", f"{scratch.peak / MiB:8.1f} MiB = {scratch.peak / PART_SIZE:.2f} parts"),
        (f"fast trim 10 s of {source_size / GiB:.2f} GiB on S3", f"{trim_s:8.2f} s"),
        ("  bytes the worker read from S3", f"{read / MiB:8.1f} MiB = {100 * read / source_size:.2f} %"),
    ]
    title = (
        f"tus into S3 (SeaweedFS, loopback), a {size / 1e6:.0f} MB video in one PATCH; {RUNS} alternating "
        "rounds: median (slowest-fastest), ratios round by round"
    )
    report(title, rows)


if __name__ == "__main__":
    WORK_DIR.mkdir(parents=True, exist_ok=True)
    main()
