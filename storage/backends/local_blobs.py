"""Videos on local disk: `data/videos/<xx>/<uuid>`.

Writers fill a file in the scratch space (`data/tmp`, the same filesystem) and only a link
publishes it, so a crash, a dropped client or a failed ffmpeg run can never leave a half-written
file where a finished one is expected.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

from storage.files import sharded
from storage.offload import off_loop
from storage.scratch import Scratch
from storage.stores import UploadData

READ_BLOCK = 1024 * 1024


class LocalBlobStore:
    remote = False

    def __init__(self, videos_dir: Path, scratch: Scratch) -> None:
        self.videos_dir = videos_dir
        self.scratch = scratch
        videos_dir.mkdir(parents=True, exist_ok=True)

    def _path(self, video_id: uuid.UUID) -> Path:
        return sharded(self.videos_dir, video_id)

    def local_file(self, video_id: uuid.UUID) -> Path:
        return self._path(video_id)

    def source(self, video_id: uuid.UUID) -> Path:
        return self._path(video_id)

    def publish(self, staged: Path, video_id: uuid.UUID) -> None:
        """fsync, then a hard link to the final path. The staged name is removed by its owner
        (the temp file's close, or `staged_path`'s exit)."""
        with open(staged, "rb") as handle:
            off_loop(os.fsync, handle.fileno())
        final = self._path(video_id)
        final.parent.mkdir(parents=True, exist_ok=True)
        os.link(staged, final)

    def publish_upload(self, data: UploadData, upload_id: uuid.UUID, video_id: uuid.UUID) -> None:
        """A hard link to the upload's file: no copy."""
        received = data.local_file(upload_id)
        if received is None:
            raise TypeError("videos on local disk are published from uploads on local disk")
        final = self._path(video_id)
        if final.exists() and os.path.samefile(received, final):
            return
        self.publish(received, video_id)

    def exists(self, video_id: uuid.UUID) -> bool:
        return self._path(video_id).is_file()

    def size(self, video_id: uuid.UUID) -> int | None:
        try:
            return self._path(video_id).stat().st_size
        except FileNotFoundError:
            return None

    def read(self, video_id: uuid.UUID, start: int, end: int) -> Iterator[bytes]:
        with open(self._path(video_id), "rb") as handle:
            handle.seek(start)
            left = end - start + 1
            while left > 0 and (block := handle.read(min(READ_BLOCK, left))):
                left -= len(block)
                yield block

    def presigned_url(
        self, video_id: uuid.UUID, *, expires_s: int, disposition: str, content_type: str
    ) -> None:
        """Files on disk are sent by us (or the proxy in front)."""

    def delete_video(self, video_id: uuid.UUID) -> None:
        self._path(video_id).unlink(missing_ok=True)
