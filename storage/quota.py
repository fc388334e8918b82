"""What a user's storage holds: bytes, for `limits.user_quota_bytes`, and unfinished uploads."""

from __future__ import annotations

import uuid

from peewee import fn

from storage.models import ChunkedUpload, ChunkPart, Upload, UploadState, Video, VideoStatus


def bytes_used(owner_id: int, *, besides: uuid.UUID | None = None) -> int:
    """The user's videos, plus what unfinished uploads will take: their declared length (tus), or
    the chunks stored so far (chunk form). `besides` leaves one upload out (it is being checked).
    Uploads of deferred length count by what a PATCH adds, when it adds it."""
    videos = Video.select(fn.COALESCE(fn.SUM(Video.size), 0)).where(
        (Video.owner == owner_id) & (Video.status == VideoStatus.READY)
    )
    pending = Upload.select(fn.COALESCE(fn.SUM(Upload.length), 0)).where(
        (Upload.owner == owner_id) & (Upload.state == UploadState.RECEIVING) & Upload.length.is_null(False)
        & (Upload.id != (besides or uuid.UUID(int=0)))
    )  # fmt: skip
    chunks = (
        ChunkPart.select(fn.COALESCE(fn.SUM(ChunkPart.size), 0))
        .join(ChunkedUpload)
        .where((ChunkedUpload.owner == owner_id) & (ChunkedUpload.state == UploadState.RECEIVING))
    )
    return videos.scalar() + pending.scalar() + chunks.scalar()


def unfinished_uploads(owner_id: int) -> int:
    """tus/IETF uploads and chunk-form files of the user still receiving."""
    uploads = Upload.select().where((Upload.owner == owner_id) & (Upload.state == UploadState.RECEIVING))
    files = ChunkedUpload.select().where(
        (ChunkedUpload.owner == owner_id) & (ChunkedUpload.state == UploadState.RECEIVING)
    )
    return uploads.count() + files.count()
