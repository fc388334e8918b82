"""The HTTP client behind the CLI's client commands: one session, errors turned into exceptions.

Uploads go through tus (tuspy) with the upload URLs remembered on disk, so a second run of
`video-manager upload` on the same file resumes where the first one stopped.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import requests
from tusclient import client as tus_client
from tusclient.exceptions import TusCommunicationError
from tusclient.fingerprint.fingerprint import Fingerprint
from tusclient.storage.filestorage import FileStorage

from video_manager import ietf_upload

TUS_PATH = "/api/videos/chunked_upload/"
DEFAULT_CHUNK = 16 * 1024 * 1024


class ApiError(RuntimeError):
    """The server refused (`status` and `detail` from its JSON error) or could not be reached."""

    def __init__(self, status: int | None, code: str, detail: str) -> None:
        super().__init__(detail)
        self.status = status
        self.code = code
        self.detail = detail


def url_storage_path() -> Path:
    base = Path(os.environ.get("XDG_STATE_HOME") or Path.home() / ".local" / "state")
    path = base / "video-manager" / "tus-uploads.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    return path


class ApiClient:
    def __init__(self, base_url: str, token: str, timeout_s: float = 60.0) -> None:
        self.base_url = base_url.rstrip("/")
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"Token {token}"
        self.token = token
        self.timeout_s = timeout_s

    def request(self, method: str, path: str, **kwargs: Any) -> Any:
        url = path if path.startswith("http") else self.base_url + path
        try:
            response = self.session.request(method, url, timeout=self.timeout_s, **kwargs)
        except requests.RequestException as exc:
            raise self._unreachable(type(exc).__name__) from exc
        if response.status_code >= 400:
            try:
                body = response.json()
                raise ApiError(
                    response.status_code, body.get("error", "error"), body.get("detail", response.reason)
                )
            except ValueError:
                raise ApiError(response.status_code, "error", response.reason) from None
        return response.json() if response.content else None

    def _unreachable(self, reason: str) -> ApiError:
        return ApiError(
            None, "unreachable", f"cannot reach {self.base_url} ({reason}); is the server running?"
        )

    # -- videos ------------------------------------------------------------------------------

    def videos(self) -> list[dict]:
        return self.request("GET", "/api/videos/")["results"]

    def video(self, video_id: str) -> dict:
        return self.request("GET", f"/api/videos/{video_id}/")

    def upload(
        self,
        path: Path,
        *,
        chunk_size: int = DEFAULT_CHUNK,
        on_start: Callable[[int, int], None] | None = None,
        on_progress: Callable[[int], None] | None = None,
        protocol: str = "tus",
    ) -> dict:
        """Resumable upload with tus (or the IETF draft); `on_start(offset, size)` then
        `on_progress(bytes sent)`."""
        if protocol == "ietf":
            storage = FileStorage(str(url_storage_path()))
            try:
                video_id = ietf_upload.upload(
                    self.base_url, self.token, path, chunk_size=chunk_size, storage=storage,
                    on_start=on_start, on_progress=on_progress,
                )  # fmt: skip
            except ietf_upload.DraftUploadError as exc:
                raise ApiError(exc.status, exc.code, exc.detail) from exc
            return self.video(video_id)
        try:
            return self._upload_tus(path, chunk_size, on_start, on_progress)
        except requests.RequestException as exc:
            raise self._unreachable(type(exc).__name__) from exc
        except TusCommunicationError as exc:
            if exc.status_code is None:  # no answer at all: tuspy wraps the connection error
                raise self._unreachable("no answer") from exc
            raise ApiError(exc.status_code, "upload_failed", str(exc)) from exc

    def _upload_tus(
        self,
        path: Path,
        chunk_size: int,
        on_start: Callable[[int, int], None] | None,
        on_progress: Callable[[int], None] | None,
    ) -> dict:
        tus = tus_client.TusClient(self.base_url + TUS_PATH, headers=dict(self.session.headers))
        storage = FileStorage(str(url_storage_path()))
        with open(path, "rb") as handle:
            key = Fingerprint().get_fingerprint(handle)

        def new_uploader():
            return tus.uploader(
                str(path),
                chunk_size=chunk_size,
                metadata={"filename": path.name, "filetype": "video/mp4"},
                store_url=True,
                url_storage=storage,
                retries=3,
                retry_delay=1,
            )

        try:
            uploader = new_uploader()
        except TusCommunicationError:  # the remembered upload expired or was terminated: start afresh
            storage.remove_item(key)
            uploader = new_uploader()
        size = uploader.get_file_size()
        if on_start:
            on_start(uploader.offset, size)
        while uploader.offset < size:
            before = uploader.offset
            uploader.upload_chunk()
            if on_progress:
                on_progress(uploader.offset - before)
        storage.remove_item(key)
        return self.video(uploader.url.rstrip("/").rsplit("/", 1)[1])

    # -- processing and sharing --------------------------------------------------------------

    def trim(self, video_id: str, start: str, end: str, mode: str) -> dict:
        body = {"start_time": _number_or_text(start), "end_time": _number_or_text(end), "mode": mode}
        return self.request("POST", f"/api/videos/{video_id}/trim/", json=body)

    def merge(self, video_ids: list[str]) -> dict:
        return self.request("POST", "/api/videos/merge/", json={"video_ids": video_ids})

    def share(self, video_id: str, expires_s: float) -> dict:
        return self.request("POST", f"/api/videos/{video_id}/share/", json={"expiry_time": expires_s})

    def delete_video(self, video_id: str) -> None:
        self.request("DELETE", f"/api/videos/{video_id}/")

    def shares(self, video_id: str) -> list[dict]:
        return self.request("GET", f"/api/videos/{video_id}/shares/")["results"]

    def revoke(self, share_id: str) -> None:
        self.request("DELETE", f"/api/shares/{share_id}/")

    def task(self, task_id: str) -> dict:
        return self.request("GET", f"/api/videos/tasks/{task_id}/status/")

    # -- webhooks ----------------------------------------------------------------------------

    def add_webhook(self, url: str, events: list[str]) -> dict:
        return self.request("POST", "/api/webhooks/", json={"url": url, "events": events})

    def webhooks(self) -> list[dict]:
        return self.request("GET", "/api/webhooks/")["results"]

    def delete_webhook(self, webhook_id: str) -> None:
        self.request("DELETE", f"/api/webhooks/{webhook_id}/")

    def deliveries(self, webhook_id: str) -> list[dict]:
        return self.request("GET", f"/api/webhooks/{webhook_id}/deliveries/")["results"]

    def wait(
        self, task_id: str, on_progress: Callable[[dict], None] | None = None, poll_s: float = 0.25
    ) -> dict:
        while True:
            task = self.task(task_id)
            if on_progress:
                on_progress(task)
            if task["status"] in ("finished", "failed"):
                return task
            time.sleep(poll_s)


def _number_or_text(value: str) -> float | str:
    try:
        return float(value)
    except ValueError:
        return value
