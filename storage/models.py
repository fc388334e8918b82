"""Peewee models: who owns what, and what we know about each stored file."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from enum import StrEnum

from peewee import (
    BigIntegerField,
    CharField,
    DateTimeField,
    FloatField,
    ForeignKeyField,
    IntegerField,
    Model,
    TextField,
    UUIDField,
)

from storage.database import db


def utcnow() -> datetime:
    """Naive UTC timestamp: stored the same way in SQLite and Postgres."""
    return datetime.now(UTC).replace(tzinfo=None)


class BaseModel(Model):
    class Meta:
        database = db


class User(BaseModel):
    username = CharField(max_length=150, unique=True)
    password_hash = CharField(max_length=255)
    created_at = DateTimeField(default=utcnow)


class Token(BaseModel):
    """An API token, stored as its SHA-256 so a database leak does not leak credentials."""

    user = ForeignKeyField(User, backref="tokens", on_delete="CASCADE")
    key_hash = CharField(max_length=64, unique=True)
    created_at = DateTimeField(default=utcnow)


class VideoStatus(StrEnum):
    READY = "ready"
    REJECTED = "rejected"


class Video(BaseModel):
    id = UUIDField(primary_key=True, default=uuid.uuid4)
    owner = ForeignKeyField(User, backref="videos", on_delete="CASCADE")
    name = CharField(max_length=255)
    size = BigIntegerField(default=0)
    status = CharField(max_length=16, default=VideoStatus.READY)
    error = TextField(null=True)
    source = CharField(max_length=16, default="upload")
    duration = FloatField(null=True)
    width = IntegerField(null=True)
    height = IntegerField(null=True)
    video_codec = CharField(max_length=32, null=True)
    audio_codec = CharField(max_length=32, null=True)
    pix_fmt = CharField(max_length=32, null=True)
    color_transfer = CharField(max_length=32, null=True)  # HDR: smpte2084 (PQ), arib-std-b67 (HLG)
    # Text subtitle tracks and chapters, carried by a cut (none known for videos from before).
    subtitle_tracks = IntegerField(null=True)
    chapters = IntegerField(null=True)
    timecode = CharField(max_length=16, null=True)  # a camera's, of the first frame: HH:MM:SS:FF
    frame_rate = CharField(max_length=32, null=True)
    sample_rate = IntegerField(null=True)
    audio_channels = IntegerField(null=True)
    content_type = CharField(max_length=64, default="application/octet-stream")
    created_at = DateTimeField(default=utcnow, index=True)


class UploadState(StrEnum):
    RECEIVING = "receiving"
    COMPLETE = "complete"


class Upload(BaseModel):
    """A tus upload. Its id becomes the id of the video it turns into. Offset = bytes on disk."""

    id = UUIDField(primary_key=True, default=uuid.uuid4)
    owner = ForeignKeyField(User, backref="uploads", on_delete="CASCADE")
    length = BigIntegerField(null=True)  # None while the length is deferred
    metadata = TextField(default="")  # the raw Upload-Metadata header, echoed by HEAD
    name = CharField(max_length=255, default="video")
    concat = CharField(max_length=8, default="")  # "", "partial" or "final"
    concat_header = TextField(default="")  # final: the Upload-Concat value, echoed by HEAD
    received = BigIntegerField(default=0)  # deferred length: bytes stored so far (what the quota counts)
    state = CharField(max_length=16, default=UploadState.RECEIVING)
    created_at = DateTimeField(default=utcnow)
    expires_at = DateTimeField(index=True)


class ChunkedUpload(BaseModel):
    """The seed's multipart chunk form: the client's `file_id` maps to our own id, never a path."""

    id = UUIDField(primary_key=True, default=uuid.uuid4)
    owner = ForeignKeyField(User, backref="chunked_uploads", on_delete="CASCADE")
    client_file_id = CharField(max_length=255)
    name = CharField(max_length=255)
    total_chunks = IntegerField()
    state = CharField(max_length=16, default=UploadState.RECEIVING)
    created_at = DateTimeField(default=utcnow)
    expires_at = DateTimeField(index=True)

    class Meta:
        indexes = ((("owner", "client_file_id"), True),)


class ChunkPart(BaseModel):
    """One stored chunk of the chunk form; its bytes are the `UploadData` upload `data_id`."""

    session = ForeignKeyField(ChunkedUpload, backref="parts", on_delete="CASCADE")
    number = IntegerField()
    data_id = UUIDField()
    size = BigIntegerField()

    class Meta:
        indexes = ((("session", "number"), True),)


class Share(BaseModel):
    """A public link to one video. The URL's token is signed; this row makes it revocable."""

    id = UUIDField(primary_key=True, default=uuid.uuid4)
    video = ForeignKeyField(Video, backref="shares", on_delete="CASCADE")
    owner = ForeignKeyField(User, backref="shares", on_delete="CASCADE")
    expires_at = DateTimeField()
    revoked_at = DateTimeField(null=True)
    created_at = DateTimeField(default=utcnow)


