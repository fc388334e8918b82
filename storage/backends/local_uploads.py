"""Upload bytes on local disk: one file per upload under `data/uploads/`, the offset its size.

Whatever reached the disk before a client dropped (or the process died) counts, and nothing
else has to be kept in sync.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterable
from pathlib import Path

from storage.files import append_file
from storage.offload import off_loop


class LocalUploadData:
    remote = False

    def __init__(self, directory: Path) -> None:
        self.dir = directory
        self.dir.mkdir(parents=True, exist_ok=True)

    def local_path(self, upload_id: uuid.UUID) -> Path:
        """Paths come from our own UUIDs only."""
        return self.dir / str(uuid.UUID(str(upload_id)))

    def source(self, upload_id: uuid.UUID) -> Path:
        return self.local_path(upload_id)

    def local_file(self, upload_id: uuid.UUID) -> Path:
        return self.local_path(upload_id)

    def object_key(self, upload_id: uuid.UUID) -> None:
        """Nothing of an upload is in object storage."""

    def create(self, upload_id: uuid.UUID) -> None:
        self.local_path(upload_id).touch(exist_ok=False)

    def offset(self, upload_id: uuid.UUID) -> int:
        try:
            return self.local_path(upload_id).stat().st_size
        except FileNotFoundError:
            return 0

    def append(self, upload_id: uuid.UUID, offset: int, chunks: Iterable[bytes]) -> int:
        """Each chunk is handed to the kernel as it arrives (no buffering of our own)."""
        with open(self.local_path(upload_id), "r+b", buffering=0) as handle:
            handle.seek(offset)
            for chunk in chunks:
                handle.write(chunk)
            handle.truncate()
            return handle.tell()

    def concatenate(self, target_id: uuid.UUID, parts: list[tuple[uuid.UUID, int]]) -> None:
        """Kernel copies (copy_file_range), off gevent's loop, then one fsync."""
        with open(self.local_path(target_id), "r+b") as target:
            for part_id, length in parts:
                off_loop(append_file, self.local_path(part_id), target.fileno(), length)
            off_loop(os.fsync, target.fileno())

    def finish(self, upload_id: uuid.UUID) -> None:
        """Every byte is already in the file."""

    def delete(self, upload_id: uuid.UUID) -> None:
        self.local_path(upload_id).unlink(missing_ok=True)

    def release(self, upload_id: uuid.UUID) -> None:
        self.delete(upload_id)  # the video is a hard link of its own
