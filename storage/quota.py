"""What a user's storage holds, for `limits.user_quota_bytes`, and holding room in it.

The quota counts, per user: ready videos; unfinished uploads by their declared length (by what
they received, for a deferred length); finished partial uploads (they wait to be concatenated,
and their bytes are stored); chunk-form chunks stored so far; and reservations: what a request
or a task is about to store (an upload being created, a trim's or merge's output), held from
the check until the bytes are counted where they land.

`reserve` checks and holds in one write transaction (SQLite's write lock; on PostgreSQL an
advisory lock per user), so parallel requests of one user cannot all pass one check.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Iterator
from datetime import timedelta

from peewee import PostgresqlDatabase, fn

from storage.database import db, write_transaction
from storage.models import (
    ChunkedUpload,
    ChunkPart,
    Reservation,
    Upload,
    UploadState,
    Video,
    VideoStatus,
    utcnow,
)

RESERVATION_LIFETIME_S = 3600.0  # what a request holds; a task's lasts as long as its run may
QUOTA_LOCK = 0x766D5F71  # "vm_q": the PostgreSQL advisory lock space of the per-user quota lock


class QuotaExceededError(Exception):
    def __init__(self, quota: int) -> None:
        super().__init__(f"this would take your videos and uploads past your {quota}-byte quota")
        self.quota = quota


def bytes_used(owner_id: int, *, besides: uuid.UUID | None = None) -> int:
    """Everything the quota counts for the user (see the module's docstring); `besides` leaves
    one upload out (it is being checked)."""
    other = besides or uuid.UUID(int=0)
    videos = Video.select(fn.COALESCE(fn.SUM(Video.size), 0)).where(
        (Video.owner == owner_id) & (Video.status == VideoStatus.READY)
    )
    receiving = (Upload.owner == owner_id) & (Upload.state == UploadState.RECEIVING) & (Upload.id != other)
    declared = Upload.select(fn.COALESCE(fn.SUM(Upload.length), 0)).where(
        receiving & Upload.length.is_null(False)
    )
    deferred = Upload.select(fn.COALESCE(fn.SUM(Upload.received), 0)).where(
        receiving & Upload.length.is_null()
    )
    partials = Upload.select(fn.COALESCE(fn.SUM(Upload.length), 0)).where(
        (Upload.owner == owner_id) & (Upload.state == UploadState.COMPLETE) & (Upload.concat == "partial")
        & (Upload.id != other)
    )  # fmt: skip
    chunks = (
        ChunkPart.select(fn.COALESCE(fn.SUM(ChunkPart.size), 0))
        .join(ChunkedUpload)
        .where((ChunkedUpload.owner == owner_id) & (ChunkedUpload.state == UploadState.RECEIVING))
    )
    held = Reservation.select(fn.COALESCE(fn.SUM(Reservation.size), 0)).where(
        (Reservation.owner == owner_id) & (Reservation.expires_at > utcnow())
    )
    return sum(query.scalar() for query in (videos, declared, deferred, partials, chunks, held))


def reserve(
    owner_id: int, size: int, quota: int, *, purpose: str = "", lifetime_s: float = RESERVATION_LIFETIME_S
) -> Reservation | None:
    """Hold `size` bytes of the user's quota, or raise QuotaExceededError; None when there is no
    quota (0)."""
    if not quota:
        return None
    with write_transaction():
        _lock_user(owner_id)
        if bytes_used(owner_id) + size > quota:
            raise QuotaExceededError(quota)
        return Reservation.create(
            owner=owner_id, size=size, purpose=purpose, expires_at=utcnow() + timedelta(seconds=lifetime_s)
        )


def release(reservation: Reservation | None) -> None:
    if reservation is not None:
        Reservation.delete().where(Reservation.id == reservation.id).execute()


def release_for(purpose: str) -> None:
    Reservation.delete().where(Reservation.purpose == purpose).execute()


@contextlib.contextmanager
def holding(owner_id: int, size: int, quota: int) -> Iterator[None]:
    """Room for `size` bytes while the block stores them where they will be counted."""
    reservation = reserve(owner_id, size, quota)
    try:
        yield
    finally:
        release(reservation)


def room_left(owner_id: int, quota: int, *, besides: uuid.UUID | None = None) -> int | None:
    """Bytes the user may still add (None: no quota)."""
    if not quota:
        return None
    return max(0, quota - bytes_used(owner_id, besides=besides))


def task_purpose(task_id: uuid.UUID | str) -> str:
    return f"task:{task_id}"


def forget_expired() -> int:
    """Reservations whose holder died without letting go."""
    return Reservation.delete().where(Reservation.expires_at <= utcnow()).execute()


def unfinished_uploads(owner_id: int) -> int:
    """tus/IETF uploads and chunk-form files of the user still receiving."""
    uploads = Upload.select().where((Upload.owner == owner_id) & (Upload.state == UploadState.RECEIVING))
    files = ChunkedUpload.select().where(
        (ChunkedUpload.owner == owner_id) & (ChunkedUpload.state == UploadState.RECEIVING)
    )
    return uploads.count() + files.count()


def _lock_user(owner_id: int) -> None:
    """On PostgreSQL, one quota decision per user at a time (SQLite's write lock already is)."""
    if isinstance(db.obj, PostgresqlDatabase):
        db.execute_sql("SELECT pg_advisory_xact_lock(%s, %s)", (QUOTA_LOCK, owner_id))
