"""tus upload into S3-compatible storage (SeaweedFS on loopback): ours against boto3's own
multipart upload of the same number of bytes to the same store, in the same run (the limit).

The body is random bytes: after the last byte our server completes the multipart upload and
probes the object through a presigned URL (a few ranges), which rejects it, so the in-store copy
a real video gets is not part of this figure.
"""

from __future__ import annotations

import time

from boto3.s3.transfer import TransferConfig

from bench.harness import (
    CHUNK,
    RUNS,
    UPLOAD_SIZE,
    WORK_DIR,
    MiB,
    RssSampler,
    median_of,
    report,
    running_stack,
)
from bench.tus_upload import timed_upload
from tests.servers import SeaweedS3

PART_SIZE = 8 * MiB


def boto3_upload(store: SeaweedS3) -> float:
    """boto3's managed multipart upload of a file of UPLOAD_SIZE random bytes."""
    source = WORK_DIR / "s3-source.bin"
    with open(source, "wb") as handle:
        for _ in range(UPLOAD_SIZE // MiB):
            handle.write(CHUNK)
    config = TransferConfig(multipart_chunksize=PART_SIZE, multipart_threshold=PART_SIZE)
    started = time.perf_counter()
    store.client().upload_file(str(source), store.bucket, "baseline/object", Config=config)
    elapsed = time.perf_counter() - started
    source.unlink()
    return elapsed


def main() -> None:
    store = SeaweedS3(WORK_DIR / "seaweedfs").start()
    try:
        boto3_s = median_of(RUNS, lambda: boto3_upload(store))
        overrides = {
            "storage_backend": "s3", "s3_endpoint_url": store.endpoint_url, "s3_bucket": store.bucket,
            "s3_region": "us-east-1", "s3_access_key_id": "bench", "s3_secret_access_key": "bench",
            "s3_part_size": str(PART_SIZE),
        }  # fmt: skip
        with running_stack("s3-upload", overrides=overrides) as stack:
            headers = {"Authorization": f"Token {stack.token}"}
            with RssSampler(stack.server.process.pid) as rss:
                ours_s = median_of(
                    RUNS, lambda: timed_upload(stack.server.url, "/api/videos/chunked_upload/", headers)
                )
    finally:
        store.stop()
    mb = UPLOAD_SIZE / 1e6
    report(
        f"tus into S3 (SeaweedFS, loopback), {UPLOAD_SIZE // MiB} MiB in one PATCH (median of {RUNS})",
        [
            ("boto3 multipart upload (the limit)", f"{mb / boto3_s:8.0f} MB/s"),
            ("ours: tus PATCH into S3, completed and probed", f"{mb / ours_s:8.0f} MB/s"),
            ("ours / boto3", f"{boto3_s / ours_s:8.2f}"),
            ("server RSS growth (peak)", f"{rss.growth_mib:8.1f} MiB"),
        ],
    )


if __name__ == "__main__":
    WORK_DIR.mkdir(parents=True, exist_ok=True)
    main()
