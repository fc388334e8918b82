"""Turning a finished file into a video: probe it, publish it atomically, record it.

The one path used by plain uploads, completed tus uploads, the seed's chunk form and ffmpeg job
outputs, so every video in the database has been probed and its file is complete.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from pathlib import Path

import binaries
from config import Config
from processor.probe import InvalidVideoError, MediaInfo, probe
from storage.blobs import BlobStore
from storage.models import Video, VideoStatus


@dataclass(frozen=True)
class Ingestor:
    blobs: BlobStore
    ffprobe: str
    probe_timeout_s: float

    @classmethod
    def from_config(cls, config: Config) -> Ingestor:
        return cls(
            blobs=BlobStore(config.data_dir),
            ffprobe=binaries.ffprobe_path(config.ffmpeg.ffprobe),
            probe_timeout_s=config.limits.probe_timeout_s,
        )

    def ingest(self, staged: Path, *, video_id: uuid.UUID, owner_id: int, name: str, source: str) -> Video:
        """Raises `InvalidVideoError` (nothing published) when ffprobe does not accept the file."""
        info = probe(staged, self.ffprobe, self.probe_timeout_s)
        size = staged.stat().st_size
        self.blobs.publish(staged, video_id)
        try:
            return Video.create(
                id=video_id, owner=owner_id, name=name, source=source, size=size, **media_fields(info)
            )
        except Exception:
            self.blobs.delete_video(video_id)
            raise

    def ingest_or_reject(
        self, staged: Path, *, video_id: uuid.UUID, owner_id: int, name: str, source: str
    ) -> Video:
        """For finished resumable uploads: a file ffprobe refuses is recorded as `rejected` with
        the reason (its bytes are not kept), so the client polling the video learns why."""
        try:
            return self.ingest(staged, video_id=video_id, owner_id=owner_id, name=name, source=source)
        except InvalidVideoError as exc:
            return Video.create(
                id=video_id,
                owner=owner_id,
                name=name,
                source=source,
                size=staged.stat().st_size,
                status=VideoStatus.REJECTED,
                error=str(exc),
            )


def media_info(video: Video) -> MediaInfo:
    """What was probed at ingest, read back from the video's row (the inverse of media_fields)."""
    return MediaInfo(
        duration=video.duration,
        width=video.width,
        height=video.height,
        video_codec=video.video_codec,
        audio_codec=video.audio_codec,
        pix_fmt=video.pix_fmt,
        frame_rate=video.frame_rate,
        sample_rate=video.sample_rate,
        audio_channels=video.audio_channels,
        format_name="",
        content_type=video.content_type,
    )


def media_fields(info: MediaInfo) -> dict:
    return {
        "status": VideoStatus.READY,
        "duration": info.duration,
        "width": info.width,
        "height": info.height,
        "video_codec": info.video_codec,
        "audio_codec": info.audio_codec,
        "pix_fmt": info.pix_fmt,
        "frame_rate": info.frame_rate,
        "sample_rate": info.sample_rate,
        "audio_channels": info.audio_channels,
        "content_type": info.content_type,
    }
