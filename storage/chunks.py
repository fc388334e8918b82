"""The seed API's chunk form: numbered chunks stored by index, in any order, assembled once all arrived.

Each chunk's bytes are an upload of their own in the `UploadData` backend (local disk or object
storage), and a `ChunkPart` row says which chunks are in: any host can take the next chunk, and
a chunk counts only once it is stored whole. The client's `file_id` and `file_name` are only
looked up or displayed; bytes live under our own ids. Re-sending a chunk replaces it (the row
moves to the new bytes, then the old ones go), so retries are safe. Assembly is the backend's
concatenation (a copy inside the object store when the chunks are big enough), into an upload
with the session's id, which becomes the video like a finished tus upload.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from pathlib import Path

from peewee import fn

from storage.database import db
from storage.factory import upload_data_from_config
from storage.models import ChunkedUpload, ChunkPart, UploadState, utcnow
from storage.stores import UploadData
from storage.uploads import drop_data
from video_manager.config import Config

READ_BLOCK = 1024 * 1024


class ChunkFormError(ValueError):
    pass


class ChunkStore:
    @classmethod
    def from_config(cls, config: Config, data: UploadData | None = None) -> ChunkStore:
        return cls(
            data or upload_data_from_config(config),
            expiry_s=config.tus.expiry_s,
            max_size=config.limits.max_upload_bytes,
        )

    def __init__(self, data: UploadData, *, expiry_s: int, max_size: int) -> None:
        self.data = data
        self.expiry = timedelta(seconds=expiry_s)
        self.max_size = max_size

    def exists(self, owner_id: int, client_file_id: str) -> bool:
        query = ChunkedUpload.select().where(
            (ChunkedUpload.owner == owner_id) & (ChunkedUpload.client_file_id == client_file_id)
        )
        return query.exists()

    def session(self, owner_id: int, client_file_id: str, name: str, total_chunks: int) -> ChunkedUpload:
        session, _created = ChunkedUpload.get_or_create(
            owner=owner_id,
            client_file_id=client_file_id,
            defaults={"name": name, "total_chunks": total_chunks, "expires_at": utcnow() + self.expiry},
        )
        if session.total_chunks != total_chunks:
            raise ChunkFormError(
                f"total_chunks was {session.total_chunks} for this file_id, not {total_chunks}"
            )
        return session

    def save(self, session: ChunkedUpload, number: int, staged: Path) -> None:
        """Store chunk `number` from a local file; the caller holds the session's lock."""
        if not 1 <= number <= session.total_chunks:
            raise ChunkFormError(f"chunk_number must be between 1 and {session.total_chunks}")
        size = staged.stat().st_size
        others = (
            ChunkPart.select(fn.COALESCE(fn.SUM(ChunkPart.size), 0))
            .where((ChunkPart.session == session.id) & (ChunkPart.number != number))
            .scalar()
        )
        if others + size > self.max_size:
            raise ChunkFormError(f"the chunks add up to more than {self.max_size} bytes")
        data_id = uuid.uuid4()
        self.data.create(data_id)
        try:
            with open(staged, "rb") as handle:
                stored = self.data.append(data_id, 0, iter(lambda: handle.read(READ_BLOCK), b""))
            if stored != size:
                raise OSError(f"stored {stored} of the chunk's {size} bytes")
            self.data.finish(data_id)
            with db.atomic():
                replaced = ChunkPart.get_or_none(session=session.id, number=number)
                if replaced is not None:
                    replaced.delete_instance()
                ChunkPart.create(session=session.id, number=number, data_id=data_id, size=size)
                ChunkedUpload.update(expires_at=utcnow() + self.expiry).where(
                    ChunkedUpload.id == session.id
                ).execute()
        except BaseException:
            self.data.delete(data_id)
            raise
        if replaced is not None:
            self.data.delete(replaced.data_id)

    def missing(self, session: ChunkedUpload) -> list[int]:
        present = {
            part.number for part in ChunkPart.select(ChunkPart.number).where(ChunkPart.session == session.id)
        }
        return [n for n in range(1, session.total_chunks + 1) if n not in present]

    def assemble(self, session: ChunkedUpload) -> int:
        """Concatenate chunks 1..N into the upload `session.id` of the backend; returns its size."""
        parts = list(ChunkPart.select().where(ChunkPart.session == session.id).order_by(ChunkPart.number))
        drop_data(self.data, session.id)  # an assembly a crash interrupted
        self.data.create(session.id)
        self.data.concatenate(session.id, [(part.data_id, part.size) for part in parts])
        self.data.finish(session.id)
        return sum(part.size for part in parts)

    def mark_complete(self, session: ChunkedUpload) -> None:
        session.state = UploadState.COMPLETE
        session.save(only=[ChunkedUpload.state])
        self._discard_bytes(session)

    def remove(self, session: ChunkedUpload) -> None:
        self._discard_bytes(session)
        session.delete_instance()

    def remove_expired(self, now: datetime | None = None) -> int:
        expired = list(ChunkedUpload.select().where(ChunkedUpload.expires_at < (now or utcnow())))
        for session in expired:
            self.remove(session)
        return len(expired)

    def _discard_bytes(self, session: ChunkedUpload) -> None:
        """The chunks and the assembled upload; the video (if any) has its own copy or link."""
        for part in ChunkPart.select().where(ChunkPart.session == session.id):
            self.data.delete(part.data_id)
            part.delete_instance()
        drop_data(self.data, session.id)