class RenditionStatus(StrEnum):
    QUEUED = "queued"
    ENCODING = "encoding"
    READY = "ready"
    FAILED = "failed"


class Rendition(BaseModel):
    """One rung of a video's adaptive ladder (or its audio, `height` 0): what the master
    playlist lists once it is ready, with what was measured from its segments."""

    video = ForeignKeyField(Video, backref="renditions", on_delete="CASCADE")
    height = IntegerField()
    width = IntegerField()
    copy = IntegerField(default=0)  # 1: the source's own frames
    max_kbps = IntegerField(default=0)
    status = CharField(max_length=16, default=RenditionStatus.QUEUED)
    peak_bps = IntegerField(default=0)
    average_bps = IntegerField(default=0)
    codecs = CharField(max_length=64, default="")
    frame_rate = FloatField(default=0.0)
    error = TextField(null=True)
    created_at = DateTimeField(default=utcnow)

    class Meta:
        indexes = ((("video", "height"), True),)

    AUDIO_HEIGHT = 0  # the audio rendition's row

    @property
    def bitrate(self) -> int:
        """Bits per second: measured once ready, else the rung's cap."""
        return self.average_bps if self.status == RenditionStatus.READY else self.max_kbps * 1000


class RenditionChunk(BaseModel):
    """Who encoded one chunk of one rung, and how long it took: the fleet's share of a ladder."""

    rendition = ForeignKeyField(Rendition, backref="chunks", on_delete="CASCADE")
    index = IntegerField()
    worker = CharField(max_length=255)
    seconds = FloatField()
    attempts = IntegerField(default=1)

    class Meta:
        indexes = ((("rendition", "index"), True),)


class TaskStatus(StrEnum):
    QUEUED = "queued"
    STARTED = "started"
    FINISHED = "finished"
    FAILED = "failed"


class TaskKind(StrEnum):
    TRIM = "trim"
    MERGE = "merge"


class Method(StrEnum):
    """How a task's output was made."""

    COPY = "copy"  # stream copy (all-intra precise trims too)
    SMART = "smart"  # smart cut
    REENCODE = "reencode"


class Task(BaseModel):
    """A trim or merge. The database row is the truth the API reports; RQ only carries the job.

    `attempt` is bumped by each run that claims the task, so a run that lost its claim (its
    worker was presumed dead and the task retried) cannot overwrite the newer run's outcome.
    """

    id = UUIDField(primary_key=True, default=uuid.uuid4)
    owner = ForeignKeyField(User, backref="tasks", on_delete="CASCADE")
    kind = CharField(max_length=8)
    params = TextField()  # JSON: what the job needs
    status = CharField(max_length=16, default=TaskStatus.QUEUED, index=True)
    progress = FloatField(default=0.0)
    attempt = IntegerField(default=0)
    result_video = UUIDField(null=True)
    result_method = CharField(max_length=16, null=True)  # trims: smart, reencode or copy
    error_code = CharField(max_length=64, null=True)
    error_detail = TextField(null=True)
    created_at = DateTimeField(default=utcnow)
    started_at = DateTimeField(null=True)
    ended_at = DateTimeField(null=True)
    heartbeat_at = DateTimeField(null=True)
    dispatched_at = DateTimeField(null=True)  # let into the job queue (processor.dispatch); unset: waiting


