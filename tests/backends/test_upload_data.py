"""The contract every UploadData backend passes (as tus-node-server's shared store tests): a new
backend is "make this suite pass", not "copy the handler tests"."""

from __future__ import annotations

import uuid

import pytest

from storage.backends import UploadData
from storage.backends.local_uploads import LocalUploadData


@pytest.fixture(params=["local"])
def backend_factory(request, tmp_path):
    """Builds a fresh handle on the same storage each call (as a restarted process would)."""
    return lambda: LocalUploadData(tmp_path / "uploads")


@pytest.fixture
def data(backend_factory) -> UploadData:
    return backend_factory()


def test_a_new_upload_is_empty(data):
    upload_id = uuid.uuid4()
    data.create(upload_id)
    assert data.offset(upload_id) == 0
    assert list(data.read_range(upload_id, 0, 0)) == []


def test_offsets_grow_and_survive_a_reopen(data, backend_factory):
    upload_id = uuid.uuid4()
    data.create(upload_id)
    assert data.append(upload_id, 0, [b"abc", b"def"]) == 6
    assert data.append(upload_id, 6, iter([b"gh"])) == 8
    reopened = backend_factory()
    assert reopened.offset(upload_id) == 8
    assert b"".join(reopened.read_range(upload_id, 2, 7)) == b"cdefg"


def test_a_body_that_stops_early_keeps_what_arrived(data):
    upload_id = uuid.uuid4()
    data.create(upload_id)

    def dropped():
        yield b"12345"
        raise ConnectionResetError("the client went away")

    with pytest.raises(ConnectionResetError):
        data.append(upload_id, 0, dropped())
    assert data.offset(upload_id) == 5


def test_a_chunk_that_fails_its_checksum_is_cut_off_again(data):
    upload_id = uuid.uuid4()
    data.create(upload_id)
    data.append(upload_id, 0, [b"good"])
    data.append(upload_id, 4, [b"corrupt"])
    data.truncate(upload_id, 4)
    assert data.offset(upload_id) == 4
    assert data.append(upload_id, 4, [b"more"]) == 8
    assert b"".join(data.read_range(upload_id, 0, 8)) == b"goodmore"


def test_concatenation_takes_each_part_in_order(data):
    first, second, final = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    for upload_id, body in ((first, b"hello "), (second, b"world")):
        data.create(upload_id)
        data.append(upload_id, 0, [body])
    data.create(final)
    data.concatenate(final, [(second, 5), (first, 6), (second, 5)])
    assert data.offset(final) == 16
    assert b"".join(data.read_range(final, 0, 16)) == b"worldhello world"
    assert data.local_path(final).read_bytes() == b"worldhello world"


def test_termination_removes_the_bytes(data):
    upload_id = uuid.uuid4()
    data.create(upload_id)
    data.append(upload_id, 0, [b"x" * 100])
    data.delete(upload_id)
    data.delete(upload_id)  # twice is fine
    assert data.offset(upload_id) == 0
