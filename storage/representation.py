"""The public representation of rows: the JSON shape the API answers with for a video, a task
or a share, with absolute URLs built from route templates on a base URL.

A plain function of a row, the base URL and the share signer, so the request handlers and the
worker (which puts the same objects into webhook payloads) describe an object identically,
neither needing the other nor Flask. `tests/test_layout.py` checks the templates against the
app's routes.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from storage.models import Rendition, Share, Task, TaskStatus, Video
from storage.signing import ShareSigner
from video_manager.config import Config

VIDEO_DOWNLOAD = "/api/videos/{video_id}/download/"
VIDEO_THUMBNAIL = "/api/videos/{video_id}/thumbnail.jpg"
TASK_STATUS = "/api/videos/tasks/{task_id}/status/"
SHARE_PAGE = "/s/{token}"


def iso_utc(moment: datetime | None) -> str | None:
    """Timestamps are stored naive in UTC; clients get ISO-8601 with an explicit `Z`."""
    if moment is None:
        return None
    return moment.replace(tzinfo=UTC).isoformat().replace("+00:00", "Z")


def own_url(config: Config) -> str:
    """The base of the API's URLs when no request tells it: `server.public_url`, or the address
    the server listens on."""
    if config.server.public_url:
        return config.server.public_url.rstrip("/")
    host = config.server.host
    host = f"[{host}]" if ":" in host else host
    return f"http://{host}:{config.server.port}"


@dataclass(frozen=True)
class Representer:
    """Describes rows as the API does, with URLs on `base_url` (no trailing slash)."""

    base_url: str
    signer: ShareSigner

    def of(self, subject: Video | Task | Share) -> dict:
        if isinstance(subject, Video):
            return self.video(subject)
        if isinstance(subject, Task):
            return self.task(subject)
        return self.share(subject)

    def video(self, video: Video) -> dict:
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
            "download_url": self.base_url + VIDEO_DOWNLOAD.format(video_id=video.id),
            "thumbnail_url": self.base_url + VIDEO_THUMBNAIL.format(video_id=video.id),
            "renditions": [
                {"height": row.height, "bitrate": row.bitrate, "status": row.status}
                for row in video.renditions.order_by(Rendition.height.desc())
                if row.height != Rendition.AUDIO_HEIGHT
            ],
        }

    def task(self, task: Task) -> dict:
        finished = task.status == TaskStatus.FINISHED
        failed = task.status == TaskStatus.FAILED
        return {
            "task_id": str(task.id),
            "kind": task.kind,
            "status": task.status,
            "progress": 1.0 if finished else task.progress,
            "result": {"video_id": str(task.result_video), "method": task.result_method}
            if finished
            else None,
            "error": {"error": task.error_code, "detail": task.error_detail} if failed else None,
            "created_at": iso_utc(task.created_at),
            "started_at": iso_utc(task.started_at),
            "ended_at": iso_utc(task.ended_at),
            "status_url": self.base_url + TASK_STATUS.format(task_id=task.id),
        }

    def share(self, share: Share) -> dict:
        token = self.signer.token(share.id, share.expires_at)
        return {
            "id": str(share.id),
            "url": self.base_url + SHARE_PAGE.format(token=token),
            "expires_at": iso_utc(share.expires_at),
            "created_at": iso_utc(share.created_at),
            "revoked": share.revoked_at is not None,
        }
