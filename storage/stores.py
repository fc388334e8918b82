"""Where bytes live, behind small interfaces (as tusd's DataStore and its store packages): the
tus handler, the upload store, the jobs and the media routes talk to these, never to a
filesystem or a bucket. Each backend in `storage/backends/` implements them, importing only
this module and the file helpers; `storage.factory` picks them from the config; every backend
passes one contract suite per interface (tests/backends/).
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from storage.scratch import Scratch


@dataclass(frozen=True)
class ObjectKey:
    """An object in a bucket: what a store copies from inside the object storage."""

    bucket: str
    key: str


class UploadData(Protocol):
    """The bytes of unfinished uploads. Bytes are only ever appended: a chunk that must be
    checked first (checksums) is checked before it reaches the backend, so no backend has to
    take bytes back (S3 cannot take back an uploaded part)."""

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

    def release(self, upload_id: uuid.UUID) -> None:
        """The finished bytes have become the video with the same id: drop what the upload kept
        beside them (where the backend finished the upload as that video's own object, the
        object stays; elsewhere the video has its own copy or link, and this is `delete`)."""

    def source(self, upload_id: uuid.UUID) -> Path | str:
        """Where a finished upload is read (probed): a local file, or a presigned URL."""

    def local_file(self, upload_id: uuid.UUID) -> Path | None:
        """The upload's file on this host's disk, where its bytes live there."""

    def object_key(self, upload_id: uuid.UUID) -> ObjectKey | None:
        """The upload's object, where its bytes live in object storage."""


class BlobStore(Protocol):
    """Finished videos. A video appears whole, in one step, or not at all."""

    remote: bool  # True: `source` is a URL of our object storage, read in ranges
    scratch: Scratch  # where writers stage a file before `publish`

    def local_file(self, video_id: uuid.UUID) -> Path | None:
        """The video's file on this host's disk (sent with sendfile), where it lives there."""

    def source(self, video_id: uuid.UUID) -> Path | str:
        """Where ffmpeg reads the video: a local file, or a presigned URL read in ranges."""

    def publish(self, staged: Path, video_id: uuid.UUID) -> None:
        """Make a finished scratch file the video's bytes, durably and whole."""

    def publish_upload(self, data: UploadData, upload_id: uuid.UUID, video_id: uuid.UUID) -> None:
        """A finished upload becomes the video's bytes without passing through this process.
        Done already by a run that died before recording the video, it is left as it is."""

    def exists(self, video_id: uuid.UUID) -> bool: ...

    def size(self, video_id: uuid.UUID) -> int | None:
        """Bytes stored, or None for a video that has none."""

    def read(self, video_id: uuid.UUID, start: int, end: int) -> Iterator[bytes]:
        """Bytes [start, end] (inclusive, as HTTP ranges), streamed."""

    def presigned_url(
        self, video_id: uuid.UUID, *, expires_s: int, disposition: str, content_type: str
    ) -> str | None:
        """A URL a browser may fetch the video from directly; None where there is none."""

    def delete_video(self, video_id: uuid.UUID) -> None:
        """Remove the bytes; deleting twice is fine."""


class MediaStore(Protocol):
    """Files made from a video for viewing it (poster, thumbnails, storyboard, HLS), named by
    us only, each appearing whole. They go when the video goes."""

    def get(self, video_id: uuid.UUID, name: str) -> Path | None:
        """The file on this host, if it has been made (fetched into this host's cache)."""

    def put(self, video_id: uuid.UUID, name: str, staged: Path) -> Path:
        """Keep a finished file. The first one made stays: two makers of one picture never
        change it under a client's ETag."""

    def cache(self, video_id: uuid.UUID, name: str, staged: Path) -> Path:
        """Keep a file on this host only (cheap to make again)."""

    def staged(self, suffix: str) -> contextlib.AbstractContextManager[Path]:
        """A temp path beside the media for ffmpeg to write; gone afterwards unless `put`."""

    def path(self, video_id: uuid.UUID, name: str) -> Path:
        """Where the file is (or would be) on this host: programs write many files straight
        into the folder (HLS segments), then `upload_made` keeps them."""

    def upload_made(self, video_id: uuid.UUID, names: list[str]) -> None:
        """Files a program wrote straight into the folder are kept wherever media is kept."""

    def names(self, video_id: uuid.UUID, prefix: str) -> list[str]:
        """The names on this host that start with `prefix`."""

    def remove(self, video_id: uuid.UUID, names: list[str]) -> None: ...

    def delete_all(self, video_id: uuid.UUID) -> None: ...

    def video_ids(self) -> set[uuid.UUID]:
        """Every video something was made for."""
