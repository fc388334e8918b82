"""Where bytes live, behind small interfaces (as tusd's DataStore): the tus handler, the upload
store and the jobs talk to these, never to a filesystem.

`UploadData` keeps the bytes of unfinished uploads. Local disk implements it today
(`LocalUploadData`); every implementation passes one contract suite (tests/backends/).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Protocol


class UploadData(Protocol):
    def create(self, upload_id: uuid.UUID) -> None:
        """An empty upload."""

    def offset(self, upload_id: uuid.UUID) -> int:
        """How many bytes are stored (0 for an upload that has none, or no longer exists)."""

    def append(self, upload_id: uuid.UUID, offset: int, chunks: Iterable[bytes]) -> int:
        """Store chunks at `offset` as they arrive; returns the new offset. When the chunks stop
        early (a client that dropped), what arrived is kept and counts."""

    def read_range(self, upload_id: uuid.UUID, start: int, end: int) -> Iterator[bytes]:
        """The stored bytes [start, end), in pieces (to verify a chunk's checksum)."""

    def truncate(self, upload_id: uuid.UUID, offset: int) -> None:
        """Forget everything after `offset` (a chunk that failed its checksum or overran)."""

    def concatenate(self, target_id: uuid.UUID, parts: list[tuple[uuid.UUID, int]]) -> None:
        """Fill the empty `target_id` with the first `length` bytes of each (part, length)."""

    def delete(self, upload_id: uuid.UUID) -> None:
        """Remove the bytes; deleting twice is fine."""

    def local_path(self, upload_id: uuid.UUID) -> Path:
        """A file holding the finished upload, for probing and publishing."""
