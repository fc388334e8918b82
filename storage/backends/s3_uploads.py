"""Upload bytes in S3-compatible object storage (AWS S3, MinIO, R2, SeaweedFS), shaped as tusd's
s3store: an upload is one multipart upload plus two small objects beside it.

- `<id>.info` names the multipart upload while the upload is unfinished;
- `<id>.part` holds the tail that is still shorter than a part (parts but the last must be at
  least 5 MiB), so bytes that arrived before a client dropped are kept;
- the offset is the sum of the uploaded parts plus the tail: nothing else to keep in sync.

A PATCH body goes to scratch files a part at a time, with up to two parts uploading at once
(per-part latency overlaps): memory stays flat and the scratch disk never holds more than two
parts.
"""

from __future__ import annotations

import contextlib
import json
import shutil
import tempfile
import uuid
from collections import deque
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import IO, Any

from botocore.exceptions import ClientError

from storage.backends.s3_client import is_missing
from storage.stores import ObjectKey

MIN_PART_SIZE = 5 * 1024 * 1024
SCRATCH_PARTS = 2  # scratch files per PATCH: parts uploading, or uploading and filling
SOURCE_URL_S = 3600
READ_BLOCK = 1024 * 1024


class S3UploadData:
    remote = True

    def __init__(
        self, client: Any, bucket: str, *, prefix: str, part_size: int, scratch_dir: Path, objects_prefix: str
    ) -> None:
        """`objects_prefix`: where finished uploads are completed, the videos' own keys (a video
        made of an upload keeps its id), so publishing one copies nothing."""
        self.s3 = client
        self.bucket = bucket
        self.prefix = prefix
        self.objects_prefix = objects_prefix
        self.part_size = max(part_size, MIN_PART_SIZE)
        self.scratch_dir = scratch_dir
        scratch_dir.mkdir(parents=True, exist_ok=True)

    def key(self, upload_id: uuid.UUID, suffix: str = "") -> str:
        """The upload's object (no suffix: where it is completed) or its bookkeeping beside."""
        if not suffix:
            return f"{self.objects_prefix}{uuid.UUID(str(upload_id))}"
        return f"{self.prefix}uploads/{uuid.UUID(str(upload_id))}{suffix}"

    # -- the interface -----------------------------------------------------------------------

    def create(self, upload_id: uuid.UUID) -> None:
        started = self.s3.create_multipart_upload(Bucket=self.bucket, Key=self.key(upload_id))
        info = json.dumps({"multipart": started["UploadId"]}).encode()
        self.s3.put_object(Bucket=self.bucket, Key=self.key(upload_id, ".info"), Body=info)

    def offset(self, upload_id: uuid.UUID) -> int:
        multipart = self._multipart(upload_id)
        if multipart is None:  # finished (one object) or gone
            return self._size(self.key(upload_id)) or 0
        parts = self._parts(upload_id, multipart)
        return sum(part["Size"] for part in parts) + (self._size(self.key(upload_id, ".part")) or 0)

    def append(self, upload_id: uuid.UUID, offset: int, chunks: Iterable[bytes]) -> int:
        """Whole parts go up as they fill. A full part starts uploading at once, beside the one
        still uploading; the next part starts filling when the older one is up, so the scratch
        disk holds at most two parts. Whatever is left, also when the chunks stop early, becomes
        the new tail object."""
        multipart = self._require_multipart(upload_id)
        first_number = next_number = len(self._parts(upload_id, multipart)) + 1
        tail_key = self.key(upload_id, ".part")
        old_tail = bool(self._size(tail_key))
        received = 0
        spool = self._scratch_file()
        in_flight: deque[Future] = deque()
        with ThreadPoolExecutor(max_workers=SCRATCH_PARTS, thread_name_prefix="s3-part") as uploader:
            try:
                if old_tail:
                    self._download(tail_key, spool)
                for chunk in chunks:
                    received += len(chunk)
                    rest = memoryview(chunk)
                    while rest:  # parts of exactly part_size (R2 wants them all equal but the last)
                        room = self.part_size - spool.tell()
                        spool.write(rest[:room])
                        rest = rest[room:]
                        if spool.tell() < self.part_size:
                            break
                        upload = self._upload_part
                        in_flight.append(uploader.submit(upload, upload_id, multipart, next_number, spool))
                        next_number += 1
                        while len(in_flight) >= SCRATCH_PARTS:
                            in_flight.popleft().result()
                        spool = self._scratch_file()
            finally:
                try:
                    while in_flight:
                        in_flight.popleft().result()
                    if old_tail and next_number > first_number:  # its bytes went up in the first part
                        self.s3.delete_object(Bucket=self.bucket, Key=tail_key)
                    if spool.tell():
                        spool.seek(0)
                        self.s3.put_object(Bucket=self.bucket, Key=tail_key, Body=spool)
                finally:
                    spool.close()
        return offset + received

    def concatenate(self, target_id: uuid.UUID, parts: list[tuple[uuid.UUID, int]]) -> None:
        """Copied inside the object store when every piece but the last can be a part and they
        are all the same size (R2 refuses unequal parts; tus clients split files evenly);
        otherwise streamed through this host, as tusd does."""
        multipart = self._require_multipart(target_id)
        lengths = {length for _, length in parts[:-1]}
        if len(lengths) <= 1 and min(lengths, default=MIN_PART_SIZE) >= MIN_PART_SIZE:
            for number, (part_id, length) in enumerate(parts, start=1):
                self.s3.upload_part_copy(
                    Bucket=self.bucket, Key=self.key(target_id), UploadId=multipart, PartNumber=number,
                    CopySource={"Bucket": self.bucket, "Key": self.key(part_id)},
                    CopySourceRange=f"bytes=0-{length - 1}",
                )  # fmt: skip
            return
        offset = 0
        for part_id, length in parts:
            offset = self.append(target_id, offset, self._read(self.key(part_id), length))

    def finish(self, upload_id: uuid.UUID) -> None:
        multipart = self._multipart(upload_id)
        if multipart is None:
            return  # finished before
        tail_key = self.key(upload_id, ".part")
        parts = self._parts(upload_id, multipart)
        if self._size(tail_key):
            copied = self.s3.upload_part_copy(
                Bucket=self.bucket, Key=self.key(upload_id), UploadId=multipart, PartNumber=len(parts) + 1,
                CopySource={"Bucket": self.bucket, "Key": tail_key},
            )  # fmt: skip
            parts.append({"PartNumber": len(parts) + 1, "ETag": copied["CopyPartResult"]["ETag"]})
        if parts:
            listing = [{"PartNumber": p["PartNumber"], "ETag": p["ETag"]} for p in parts]
            self.s3.complete_multipart_upload(
                Bucket=self.bucket, Key=self.key(upload_id), UploadId=multipart,
                MultipartUpload={"Parts": listing},
            )  # fmt: skip
        else:  # an empty upload: S3 cannot complete a multipart upload without parts
            self._abort(upload_id, multipart)
            self.s3.put_object(Bucket=self.bucket, Key=self.key(upload_id), Body=b"")
        for suffix in (".part", ".info"):
            self.s3.delete_object(Bucket=self.bucket, Key=self.key(upload_id, suffix))

    def local_file(self, upload_id: uuid.UUID) -> None:
        """Nothing of an upload is kept on a host."""

    def object_key(self, upload_id: uuid.UUID) -> ObjectKey:
        return ObjectKey(self.bucket, self.key(upload_id))

    def source(self, upload_id: uuid.UUID) -> str:
        """The finished object's presigned URL: probed in ranges, never copied to this host."""
        return self.s3.generate_presigned_url(
            "get_object", Params={"Bucket": self.bucket, "Key": self.key(upload_id)}, ExpiresIn=SOURCE_URL_S
        )

    def delete(self, upload_id: uuid.UUID) -> None:
        self.release(upload_id)
        self.s3.delete_object(Bucket=self.bucket, Key=self.key(upload_id))

    def release(self, upload_id: uuid.UUID) -> None:
        multipart = self._multipart(upload_id)
        if multipart is not None:
            self._abort(upload_id, multipart)
        for suffix in (".part", ".info"):
            self.s3.delete_object(Bucket=self.bucket, Key=self.key(upload_id, suffix))

    # -- S3 details --------------------------------------------------------------------------

    def _multipart(self, upload_id: uuid.UUID) -> str | None:
        try:
            body = self.s3.get_object(Bucket=self.bucket, Key=self.key(upload_id, ".info"))["Body"].read()
        except ClientError as exc:
            if is_missing(exc):
                return None
            raise
        return json.loads(body)["multipart"]

    def _require_multipart(self, upload_id: uuid.UUID) -> str:
        multipart = self._multipart(upload_id)
        if multipart is None:
            raise FileNotFoundError(f"upload {upload_id} has no multipart upload")
        return multipart

    def _parts(self, upload_id: uuid.UUID, multipart: str) -> list[dict]:
        parts: list[dict] = []
        marker = 0
        while True:
            page = self.s3.list_parts(
                Bucket=self.bucket, Key=self.key(upload_id), UploadId=multipart, PartNumberMarker=marker
            )
            parts += page.get("Parts", [])
            if not page.get("IsTruncated"):
                return parts
            marker = page["NextPartNumberMarker"]

    def _size(self, key: str) -> int | None:
        try:
            return self.s3.head_object(Bucket=self.bucket, Key=key)["ContentLength"]
        except ClientError as exc:
            if is_missing(exc):
                return None
            raise

    def _scratch_file(self) -> IO[bytes]:
        """Closed by whoever ends up with it: `_upload_part`, or `append` for the tail."""
        return tempfile.TemporaryFile(dir=self.scratch_dir)

    def _upload_part(self, upload_id: uuid.UUID, multipart: str, number: int, spool: IO[bytes]) -> None:
        """Upload a full scratch file as part `number`, then drop the file."""
        with spool:
            size = spool.tell()
            spool.seek(0)
            self.s3.upload_part(
                Bucket=self.bucket, Key=self.key(upload_id), UploadId=multipart, PartNumber=number,
                Body=spool, ContentLength=size,
            )  # fmt: skip

    def _download(self, key: str, target: IO[bytes]) -> None:
        body = self.s3.get_object(Bucket=self.bucket, Key=key)["Body"]
        shutil.copyfileobj(body, target, READ_BLOCK)

    def _read(self, key: str, length: int) -> Iterator[bytes]:
        if length == 0:
            return iter(())
        body = self.s3.get_object(Bucket=self.bucket, Key=key, Range=f"bytes=0-{length - 1}")["Body"]
        return iter(lambda: body.read(READ_BLOCK), b"")

    def _abort(self, upload_id: uuid.UUID, multipart: str) -> None:
        with contextlib.suppress(ClientError):  # aborted before
            self.s3.abort_multipart_upload(Bucket=self.bucket, Key=self.key(upload_id), UploadId=multipart)
