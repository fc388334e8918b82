"""The tus upload store: upload rows plus one data file each under `data/uploads/`.

It knows nothing of HTTP. The offset is the data file's size, so whatever reached the disk
before a client dropped (or the process died) counts, and nothing else has to be kept in sync.
Callers hold the upload's lock (storage.locks) around every change.
"""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Iterable, Iterator
from datetime import datetime, timedelta
from pathlib import Path

from storage.blobs import append_file
from storage.database import db
from storage.locks import Locker, locker_from_config
from storage.models import Upload, UploadState, utcnow
from storage.offload import off_loop
from video_manager.config import Config

READ_BLOCK = 1024 * 1024


class UploadError(Exception):
    """Base of the store's errors; the tus handler maps each to one status code."""


class UploadNotFoundError(UploadError):
    pass


class UploadExpiredError(UploadError):
    pass


class OffsetMismatchError(UploadError):
    pass


class SizeExceededError(UploadError):
    pass


class InvalidLengthError(UploadError):
    pass


class FinalUploadModifiedError(UploadError):
    pass


class ConcatError(UploadError):
    pass


class UploadStore:
    @classmethod
    def from_config(cls, config: Config) -> UploadStore:
        return cls(
            config.data_dir,
            expiry_s=config.tus.expiry_s,
            max_size=config.limits.max_upload_bytes,
            locks=locker_from_config(config),
        )

    def __init__(self, data_dir: Path, *, expiry_s: int, max_size: int, locks: Locker) -> None:
        self.dir = data_dir / "uploads"
        self.dir.mkdir(parents=True, exist_ok=True)
        self.locks = locks
        self.expiry = timedelta(seconds=expiry_s)
        self.max_size = max_size

    def data_path(self, upload_id: uuid.UUID) -> Path:
        return self.dir / str(uuid.UUID(str(upload_id)))

    # -- reading ---------------------------------------------------------------------------

    def get(self, owner_id: int, upload_id: uuid.UUID) -> Upload:
        """The caller's upload; another user's is reported exactly like a missing one."""
        upload = Upload.get_or_none((Upload.id == upload_id) & (Upload.owner == owner_id))
        if upload is None:
            raise UploadNotFoundError(str(upload_id))
        if upload.state == UploadState.RECEIVING and upload.expires_at < utcnow():
            raise UploadExpiredError(str(upload_id))
        return upload

    def offset(self, upload: Upload) -> int:
        if upload.state == UploadState.COMPLETE:
            return upload.length
        try:
            return self.data_path(upload.id).stat().st_size
        except FileNotFoundError:
            return 0

    # -- creation ----------------------------------------------------------------------------

    def create(
        self, owner_id: int, *, length: int | None, metadata: str, name: str, concat: str = ""
    ) -> Upload:
        self.check_length(length)
        upload_id = uuid.uuid4()
        self.data_path(upload_id).touch(exist_ok=False)
        return Upload.create(
            id=upload_id,
            owner=owner_id,
            length=length,
            metadata=metadata,
            name=name,
            concat=concat,
            expires_at=utcnow() + self.expiry,
        )

    def check_length(self, length: int | None) -> None:
        if length is not None and length > self.max_size:
            raise SizeExceededError(f"Upload-Length {length} exceeds the maximum of {self.max_size} bytes")

    def declare_length(self, upload: Upload, length: int) -> None:
        """creation-defer-length: the length may be set once, and not below what has arrived."""
        if upload.length is not None:
            if upload.length != length:
                raise InvalidLengthError("Upload-Length is already set and cannot change")
            return
        self.check_length(length)
        if length < self.offset(upload):
            raise InvalidLengthError("Upload-Length is smaller than the bytes already received")
        upload.length = length
        upload.save(only=[Upload.length])

    # -- writing -----------------------------------------------------------------------------

    def room(self, upload: Upload, offset: int) -> int:
        """How many more bytes this upload may receive."""
        limit = upload.length if upload.length is not None else self.max_size
        return limit - offset

    def check_patch(self, upload: Upload, offset: int, content_length: int | None) -> None:
        if upload.concat == "final":
            raise FinalUploadModifiedError("a final upload cannot be patched")
        if upload.state == UploadState.COMPLETE:
            raise OffsetMismatchError("the upload is already complete")
        current = self.offset(upload)
        if offset != current:
            raise OffsetMismatchError(f"Upload-Offset {offset} does not match the current offset {current}")
        if content_length is not None and content_length > self.room(upload, offset):
            raise SizeExceededError("the body would exceed the upload's length")

    def append(self, upload: Upload, offset: int, chunks: Iterable[bytes]) -> int:
        """Write chunks at `offset` (the current end) and return the new offset.

        Every chunk is handed to the kernel as it arrives; an interrupted iterator leaves the
        bytes received so far in place, which is what the next HEAD reports. Expiry counts from
        the last byte received, so a long, slow PATCH keeps moving it forward as bytes arrive.
        """
        refresh_every = max(1.0, self.expiry.total_seconds() / 4)
        refreshed = time.monotonic()
        with open(self.data_path(upload.id), "r+b", buffering=0) as handle:
            handle.seek(offset)
            for chunk in chunks:
                handle.write(chunk)
                if time.monotonic() - refreshed >= refresh_every:
                    refreshed = time.monotonic()
                    self._extend_expiry(upload)
            handle.truncate()
            new_offset = handle.tell()
        self._extend_expiry(upload)
        return new_offset

    def _extend_expiry(self, upload: Upload) -> None:
        upload.expires_at = utcnow() + self.expiry
        Upload.update(expires_at=upload.expires_at).where(Upload.id == upload.id).execute()

    def read_range(self, upload: Upload, start: int, end: int) -> Iterator[bytes]:
        """The stored bytes [start, end), for verifying a chunk's checksum after it was written."""
        with open(self.data_path(upload.id), "rb") as handle:
            handle.seek(start)
            remaining = end - start
            while remaining > 0:
                piece = handle.read(min(remaining, READ_BLOCK))
                if not piece:
                    return
                remaining -= len(piece)
                yield piece

    def rewind(self, upload: Upload, offset: int) -> None:
        """Drop everything after `offset` (a chunk that failed its checksum or overran)."""
        os.truncate(self.data_path(upload.id), offset)

    def is_complete(self, upload: Upload, offset: int) -> bool:
        return upload.length is not None and offset == upload.length

    def mark_complete(self, upload: Upload) -> None:
        upload.state = UploadState.COMPLETE
        upload.save(only=[Upload.state])

    # -- concatenation -----------------------------------------------------------------------

    def concatenate(
        self, owner_id: int, part_ids: list[uuid.UUID], *, metadata: str, name: str, concat_header: str
    ) -> Upload:
        """Create a final upload from finished partial uploads, assembled in the given order."""
        parts = []
        for part_id in part_ids:
            try:
                part = self.get(owner_id, part_id)
            except UploadError as exc:
                raise ConcatError(f"partial upload {part_id} does not exist") from exc
            if part.concat != "partial":
                raise ConcatError(f"upload {part_id} is not a partial upload")
            if not self.is_complete(part, self.offset(part)):
                raise ConcatError(f"partial upload {part_id} is not finished")
            parts.append(part)
        total = sum(part.length for part in parts)
        self.check_length(total)
        final = self.create(owner_id, length=total, metadata=metadata, name=name, concat="final")
        final.concat_header = concat_header
        final.save(only=[Upload.concat_header])
        with open(self.data_path(final.id), "r+b") as target:
            for part in parts:
                off_loop(append_file, self.data_path(part.id), target.fileno(), part.length)
            off_loop(os.fsync, target.fileno())
        return final

    # -- removal -----------------------------------------------------------------------------

    def terminate(self, upload: Upload) -> None:
        with db.atomic():
            upload.delete_instance()
        self.data_path(upload.id).unlink(missing_ok=True)

    def discard_data(self, upload: Upload) -> None:
        """The bytes have become a video (or were rejected); the row stays for HEAD."""
        self.data_path(upload.id).unlink(missing_ok=True)
        self.locks.forget(str(upload.id))

    def remove_expired(self, now: datetime | None = None) -> int:
        """Delete unfinished uploads past their expiry, and finished rows as old, with their bytes.

        An upload a request holds is left alone: bytes are arriving, and its expiry moves on."""
        now = now or utcnow()
        removed = 0
        for upload in Upload.select().where(Upload.expires_at < now):
            with self.locks.hold_if_free(str(upload.id)) as free:
                if not free:
                    continue
                self.terminate(upload)
            self.locks.forget(str(upload.id))
            removed += 1
        return removed
