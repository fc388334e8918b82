"""Response shapes of the contract, as pydantic models so APIFlask documents them in OpenAPI."""

from __future__ import annotations

from datetime import UTC, datetime

from pydantic import BaseModel, Field

from server.services import services
from server.urls import base_url, external_url
from storage.models import Share, Task, TaskStatus, Video


class VideoOut(BaseModel):
    id: str
    name: str
    size: int
    duration: float | None
    width: int | None
    height: int | None
    video_codec: str | None
    audio_codec: str | None
    status: str
    error: str | None
    source: str
    created_at: str
    download_url: str
    thumbnail_url: str = Field(description="The poster (JPEG); `?time=S&width=W` for any frame")


class VideoListOut(BaseModel):
    results: list[VideoOut]


class TaskResult(BaseModel):
    video_id: str
    method: str | None = Field(
        None, description="How the output was made: `copy` (stream copy), `smart` (smart cut) or `reencode`"
    )


class TaskError(BaseModel):
    error: str
    detail: str


class TaskOut(BaseModel):
    task_id: str
    kind: str
    status: str
    progress: float
    result: TaskResult | None
    error: TaskError | None
    created_at: str
    started_at: str | None
    ended_at: str | None
    status_url: str


class ShareOut(BaseModel):
    id: str
    url: str
    expires_at: str
    created_at: str
    revoked: bool


class ShareListOut(BaseModel):
    results: list[ShareOut]


def iso_utc(moment: datetime | None) -> str | None:
    """Timestamps are stored naive in UTC; clients get ISO-8601 with an explicit `Z`."""
    if moment is None:
        return None
    return moment.replace(tzinfo=UTC).isoformat().replace("+00:00", "Z")


def video_out(video: Video) -> dict:
    return {
        "id": str(video.id),
        "name": video.name,
        "size": video.size,
        "duration": video.duration,
        "width": video.width,
        "height": video.height,
        "video_codec": video.video_codec,
        "audio_codec": video.audio_codec,
        "status": video.status,
        "error": video.error,
        "source": video.source,
        "created_at": iso_utc(video.created_at),
        "download_url": external_url("videos.download", video_id=video.id),
        "thumbnail_url": external_url("media.thumbnail", video_id=video.id),
    }


def task_out(task: Task) -> dict:
    finished = task.status == TaskStatus.FINISHED
    failed = task.status == TaskStatus.FAILED
    return {
        "task_id": str(task.id),
        "kind": task.kind,
        "status": task.status,
        "progress": 1.0 if finished else task.progress,
        "result": {"video_id": str(task.result_video), "method": task.result_method} if finished else None,
        "error": {"error": task.error_code, "detail": task.error_detail} if failed else None,
        "created_at": iso_utc(task.created_at),
        "started_at": iso_utc(task.started_at),
        "ended_at": iso_utc(task.ended_at),
        "status_url": external_url("tasks.status", task_id=task.id),
    }


def share_out(share: Share) -> dict:
    token = services().signer.token(share.id, share.expires_at)
    return {
        "id": str(share.id),
        "url": f"{base_url()}/s/{token}",
        "expires_at": iso_utc(share.expires_at),
        "created_at": iso_utc(share.created_at),
        "revoked": share.revoked_at is not None,
    }
