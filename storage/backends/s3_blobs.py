"""Videos as objects in S3-compatible storage: `<prefix>videos/<uuid>` (a tus upload is completed there).

Scratch (request bodies, ffmpeg's work, probe copies) stays on the local disk of whichever host
does the work, and is removed afterwards; no video byte stays on a host.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from boto3.s3.transfer import TransferConfig
from botocore.exceptions import ClientError

from storage.backends.s3_client import is_missing, videos_prefix
from storage.scratch import Scratch
from storage.stores import UploadData

READ_BLOCK = 1024 * 1024
SOURCE_URL_S = 6 * 3600  # outlives any job (ffmpeg.timeout_s is 1 h by default)


class S3BlobStore:
    remote = True

    def __init__(self, client: Any, bucket: str, *, prefix: str, part_size: int, scratch: Scratch) -> None:
        self.scratch = scratch
        self.s3 = client
        self.bucket = bucket
        self.prefix = prefix
        self.transfer = TransferConfig(multipart_chunksize=part_size, multipart_threshold=part_size)

    def key(self, video_id: uuid.UUID) -> str:
        return f"{videos_prefix(self.prefix)}{uuid.UUID(str(video_id))}"

    def local_file(self, video_id: uuid.UUID) -> None:
        """No video byte stays on a host."""

    def publish(self, staged: Path, video_id: uuid.UUID) -> None:
        """Uploaded in parts (boto3's managed transfer: bounded memory); visible only when whole."""
        self.s3.upload_file(str(staged), self.bucket, self.key(video_id), Config=self.transfer)

    def publish_upload(self, data: UploadData, upload_id: uuid.UUID, video_id: uuid.UUID) -> None:
        """Nothing to do when the upload was completed at the video's own key (a tus upload
        becomes the video with its id); else a copy inside the store (a multipart copy for big
        ones): the bytes never pass through this host."""
        received = data.object_key(upload_id)
        if received is None:
            raise TypeError("videos in object storage are published from uploads in object storage")
        if (received.bucket, received.key) == (self.bucket, self.key(video_id)):
            return
        self.s3.copy(
            {"Bucket": received.bucket, "Key": received.key},
            self.bucket,
            self.key(video_id),
            Config=self.transfer,
        )

    def delete_video(self, video_id: uuid.UUID) -> None:
        self.s3.delete_object(Bucket=self.bucket, Key=self.key(video_id))

    def exists(self, video_id: uuid.UUID) -> bool:
        return self.size(video_id) is not None

    def size(self, video_id: uuid.UUID) -> int | None:
        try:
            return self.s3.head_object(Bucket=self.bucket, Key=self.key(video_id))["ContentLength"]
        except ClientError as exc:
            if is_missing(exc):
                return None
            raise

    def source(self, video_id: uuid.UUID) -> str:
        """A presigned URL for ffmpeg: it reads the ranges it needs (a short trim of a long video
        fetches a small part of it), nothing is copied to this host."""
        return self.s3.generate_presigned_url(
            "get_object", Params={"Bucket": self.bucket, "Key": self.key(video_id)}, ExpiresIn=SOURCE_URL_S
        )

    def read(self, video_id: uuid.UUID, start: int, end: int) -> Iterator[bytes]:
        """Bytes [start, end] (inclusive, as HTTP ranges), streamed."""
        body = self.s3.get_object(Bucket=self.bucket, Key=self.key(video_id), Range=f"bytes={start}-{end}")[
            "Body"
        ]
        return iter(lambda: body.read(READ_BLOCK), b"")

    def presigned_url(
        self, video_id: uuid.UUID, *, expires_s: int, disposition: str, content_type: str
    ) -> str:
        return self.s3.generate_presigned_url(
            "get_object",
            Params={
                "Bucket": self.bucket,
                "Key": self.key(video_id),
                "ResponseContentDisposition": disposition,
                "ResponseContentType": content_type,
            },
            ExpiresIn=expires_s,
        )