class WebhookStatus(StrEnum):
    ACTIVE = "active"
    DISABLED = "disabled"  # its receiver failed through the whole retry schedule; its owner re-enables it


class Webhook(BaseModel):
    """A user's endpoint for events. Its secret signs every delivery (Standard Webhooks), so it
    is kept as issued, like the share-signing key, and shown to its owner only once.

    A receiver that fails is backed off as a whole (`paused_until`, growing with `failures`, the
    consecutive failed attempts), so its backlog never takes senders from other receivers."""

    id = UUIDField(primary_key=True, default=uuid.uuid4)
    owner = ForeignKeyField(User, backref="webhooks", on_delete="CASCADE")
    url = TextField()
    events = TextField()  # JSON list of event types, or ["*"]
    secret = CharField(max_length=64)
    created_at = DateTimeField(default=utcnow)
    status = CharField(max_length=16, default=WebhookStatus.ACTIVE)
    failures = IntegerField(default=0)
    paused_until = DateTimeField(null=True)


class DeliveryState(StrEnum):
    PENDING = "pending"
    DELIVERED = "delivered"
    FAILED = "failed"  # every retry was spent


class Delivery(BaseModel):
    """One event on its way to one webhook. Written with the change it reports (an outbox), then
    sent by the worker's delivery process until a 2xx or the retry schedule runs out.

    `next_attempt_at` is also the claim: a sender moves it past its own attempt's deadline, so
    another sender takes the row only if this one died mid-attempt (at-least-once)."""

    id = UUIDField(primary_key=True, default=uuid.uuid4)
    webhook = ForeignKeyField(Webhook, backref="deliveries", on_delete="CASCADE")
    event_id = CharField(max_length=40)  # `webhook-id` and the body's `id`: the same on every attempt
    event_type = CharField(max_length=32)
    payload = TextField()  # the JSON body, fixed when the event happened
    state = CharField(max_length=16, default=DeliveryState.PENDING)
    attempts = IntegerField(default=0)
    next_attempt_at = DateTimeField(default=utcnow)
    created_at = DateTimeField(default=utcnow)

    class Meta:
        indexes = ((("state", "next_attempt_at"), False),)


class DeliveryAttempt(BaseModel):
    """What one attempt got: the receiver's status code, or why there was none."""

    delivery = ForeignKeyField(Delivery, backref="attempt_log", on_delete="CASCADE")
    attempt = IntegerField()
    status_code = IntegerField(null=True)
    error = CharField(max_length=255, null=True)
    created_at = DateTimeField(default=utcnow, index=True)


class Reservation(BaseModel):
    """Bytes a request or a job is about to store, held against its owner's quota until they are
    counted where they land (a video, an upload): the check and the hold are one step, so
    parallel requests cannot all pass the same check. `purpose` names what holds it (a task)."""

    owner = ForeignKeyField(User, backref="reservations", on_delete="CASCADE")
    size = BigIntegerField()
    purpose = CharField(max_length=64, default="", index=True)
    expires_at = DateTimeField(index=True)  # a holder that died lets go by then


class Setting(BaseModel):
    """Values every host must agree on and nobody configured (the generated share-signing key)."""

    key = CharField(max_length=64, primary_key=True)
    value = TextField()


ALL_MODELS: list[type[Model]] = [
    User, Token, Video, Upload, ChunkedUpload, ChunkPart, Task, Share, Webhook, Delivery, DeliveryAttempt,
    Reservation, Setting, Rendition, RenditionChunk,
]  # fmt: skip
