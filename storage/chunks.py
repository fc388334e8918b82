"""The seed API's chunk form: numbered chunks stored by index, in any order, assembled once all arrived.

The client's `file_id` and `file_name` are only looked up or displayed; files live under our own
id (`data/chunks/<uuid>/<index>`). Re-sending a chunk replaces it atomically, so retries are safe.
"""

from __future__ import annotations

import os
import shutil
import uuid
from datetime import datetime, timedelta
from pathlib import Path

from storage.blobs import append_file
from storage.models import ChunkedUpload, UploadState, utcnow
from storage.offload import off_loop
from video_manager.config import Config


class ChunkFormError(ValueError):
    pass


class ChunkStore:
    @classmethod
    def from_config(cls, config: Config) -> ChunkStore:
        return cls(config.data_dir, expiry_s=config.tus.expiry_s, max_size=config.limits.max_upload_bytes)

    def __init__(self, data_dir: Path, *, expiry_s: int, max_size: int) -> None:
        self.dir = data_dir / "chunks"
        self.dir.mkdir(parents=True, exist_ok=True)
        self.expiry = timedelta(seconds=expiry_s)
        self.max_size = max_size

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

    def chunk_dir(self, session: ChunkedUpload) -> Path:
        return self.dir / str(uuid.UUID(str(session.id)))

    def save(self, session: ChunkedUpload, number: int, staged: Path) -> None:
        if not 1 <= number <= session.total_chunks:
            raise ChunkFormError(f"chunk_number must be between 1 and {session.total_chunks}")
        directory = self.chunk_dir(session)
        directory.mkdir(exist_ok=True)
        final = directory / str(number)
        already = sum(p.stat().st_size for p in directory.iterdir() if p.name.isdigit() and p != final)
        if already + staged.stat().st_size > self.max_size:
            raise ChunkFormError(f"the chunks add up to more than {self.max_size} bytes")
        incoming = directory / f".incoming-{uuid.uuid4()}"
        os.link(staged, incoming)
        os.replace(incoming, final)
        ChunkedUpload.update(expires_at=utcnow() + self.expiry).where(
            ChunkedUpload.id == session.id
        ).execute()

    def missing(self, session: ChunkedUpload) -> list[int]:
        directory = self.chunk_dir(session)
        present = (
            {int(p.name) for p in directory.iterdir() if p.name.isdigit()} if directory.is_dir() else set()
        )
        return [n for n in range(1, session.total_chunks + 1) if n not in present]

    def assemble(self, session: ChunkedUpload) -> Path:
        """Concatenate chunks 1..N into one file beside them (kernel copies, no Python buffers)."""
        directory = self.chunk_dir(session)
        target = directory / "assembled"
        with open(target, "wb") as handle:
            for number in range(1, session.total_chunks + 1):
                piece = directory / str(number)
                off_loop(append_file, piece, handle.fileno(), piece.stat().st_size)
            off_loop(os.fsync, handle.fileno())
        return target

    def mark_complete(self, session: ChunkedUpload) -> None:
        session.state = UploadState.COMPLETE
        session.save(only=[ChunkedUpload.state])
        shutil.rmtree(self.chunk_dir(session), ignore_errors=True)

    def remove(self, session: ChunkedUpload) -> None:
        shutil.rmtree(self.chunk_dir(session), ignore_errors=True)
        session.delete_instance()

    def remove_expired(self, now: datetime | None = None) -> int:
        expired = list(ChunkedUpload.select().where(ChunkedUpload.expires_at < (now or utcnow())))
        for session in expired:
            self.remove(session)
        return len(expired)
