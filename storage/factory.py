"""The one place that picks the stores from the config: local disk, or S3-compatible object
storage (`[s3]`), with this host's scratch space beside them."""

from __future__ import annotations

from typing import Any

from storage.backends.local_blobs import LocalBlobStore
from storage.backends.local_media import LocalMediaStore
from storage.backends.local_uploads import LocalUploadData
from storage.scratch import Scratch
from storage.stores import BlobStore, MediaStore, UploadData
from video_manager.config import Config


def video_scratch(config: Config) -> Scratch:
    """Request bodies and ffmpeg's output: beside `data/videos`, so publishing is one link."""
    return Scratch(config.data_dir / "tmp")


def local_media(config: Config) -> LocalMediaStore:
    return LocalMediaStore(config.data_dir / "media")


def scratch_spaces(config: Config) -> list[Scratch]:
    """Every scratch space of this host, for the sweep of what killed processes left."""
    return [video_scratch(config), local_media(config).scratch]


def upload_data_from_config(config: Config) -> UploadData:
    if not config.on_object_storage:
        return LocalUploadData(config.data_dir / "uploads")
    from storage.backends.s3_client import videos_prefix
    from storage.backends.s3_uploads import S3UploadData

    return S3UploadData(
        _s3_client(config),
        config.s3.bucket,
        prefix=config.s3.prefix,
        part_size=config.s3.part_size,
        scratch_dir=config.data_dir / "scratch",
        objects_prefix=videos_prefix(config.s3.prefix),
    )


def blob_store_from_config(config: Config) -> BlobStore:
    if not config.on_object_storage:
        return LocalBlobStore(config.data_dir / "videos", video_scratch(config))
    from storage.backends.s3_blobs import S3BlobStore

    return S3BlobStore(
        _s3_client(config),
        config.s3.bucket,
        prefix=config.s3.prefix,
        part_size=config.s3.part_size,
        scratch=video_scratch(config),
    )


def media_store_from_config(config: Config) -> MediaStore:
    if not config.on_object_storage:
        return local_media(config)
    from storage.backends.s3_media import S3MediaStore

    return S3MediaStore(
        _s3_client(config), config.s3.bucket, prefix=config.s3.prefix, cache=local_media(config)
    )


def _s3_client(config: Config) -> Any:
    """boto3 is imported only by hosts that use object storage."""
    from storage.backends.s3_client import s3_client_from_config

    return s3_client_from_config(config)
