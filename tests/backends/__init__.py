"""Contract suites every store backend passes, on local disk and in S3 (SeaweedFS)."""

from __future__ import annotations

from pathlib import Path

import requests


def read_where_ffmpeg_reads(where: Path | str, remote: bool) -> bytes:
    """The bytes at a store's `source`: a file, or (remote) a presigned URL."""
    if not remote:
        return Path(where).read_bytes()
    response = requests.get(where, timeout=60)
    assert response.status_code == 200, response.status_code
    return response.content
