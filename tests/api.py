"""Calls the end-to-end tests make again and again, against a live server (anything with `.url`)."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path

import requests

from tests.servers import auth


def upload(server, token: str, source: Path | bytes, name: str | None = None) -> dict:
    """Plain multipart upload of a file or bytes; returns the 201 video object."""
    data = source if isinstance(source, bytes) else source.read_bytes()
    filename = name or (source.name if isinstance(source, Path) else "video.mp4")
    response = requests.post(
        f"{server.url}/api/videos/upload/", headers=auth(token), files={"file": (filename, data)}, timeout=60
    )
    assert response.status_code == 201, response.text
    return response.json()


def send_chunk(server, token: str, file_id: str, number: int, chunks: list[bytes]) -> requests.Response:
    """Chunk `number` (1-based) of `chunks` through the seed's multipart chunk form."""
    form = {"chunk_number": number, "total_chunks": len(chunks), "file_id": file_id, "file_name": file_id}
    return requests.post(
        f"{server.url}/api/videos/chunked_upload/", headers=auth(token), data=form,
        files={"chunk": ("blob", chunks[number - 1])}, timeout=60,
    )  # fmt: skip


def trim(server, token: str, video_id: str, **body) -> requests.Response:
    return requests.post(
        f"{server.url}/api/videos/{video_id}/trim/", headers=auth(token), json=body, timeout=30
    )


def merge(server, token: str, ids: list[str]) -> requests.Response:
    return requests.post(
        f"{server.url}/api/videos/merge/", headers=auth(token), json={"video_ids": ids}, timeout=30
    )


def share(server, token: str, video_id: str, expiry) -> requests.Response:
    return requests.post(
        f"{server.url}/api/videos/{video_id}/share/",
        headers=auth(token),
        json={"expiry_time": expiry},
        timeout=10,
    )


LONGEST_PAUSE_S = 0.5


def pauses(first_s: float) -> Iterator[float]:
    """Quick polls first, then slower ones, up to LONGEST_PAUSE_S, for waits on a state that
    lasts (a task that ended): each poll of a live server costs it and the test about 7 ms of
    CPU, and the suite runs where CPU is what is short."""
    pause = first_s
    while True:
        yield pause
        pause = min(pause * 1.3, LONGEST_PAUSE_S)


def wait_until(condition: Callable[[], bool], timeout_s: float, what: str, interval_s: float = 0.05) -> None:
    """Poll `condition` every `interval_s` until it holds (steadily: it may be a passing state,
    such as a task that is running); fails the test naming `what` when time runs out."""
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, f"{what} not seen within {timeout_s} s"
        time.sleep(interval_s)


def task_state(token: str, task: dict) -> dict:
    return requests.get(task["status_url"], headers=auth(token), timeout=10).json()


def wait_task(token: str, task: dict, timeout_s: float = 120) -> dict:
    """Poll until the task is finished or failed; returns its last state."""
    deadline = time.monotonic() + timeout_s
    for pause in pauses(0.05):
        current = task_state(token, task)
        if current["status"] in ("finished", "failed"):
            return current
        if time.monotonic() >= deadline:
            break
        time.sleep(pause)
    raise AssertionError(f"task still {current['status']} after {timeout_s} s")


def stored(data_dir: Path, video_id: str) -> Path:
    """Where a video's file lives on disk."""
    return data_dir / "videos" / video_id.replace("-", "")[:2] / video_id


def stream_started(share_url: str, timeout_s: float = 120) -> None:
    """Ask for a share's HLS playlist as a player does: `503 rendition_pending` (the first segment
    not cut yet, on a busy machine) means try again after its Retry-After."""

    def answered() -> bool:
        response = requests.get(share_url + "/hls.m3u8", timeout=60)
        assert response.status_code in (200, 503), response.text
        assert response.status_code == 200 or response.json()["error"] == "rendition_pending", response.text
        return response.status_code == 200

    wait_until(answered, timeout_s, "the stream's first segment", interval_s=2)
