"""The tus upload store: upload rows and the protocol's rules over them; the bytes live in an
`UploadData` backend (storage.stores, storage.backends), reached only through that interface.

It knows nothing of HTTP. Callers hold the upload's lock (storage.locks) around every change.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterable, Iterator
from datetime import datetime, timedelta

from storage.database import db
from storage.factory import upload_data_from_config
from storage.locks import Locker, locker_from_config
from storage.models import Upload, UploadState, Video, VideoStatus, utcnow
from storage.stores import UploadData
from video_manager.config import Config
from video_manager.errors import ClientError


def drop_data(data: UploadData, upload_id: uuid.UUID) -> None:
    """An upload's bytes go, unless they have become the ready video with its id: on object
    storage that video's object is the completed upload itself."""
    if Video.select().where((Video.id == upload_id) & (Video.status == VideoStatus.READY)).exists():
        data.release(upload_id)
    else:
        data.delete(upload_id)


class UploadError(ClientError):
    """Base of the store's errors; each says how a client is answered."""


class UploadNotFoundError(UploadError):
    code, status, detail = "not_found", 404, "No such upload."


class UploadExpiredError(UploadError):
    code, status, detail = "upload_expired", 410, "The upload has expired; start a new one."


class OffsetMismatchError(UploadError):
    code, status = "offset_mismatch", 409


class SizeExceededError(UploadError):
    code, status = "too_large", 413


class InvalidLengthError(UploadError):
    code, status = "invalid_length", 400


class FinalUploadModifiedError(UploadError):
    code, status = "final_upload", 403


class ConcatError(UploadError):
    code, status = "invalid_concat", 400


class UploadStore:
    @classmethod
    def from_config(cls, config: Config) -> UploadStore:
        return cls(
            upload_data_from_config(config),
            expiry_s=config.tus.expiry_s,
            max_size=config.limits.max_upload_bytes,
            locks=locker_from_config(config),
        )

    def __init__(self, data: UploadData, *, expiry_s: int, max_size: int, locks: Locker) -> None:
        self.data = data
        self.locks = locks
        self.expiry = timedelta(seconds=expiry_s)
        self.max_size = max_size

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
        return self.data.offset(upload.id)

    # -- creation ----------------------------------------------------------------------------

    def create(
        self, owner_id: int, *, length: int | None, metadata: str, name: str, concat: str = ""
    ) -> Upload:
        self.check_length(length)
        upload_id = uuid.uuid4()
        self.data.create(upload_id)
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
        """Store chunks at `offset` (the current end) and return the new offset.

        An interrupted iterator leaves the bytes received so far in place, which is what the next
        HEAD reports. Expiry counts from the last byte received, so a long, slow PATCH keeps
        moving it forward as bytes arrive.
        """
        new_offset = self.data.append(upload.id, offset, self._extending_expiry(upload, chunks))
        self._extend_expiry(upload)
        if upload.length is None:  # what the quota counts it by
            upload.received = new_offset
            Upload.update(received=new_offset).where(Upload.id == upload.id).execute()
        return new_offset

    def _extending_expiry(self, upload: Upload, chunks: Iterable[bytes]) -> Iterator[bytes]:
        refresh_every = max(1.0, self.expiry.total_seconds() / 4)
        refreshed = time.monotonic()
        for chunk in chunks:
            yield chunk
            if time.monotonic() - refreshed >= refresh_every:
                refreshed = time.monotonic()
                self._extend_expiry(upload)

    def _extend_expiry(self, upload: Upload) -> None:
        upload.expires_at = utcnow() + self.expiry
        Upload.update(expires_at=upload.expires_at).where(Upload.id == upload.id).execute()

    def is_complete(self, upload: Upload, offset: int) -> bool:
        return upload.length is not None and offset == upload.length

    def finish(self, upload: Upload) -> None:
        """The last byte is in: the backend makes the bytes one whole object."""
        self.data.finish(upload.id)

    def mark_complete(self, upload: Upload) -> None:
        upload.state = UploadState.COMPLETE
        upload.save(only=[Upload.state])

    # -- concatenation -----------------------------------------------------------------------

    def concatenated_length(self, owner_id: int, part_ids: list[uuid.UUID]) -> int:
        """What a final upload of these partial uploads would hold (the user's own ones only;
        `concatenate` says what is wrong with the others)."""
        lengths = {
            row.id: row.length or 0
            for row in Upload.select(Upload.id, Upload.length).where(
                (Upload.owner == owner_id) & Upload.id.in_(part_ids)
            )
        }
        return sum(lengths.get(part_id, 0) for part_id in part_ids)

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
        self.data.concatenate(final.id, [(part.id, part.length) for part in parts])
        return final

    # -- removal -----------------------------------------------------------------------------

    def terminate(self, upload: Upload) -> None:
        with db.atomic():
            upload.delete_instance()
        drop_data(self.data, upload.id)

    def discard_data(self, upload: Upload) -> None:
        """The bytes have become a video (or were rejected); the row stays for HEAD."""
        drop_data(self.data, upload.id)
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
