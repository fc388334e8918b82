"""The contract every UploadData backend passes (as tus-node-server's shared store tests): a new
backend is "make this suite pass", not "copy the handler tests"."""

from __future__ import annotations

import uuid

import pytest

from storage.backends.local_uploads import LocalUploadData
from storage.backends.s3_client import videos_prefix
from storage.backends.s3_uploads import MIN_PART_SIZE, S3UploadData
from storage.stores import UploadData
from tests.backends import read_where_ffmpeg_reads


@pytest.fixture(params=["local", "s3"])
def backend_factory(request, tmp_path):
    """Builds a fresh handle on the same storage each call (as a restarted process would)."""
    if request.param == "local":
        return lambda: LocalUploadData(tmp_path / "uploads")
    s3 = request.getfixturevalue("s3_service")
    prefix = f"test-{uuid.uuid4().hex[:8]}/"
    return lambda: S3UploadData(
        s3.client(), s3.bucket, prefix=prefix, part_size=MIN_PART_SIZE, scratch_dir=tmp_path / "scratch",
        objects_prefix=videos_prefix(prefix),
    )  # fmt: skip


@pytest.fixture
def data(backend_factory) -> UploadData:
    return backend_factory()


def stored(data: UploadData, upload_id: uuid.UUID) -> bytes:
    """The finished bytes, read where a prober reads them (a file, or the presigned URL)."""
    data.finish(upload_id)
    return read_where_ffmpeg_reads(data.source(upload_id), data.remote)


def test_a_new_upload_is_empty(data):
    upload_id = uuid.uuid4()
    data.create(upload_id)
    assert data.offset(upload_id) == 0
    assert stored(data, upload_id) == b""


def test_offsets_grow_and_survive_a_reopen(data, backend_factory):
    upload_id = uuid.uuid4()
    data.create(upload_id)
    assert data.append(upload_id, 0, [b"abc", b"def"]) == 6
    assert data.append(upload_id, 6, iter([b"gh"])) == 8
    reopened = backend_factory()
    assert reopened.offset(upload_id) == 8
    assert stored(reopened, upload_id) == b"abcdefgh"


def test_a_body_that_stops_early_keeps_what_arrived(data):
    upload_id = uuid.uuid4()
    data.create(upload_id)

    def dropped():
        yield b"12345"
        raise ConnectionResetError("the client went away")

    with pytest.raises(ConnectionResetError):
        data.append(upload_id, 0, dropped())
    assert data.offset(upload_id) == 5
    assert data.append(upload_id, 5, [b"678"]) == 8
    assert stored(data, upload_id) == b"12345678"


def test_concatenation_takes_each_part_in_order(data):
    first, second, final = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    for upload_id, body in ((first, b"hello "), (second, b"world")):
        data.create(upload_id)
        data.append(upload_id, 0, [body])
        data.finish(upload_id)
    data.create(final)
    data.concatenate(final, [(second, 5), (first, 6), (second, 5)])
    assert data.offset(final) == 16
    assert stored(data, final) == b"worldhello world"


def test_termination_removes_the_bytes(data):
    upload_id = uuid.uuid4()
    data.create(upload_id)
    data.append(upload_id, 0, [b"x" * 100])
    data.delete(upload_id)
    data.delete(upload_id)  # twice is fine
    assert data.offset(upload_id) == 0


def test_bodies_longer_than_a_part_are_stored_whole(data, backend_factory):
    """Several parts plus a tail, written by two requests and read back after a reopen."""
    upload_id = uuid.uuid4()
    data.create(upload_id)
    body = bytes(range(256)) * (12 * 1024 * 1024 // 256)  # 12 MiB: two 5 MiB parts and a tail
    first = len(body) // 3
    pieces = [body[i : i + 1024 * 1024] for i in range(0, first, 1024 * 1024)]
    assert data.append(upload_id, 0, pieces) == first
    assert backend_factory().offset(upload_id) == first
    rest = [body[i : i + 1024 * 1024] for i in range(first, len(body), 1024 * 1024)]
    assert data.append(upload_id, first, rest) == len(body)
    reopened = backend_factory()
    assert reopened.offset(upload_id) == len(body)
    assert stored(reopened, upload_id) == body


@pytest.mark.parametrize("second_extra", [0, 7], ids=["equal-pieces", "unequal-pieces"])
def test_large_pieces_concatenate(data, second_extra):
    """Equal pieces are copied inside an object store, unequal ones (R2 refuses unequal parts)
    pass through: the bytes are the same either way."""
    first, second, small, final = uuid.uuid4(), uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    bodies = {first: b"a" * (MIN_PART_SIZE + 10), second: b"b" * (MIN_PART_SIZE + 10 + second_extra),
              small: b"tail"}  # fmt: skip
    for upload_id, body in bodies.items():
        data.create(upload_id)
        data.append(upload_id, 0, [body])
        data.finish(upload_id)
    data.create(final)
    data.concatenate(final, [(upload_id, len(body)) for upload_id, body in bodies.items()])
    assert stored(data, final) == b"".join(bodies.values())


def test_s3_termination_leaves_no_objects_and_no_multipart_upload(s3_service, tmp_path):
    client = s3_service.client()
    data = S3UploadData(client, s3_service.bucket, prefix="terminate/", part_size=MIN_PART_SIZE,
                        scratch_dir=tmp_path, objects_prefix=videos_prefix("terminate/"))  # fmt: skip
    upload_id = uuid.uuid4()
    data.create(upload_id)
    data.append(upload_id, 0, [b"x" * (MIN_PART_SIZE + 5)])  # one part and a tail
    data.delete(upload_id)
    assert client.list_objects_v2(Bucket=s3_service.bucket, Prefix="terminate/").get("KeyCount", 0) == 0
    pending = client.list_multipart_uploads(Bucket=s3_service.bucket, Prefix="terminate/").get("Uploads")
    assert not pending


def test_s3_parts_are_all_the_same_size(s3_service, tmp_path):
    """R2 refuses multipart uploads whose parts (but the last) differ in size: chunks that do not
    line up with parts are split at exact part boundaries, also across requests."""
    client = s3_service.client()
    data = S3UploadData(client, s3_service.bucket, prefix="equal/", part_size=MIN_PART_SIZE,
                        scratch_dir=tmp_path, objects_prefix=videos_prefix("equal/"))  # fmt: skip
    upload_id = uuid.uuid4()
    data.create(upload_id)
    odd = b"z" * (3 * 1024 * 1024 + 1)
    offset = data.append(upload_id, 0, [odd, odd])  # one part and a tail
    offset = data.append(upload_id, offset, [odd, odd, odd])  # the tail and more: two more parts
    multipart = data._multipart(upload_id)
    sizes = [part["Size"] for part in data._parts(upload_id, multipart)]
    assert sizes == [MIN_PART_SIZE] * 3
    assert data.offset(upload_id) == offset == 5 * len(odd)
    data.delete(upload_id)
