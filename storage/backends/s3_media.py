"""Media files as objects `<prefix>media/<video id>/<name>`, so every host can serve them; each
host keeps the ones it has served in its own local media store, as a cache."""

from __future__ import annotations

import contextlib
import uuid
from pathlib import Path
from typing import Any

from botocore.exceptions import ClientError

from storage.backends.s3_client import is_missing
from storage.stores import MediaStore


class S3MediaStore:
    def __init__(self, client: Any, bucket: str, *, prefix: str, cache: MediaStore) -> None:
        self.s3 = client
        self.bucket = bucket
        self.prefix = prefix
        self.local = cache  # this host's copies

    def key(self, video_id: uuid.UUID, name: str = "") -> str:
        return f"{self.prefix}media/{uuid.UUID(str(video_id))}/{name}"

    def path(self, video_id: uuid.UUID, name: str) -> Path:
        return self.local.path(video_id, name)

    def get(self, video_id: uuid.UUID, name: str) -> Path | None:
        cached = self.local.get(video_id, name)
        if cached is not None:
            return cached
        with self.staged(".part") as staged:
            try:
                self.s3.download_file(self.bucket, self.key(video_id, name), str(staged))
            except ClientError as exc:
                if is_missing(exc):
                    return None
                raise
            return self.local.put(video_id, name, staged)

    def put(self, video_id: uuid.UUID, name: str, staged: Path) -> Path:
        self.s3.upload_file(str(staged), self.bucket, self.key(video_id, name))
        return self.local.put(video_id, name, staged)

    def cache(self, video_id: uuid.UUID, name: str, staged: Path) -> Path:
        return self.local.put(video_id, name, staged)

    def staged(self, suffix: str) -> contextlib.AbstractContextManager[Path]:
        return self.local.staged(suffix)

    def upload_made(self, video_id: uuid.UUID, names: list[str]) -> None:
        for name in names:
            self.s3.upload_file(str(self.path(video_id, name)), self.bucket, self.key(video_id, name))

    def names(self, video_id: uuid.UUID, prefix: str) -> list[str]:
        return self.local.names(video_id, prefix)

    def remove(self, video_id: uuid.UUID, names: list[str]) -> None:
        for name in names:
            self.s3.delete_object(Bucket=self.bucket, Key=self.key(video_id, name))
        self.local.remove(video_id, names)

    def delete_all(self, video_id: uuid.UUID) -> None:
        pages = self.s3.get_paginator("list_objects_v2").paginate(
            Bucket=self.bucket, Prefix=self.key(video_id)
        )
        for page in pages:
            for item in page.get("Contents", []):
                self.s3.delete_object(Bucket=self.bucket, Key=item["Key"])
        # stores with folders (SeaweedFS's filer) keep the emptied one listed until it goes too
        self.s3.delete_object(Bucket=self.bucket, Key=self.key(video_id))
        self.local.delete_all(video_id)

    def video_ids(self) -> set[uuid.UUID]:
        found = self.local.video_ids()
        pages = self.s3.get_paginator("list_objects_v2").paginate(
            Bucket=self.bucket, Prefix=f"{self.prefix}media/", Delimiter="/"
        )
        for page in pages:
            for common in page.get("CommonPrefixes", []):
                with contextlib.suppress(ValueError):
                    found.add(uuid.UUID(common["Prefix"].rstrip("/").rsplit("/", 1)[1]))
        return found
