"""Turning a finished file into a video: probe it, publish it atomically, record it.

The one path used by plain uploads, completed tus uploads, the seed's chunk form and ffmpeg job
outputs, so every video in the database has been probed and its file is complete.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from pathlib import Path

from processor.probe import MediaInfo, MediaLimits, PendingProbe, Prober
from storage.factory import blob_store_from_config
from storage.models import Video, VideoStatus
from storage.stores import BlobStore, UploadData
from video_manager import binaries
from video_manager.config import Config
from video_manager.errors import InvalidVideoError


@dataclass(frozen=True)
class Ingestor:
    blobs: BlobStore
    prober: Prober

    @classmethod
    def from_config(cls, config: Config) -> Ingestor:
        return cls(blobs=blob_store_from_config(config), prober=prober_from_config(config))

    def ingest(
        self, staged: Path, *, video_id: uuid.UUID, owner_id: int, name: str, source: str,
        known: MediaInfo | None = None,
    ) -> Video:  # fmt: skip
        """Raises `InvalidVideoError` (nothing published) when the probe does not accept the file.
        `known`: what a job that stream-copied the file knows it holds; it is not probed again."""
        info = known or self.prober.probe(staged)
        size = staged.stat().st_size
        self.blobs.publish(staged, video_id)
        try:
            return Video.create(
                id=video_id, owner=owner_id, name=name, source=source, size=size, **media_fields(info)
            )
        except Exception:
            self.blobs.delete_video(video_id)
            raise

    def ingest_upload(
        self, data: UploadData, upload_id: uuid.UUID, *, size: int, owner_id: int, name: str,
        probe: PendingProbe | None = None,
    ) -> Video:  # fmt: skip
        """A finished tus upload becomes the video with its id (see `accept_upload`). A file the
        probe refuses is recorded as `rejected` with the reason (its bytes are not kept), so the
        client polling the video learns why."""
        try:
            return self.accept_upload(data, upload_id, size=size, owner_id=owner_id, name=name, probe=probe)
        except InvalidVideoError as exc:
            return Video.create(
                id=upload_id, owner=owner_id, name=name, source="upload", size=size,
                status=VideoStatus.REJECTED, error=str(exc),
            )  # fmt: skip

    def accept_upload(
        self, data: UploadData, upload_id: uuid.UUID, *, size: int, owner_id: int, name: str,
        probe: PendingProbe | None = None,
    ) -> Video:  # fmt: skip
        """Probe a finished upload where it lies (through a URL on object storage) and publish it
        as the video with its id, without passing through this host. Raises `InvalidVideoError`
        (nothing recorded) when the probe does not accept it. `probe`: one started while the
        last bytes arrived (`Prober.start`)."""
        source = data.source(upload_id)
        info = probe.result(source) if probe else self.prober.probe(source, remote=data.remote)
        self.blobs.publish_upload(data, upload_id, upload_id)
        try:
            return Video.create(
                id=upload_id, owner=owner_id, name=name, source="upload", size=size, **media_fields(info)
            )
        except Exception:
            self.blobs.delete_video(upload_id)
            raise


def prober_from_config(config: Config) -> Prober:
    limits = config.limits
    return Prober(
        ffprobe=binaries.ffprobe_path(config.ffmpeg.ffprobe),
        timeout_s=limits.probe_timeout_s,
        memory_limit_mb=config.ffmpeg.memory_limit_mb,
        limits=MediaLimits(limits.max_frame_rate, limits.max_frame_side, limits.max_duration_s),
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
        color_transfer=video.color_transfer,
        subtitle_tracks=video.subtitle_tracks or 0,
        chapters=video.chapters or 0,
        timecode=video.timecode,
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
        "color_transfer": info.color_transfer,
        "subtitle_tracks": info.subtitle_tracks,
        "chapters": info.chapters,
        "timecode": info.timecode,
        "frame_rate": info.frame_rate,
        "sample_rate": info.sample_rate,
        "audio_channels": info.audio_channels,
        "content_type": info.content_type,
    }
