"""Peewee models: who owns what, and what we know about each stored file."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

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


class VideoStatus:
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
    frame_rate = CharField(max_length=32, null=True)
    sample_rate = IntegerField(null=True)
    content_type = CharField(max_length=64, default="application/octet-stream")
    created_at = DateTimeField(default=utcnow, index=True)


ALL_MODELS: list[type[Model]] = [User, Token, Video]
