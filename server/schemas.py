"""Response shapes of the contract, as pydantic models so APIFlask documents them in OpenAPI."""

from __future__ import annotations

from pydantic import BaseModel, Field


class RenditionStatusOut(BaseModel):
    height: int
    bitrate: int = Field(description="Bits per second: measured once ready, else the rung's cap")
    status: str = Field(description="`queued`, `encoding`, `ready` or `failed`")


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
    renditions: list[RenditionStatusOut] = Field(
        description="The adaptive ladder's rungs, highest first (empty until it is first asked for)"
    )


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
