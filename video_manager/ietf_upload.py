"""Uploading with the IETF draft (interop version 8) instead of tus: `video-manager upload
--protocol ietf`, to try our server as an iOS or future browser client would.

httpx rather than requests: the server answers the creation with a `104` interim response first,
which h11 (under httpx) skips as HTTP/1.1 says, and http.client (under requests) does not.
The upload's URL is remembered beside tuspy's, so running the command again resumes.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from urllib.parse import quote

import httpx
from tusclient.fingerprint.fingerprint import Fingerprint
from tusclient.storage.filestorage import FileStorage

INTEROP_VERSION = "8"
ENDPOINT = "/api/videos/chunked_upload/"
ATTEMPTS = 3


class DraftUploadError(RuntimeError):
    def __init__(self, status: int | None, code: str, detail: str) -> None:
        super().__init__(detail)
        self.status, self.code, self.detail = status, code, detail


def upload(
    base_url: str,
    token: str,
    path: Path,
    *,
    chunk_size: int,
    storage: FileStorage,
    on_start: Callable[[int, int], None] | None = None,
    on_progress: Callable[[int], None] | None = None,
) -> str:
    """Upload (or resume) `path`; returns the new video's id."""
    headers = {"Authorization": f"Token {token}", "Upload-Draft-Interop-Version": INTEROP_VERSION}
    with httpx.Client(base_url=base_url, headers=headers, timeout=600) as client, open(path, "rb") as handle:
        key = "ietf-draft:" + Fingerprint().get_fingerprint(handle)
        size = path.stat().st_size
        url = storage.get_item(key)
        offset = _offset(client, url) if url else None
        if url is None or offset is None:
            url, offset = _create(client, path, size), 0
            storage.set_item(key, url)
        if on_start:
            on_start(offset, size)
        failures = 0
        while True:
            handle.seek(offset)
            chunk = handle.read(chunk_size)
            last = offset + len(chunk) >= size
            try:
                answer = client.patch(url, content=chunk, headers={
                    "Upload-Offset": str(offset), "Upload-Complete": "?1" if last else "?0",
                    "Content-Type": "application/partial-upload",
                })  # fmt: skip
            except httpx.TransportError as exc:
                failures += 1
                if failures >= ATTEMPTS:
                    raise DraftUploadError(
                        None, "unreachable", f"the upload failed: {type(exc).__name__}"
                    ) from exc
                offset = _offset(client, url) or 0
                continue
            if answer.status_code == 409:  # another offset than ours: continue from the server's
                offset = int(answer.headers["Upload-Offset"])
                continue
            _check(answer)
            new_offset = int(answer.headers["Upload-Offset"])
            if on_progress:
                on_progress(new_offset - offset)
            offset = new_offset
            if last:
                break
        storage.remove_item(key)
    return url.rstrip("/").rsplit("/", 1)[1]


def _create(client: httpx.Client, path: Path, size: int) -> str:
    disposition = f"attachment; filename*=UTF-8''{quote(path.name)}"
    answer = client.post(ENDPOINT, headers={
        "Upload-Complete": "?0", "Upload-Length": str(size), "Content-Disposition": disposition,
    })  # fmt: skip
    _check(answer)
    return answer.headers["Location"]


def _offset(client: httpx.Client, url: str) -> int | None:
    """Where a remembered upload stands; None if it is gone, expired or already complete."""
    answer = client.head(url)
    if answer.status_code != 204 or answer.headers.get("Upload-Complete") == "?1":
        return None
    return int(answer.headers["Upload-Offset"])


def _check(answer: httpx.Response) -> None:
    if answer.status_code < 400:
        return
    try:
        body = answer.json()
    except ValueError:
        body = {}
    raise DraftUploadError(
        answer.status_code, body.get("error", "error"), body.get("detail", answer.reason_phrase)
    )
