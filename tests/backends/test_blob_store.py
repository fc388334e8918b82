"""The contract every BlobStore passes, on local disk and in S3 (SeaweedFS): a new backend is
"make this suite pass"."""

from __future__ import annotations

import uuid

import pytest
import requests

from storage.backends.local_blobs import LocalBlobStore
from storage.backends.local_uploads import LocalUploadData
from storage.backends.s3_blobs import S3BlobStore
from storage.backends.s3_client import videos_prefix
from storage.backends.s3_uploads import MIN_PART_SIZE, S3UploadData
from storage.scratch import Scratch
from storage.stores import BlobStore, UploadData
from tests.backends import read_where_ffmpeg_reads

BYTES = bytes(range(256)) * 40


@pytest.fixture(params=["local", "s3"])
def stores(request, tmp_path) -> tuple[BlobStore, UploadData]:
    """A blob store and the upload data it publishes from, on the same storage."""
    scratch = Scratch(tmp_path / "tmp")
    if request.param == "local":
        return LocalBlobStore(tmp_path / "videos", scratch), LocalUploadData(tmp_path / "uploads")
    s3 = request.getfixturevalue("s3_service")
    prefix = f"test-{uuid.uuid4().hex[:8]}/"
    blobs = S3BlobStore(s3.client(), s3.bucket, prefix=prefix, part_size=MIN_PART_SIZE, scratch=scratch)
    data = S3UploadData(
        s3.client(), s3.bucket, prefix=prefix, part_size=MIN_PART_SIZE, scratch_dir=tmp_path / "scratch",
        objects_prefix=videos_prefix(prefix),
    )  # fmt: skip
    return blobs, data


@pytest.fixture
def blobs(stores) -> BlobStore:
    return stores[0]


def published(blobs: BlobStore, content: bytes = BYTES) -> uuid.UUID:
    video_id = uuid.uuid4()
    with blobs.scratch.staged_path(".mp4") as staged:
        staged.write_bytes(content)
        blobs.publish(staged, video_id)
    return video_id


def read_source(blobs: BlobStore, video_id: uuid.UUID) -> bytes:
    """The bytes where ffmpeg reads them: a file, or the URL (then `remote` says so)."""
    return read_where_ffmpeg_reads(blobs.source(video_id), blobs.remote)


def test_a_published_video_is_whole_where_ffmpeg_reads_it(blobs):
    video_id = published(blobs)
    assert blobs.exists(video_id)
    assert blobs.size(video_id) == len(BYTES)
    assert read_source(blobs, video_id) == BYTES


def test_the_staged_name_goes_and_the_video_stays(blobs):
    video_id = uuid.uuid4()
    with blobs.scratch.staged_path(".mp4", tag="task-1") as staged:
        staged.write_bytes(BYTES)
        blobs.publish(staged, video_id)
    assert not staged.exists()
    assert list(blobs.scratch.dir.iterdir()) == []
    assert read_source(blobs, video_id) == BYTES


def test_ranges_are_read_as_http_asks_for_them(blobs):
    video_id = published(blobs)
    assert b"".join(blobs.read(video_id, 0, 0)) == BYTES[:1]
    assert b"".join(blobs.read(video_id, 100, 2099)) == BYTES[100:2100]
    assert b"".join(blobs.read(video_id, len(BYTES) - 5, len(BYTES) - 1)) == BYTES[-5:]


def test_a_missing_video_has_no_size_and_does_not_exist(blobs):
    missing = uuid.uuid4()
    assert not blobs.exists(missing)
    assert blobs.size(missing) is None


def test_deleting_twice_is_fine(blobs):
    video_id = published(blobs)
    blobs.delete_video(video_id)
    blobs.delete_video(video_id)
    assert not blobs.exists(video_id)
    assert blobs.size(video_id) is None


def test_a_finished_upload_becomes_the_video_and_a_rerun_changes_nothing(stores):
    blobs, data = stores
    upload_id = uuid.uuid4()
    data.create(upload_id)
    data.append(upload_id, 0, [BYTES[:1000], BYTES[1000:]])
    data.finish(upload_id)
    blobs.publish_upload(data, upload_id, upload_id)
    blobs.publish_upload(data, upload_id, upload_id)  # a run that died before recording the video
    assert read_source(blobs, upload_id) == BYTES
    data.release(upload_id)  # the upload is done with: the video keeps its bytes
    assert read_source(blobs, upload_id) == BYTES and blobs.size(upload_id) == len(BYTES)


def test_on_s3_an_upload_is_completed_as_its_video_so_publishing_copies_nothing(s3_service, tmp_path):
    """The multipart upload completes at the video's own key: its ETag is the multipart one
    (`-<parts>`), which an in-store copy would not keep."""
    client, prefix = s3_service.client(), f"adopt-{uuid.uuid4().hex[:8]}/"
    blobs = S3BlobStore(client, s3_service.bucket, prefix=prefix, part_size=MIN_PART_SIZE,
                        scratch=Scratch(tmp_path / "tmp"))  # fmt: skip
    data = S3UploadData(client, s3_service.bucket, prefix=prefix, part_size=MIN_PART_SIZE,
                        scratch_dir=tmp_path / "scratch", objects_prefix=videos_prefix(prefix))  # fmt: skip
    upload_id = uuid.uuid4()
    data.create(upload_id)
    data.append(upload_id, 0, [BYTES])
    data.finish(upload_id)
    completed = client.head_object(Bucket=s3_service.bucket, Key=blobs.key(upload_id))["ETag"]
    assert completed.strip('"').endswith("-1")
    blobs.publish_upload(data, upload_id, upload_id)
    data.release(upload_id)
    listed = client.list_objects_v2(Bucket=s3_service.bucket, Prefix=prefix).get("Contents", [])
    assert [item["Key"] for item in listed] == [blobs.key(upload_id)]  # no copy, no upload leftovers
    assert client.head_object(Bucket=s3_service.bucket, Key=blobs.key(upload_id))["ETag"] == completed
    other = uuid.uuid4()
    blobs.publish_upload(data, upload_id, other)  # another id (the chunk form's sessions): a copy
    assert read_source(blobs, other) == BYTES


def test_only_a_store_on_this_host_names_a_local_file(blobs):
    video_id = published(blobs)
    local = blobs.local_file(video_id)
    if blobs.remote:
        assert local is None
    else:
        assert local.read_bytes() == BYTES


def test_a_presigned_url_carries_the_name_and_type_where_the_store_has_urls(blobs):
    video_id = published(blobs)
    disposition = 'attachment; filename="clip.mp4"'
    url = blobs.presigned_url(video_id, expires_s=60, disposition=disposition, content_type="video/mp4")
    if not blobs.remote:
        assert url is None
        return
    response = requests.get(url, timeout=60)
    assert response.content == BYTES
    assert response.headers["Content-Disposition"] == disposition
    assert response.headers["Content-Type"] == "video/mp4"
