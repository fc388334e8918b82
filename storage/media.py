"""Files made from a video for viewing it: the poster, thumbnails, the storyboard, the HLS rendition.

They live in `data/media/<xx>/<video id>/<name>`, named by us only (never by a client), and
each appears whole: written elsewhere, then renamed into place. With object storage they are
also objects `<prefix>media/<video id>/<name>`, so every host can serve them; a host keeps the
ones it has served in its own `data/media` as a cache. They go when the video goes.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import uuid
from pathlib import Path
from typing import Any

from botocore.exceptions import ClientError

from storage.backends.s3_uploads import is_missing
from storage.blobs import sharded, staged_file, sweep_stale
from video_manager.config import Config

NAME = re.compile(r"^[a-z0-9][a-z0-9.-]{0,63}$")


class MediaStore:
    """On local disk; `S3MediaStore` adds the bucket."""

    def __init__(self, data_dir: Path) -> None:
        self.root = data_dir / "media"
        self.tmp_dir = self.root / "tmp"  # pictures being made: never mistaken for video scratch
        self.tmp_dir.mkdir(parents=True, exist_ok=True)

    def folder(self, video_id: uuid.UUID) -> Path:
        return sharded(self.root, video_id)

    def path(self, video_id: uuid.UUID, name: str) -> Path:
        if not NAME.match(name):
            raise ValueError(f"not a media file name: {name!r}")
        return self.folder(video_id) / name

    def get(self, video_id: uuid.UUID, name: str) -> Path | None:
        """The file, if it has been made."""
        path = self.path(video_id, name)
        return path if path.is_file() else None

    def put(self, video_id: uuid.UUID, name: str, staged: Path) -> Path:
        """Link a finished file into place. The first one made stays: two makers of one picture
        (the worker, and a request that could not wait) never change it under a client's ETag."""
        final = self.path(video_id, name)
        final.parent.mkdir(parents=True, exist_ok=True)
        with contextlib.suppress(FileExistsError):
            os.link(staged, final)
        return final

    def cache(self, video_id: uuid.UUID, name: str, staged: Path) -> Path:
        """Keep a file on this host only (thumbnails at any time: cheap to make again)."""
        return MediaStore.put(self, video_id, name, staged)

    def staged(self, suffix: str) -> contextlib.AbstractContextManager[Path]:
        """A temp path beside the media, for ffmpeg to write; gone afterwards unless `put`."""
        return staged_file(self.tmp_dir, "media-", suffix)

    def upload_made(self, video_id: uuid.UUID, names: list[str]) -> None:
        """Files a program wrote straight into the folder go to the bucket, if there is one."""

    def names(self, video_id: uuid.UUID, prefix: str) -> list[str]:
        folder = self.folder(video_id)
        return sorted(p.name for p in folder.glob(f"{prefix}*")) if folder.is_dir() else []

    def remove(self, video_id: uuid.UUID, names: list[str]) -> None:
        for name in names:
            self.path(video_id, name).unlink(missing_ok=True)

    def delete_all(self, video_id: uuid.UUID) -> None:
        shutil.rmtree(self.folder(video_id), ignore_errors=True)

    def video_ids(self) -> set[uuid.UUID]:
        """Every video something was made for, on this host."""
        found = set()
        for folder in self.root.glob("??/*"):
            with contextlib.suppress(ValueError):
                found.add(uuid.UUID(folder.name))
        return found

    def sweep_stale_temps(self) -> int:
        return sweep_stale(self.tmp_dir)


class S3MediaStore(MediaStore):
    """The bucket holds every media file; this host's `data/media` caches what it served."""

    def __init__(self, data_dir: Path, client: Any, bucket: str, *, prefix: str) -> None:
        super().__init__(data_dir)
        self.s3 = client
        self.bucket = bucket
        self.prefix = prefix

    def key(self, video_id: uuid.UUID, name: str = "") -> str:
        return f"{self.prefix}media/{uuid.UUID(str(video_id))}/{name}"

    def get(self, video_id: uuid.UUID, name: str) -> Path | None:
        cached = super().get(video_id, name)
        if cached is not None:
            return cached
        with self.staged(".part") as staged:
            try:
                self.s3.download_file(self.bucket, self.key(video_id, name), str(staged))
            except ClientError as exc:
                if is_missing(exc):
                    return None
                raise
            return super().put(video_id, name, staged)

    def put(self, video_id: uuid.UUID, name: str, staged: Path) -> Path:
        self.s3.upload_file(str(staged), self.bucket, self.key(video_id, name))
        return super().put(video_id, name, staged)

    def upload_made(self, video_id: uuid.UUID, names: list[str]) -> None:
        for name in names:
            self.s3.upload_file(str(self.path(video_id, name)), self.bucket, self.key(video_id, name))

    def remove(self, video_id: uuid.UUID, names: list[str]) -> None:
        for name in names:
            self.s3.delete_object(Bucket=self.bucket, Key=self.key(video_id, name))
        super().remove(video_id, names)

    def delete_all(self, video_id: uuid.UUID) -> None:
        pages = self.s3.get_paginator("list_objects_v2").paginate(
            Bucket=self.bucket, Prefix=self.key(video_id)
        )
        for page in pages:
            for item in page.get("Contents", []):
                self.s3.delete_object(Bucket=self.bucket, Key=item["Key"])
        super().delete_all(video_id)

    def video_ids(self) -> set[uuid.UUID]:
        found = super().video_ids()
        pages = self.s3.get_paginator("list_objects_v2").paginate(
            Bucket=self.bucket, Prefix=f"{self.prefix}media/", Delimiter="/"
        )
        for page in pages:
            for common in page.get("CommonPrefixes", []):
                with contextlib.suppress(ValueError):
                    found.add(uuid.UUID(common["Prefix"].rstrip("/").rsplit("/", 1)[1]))
        return found


def media_store_from_config(config: Config) -> MediaStore:
    if not config.on_object_storage:
        return MediaStore(config.data_dir)
    from storage.backends.s3_uploads import s3_client_from_config

    return S3MediaStore(
        config.data_dir, s3_client_from_config(config), config.s3.bucket, prefix=config.s3.prefix
    )
