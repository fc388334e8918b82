"""Where bytes live, behind small interfaces (as tusd's DataStore): the tus handler, the upload
store and the jobs talk to these, never to a filesystem.

`UploadData` keeps the bytes of unfinished uploads. Bytes are only ever appended: a chunk that
must be checked first (checksums) is checked before it reaches the backend, so no backend has
to take bytes back (S3 cannot take back an uploaded part). Local disk implements it today
(`LocalUploadData`); every implementation passes one contract suite (tests/backends/).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from pathlib import Path
from typing import Protocol

from video_manager.config import Config


class UploadData(Protocol):
    remote: bool  # True: `source` is a URL of our object storage, read in ranges

    def create(self, upload_id: uuid.UUID) -> None:
        """An empty upload."""

    def offset(self, upload_id: uuid.UUID) -> int:
        """How many bytes are stored (0 for an upload that has none, or no longer exists)."""

    def append(self, upload_id: uuid.UUID, offset: int, chunks: Iterable[bytes]) -> int:
        """Store chunks at `offset` as they arrive; returns the new offset. When the chunks stop
        early (a client that dropped), what arrived is kept and counts."""

    def concatenate(self, target_id: uuid.UUID, parts: list[tuple[uuid.UUID, int]]) -> None:
        """Fill the empty `target_id` with the first `length` bytes of each (part, length)."""

    def finish(self, upload_id: uuid.UUID) -> None:
        """The last byte is in: make the bytes one whole object (concatenation reads it)."""

    def delete(self, upload_id: uuid.UUID) -> None:
        """Remove the bytes; deleting twice is fine."""

    def source(self, upload_id: uuid.UUID) -> Path | str:
        """Where a finished upload is read (probed): a local file, or a presigned URL."""


def upload_data_from_config(config: Config) -> UploadData:
    if not config.on_object_storage:
        from storage.backends.local_uploads import LocalUploadData

        return LocalUploadData(config.data_dir / "uploads")
    from storage.backends.s3_uploads import S3UploadData, s3_client_from_config

    return S3UploadData(
        s3_client_from_config(config),
        config.s3.bucket,
        prefix=config.s3.prefix,
        part_size=config.s3.part_size,
        scratch_dir=config.data_dir / "scratch",
    )
