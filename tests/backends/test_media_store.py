"""The contract every MediaStore passes, on local disk and in S3 (SeaweedFS). "Another host" is a
fresh handle with a cache of its own on the same storage: what one host made, every host serves."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from pathlib import Path

import pytest

from storage.backends.local_media import LocalMediaStore
from storage.backends.s3_media import S3MediaStore
from storage.stores import MediaStore

Host = Callable[[str], MediaStore]


@pytest.fixture(params=["local", "s3"])
def host(request, tmp_path) -> Host:
    """`host(name)`: that host's handle on the media (on local disk every host shares the disk)."""
    if request.param == "local":
        return lambda name: LocalMediaStore(tmp_path / "media")
    s3 = request.getfixturevalue("s3_service")
    prefix = f"test-{uuid.uuid4().hex[:8]}/"
    return lambda name: S3MediaStore(
        s3.client(), s3.bucket, prefix=prefix, cache=LocalMediaStore(tmp_path / name / "media")
    )


def put(store: MediaStore, video_id: uuid.UUID, name: str, content: bytes) -> Path:
    with store.staged(".jpg") as staged:
        staged.write_bytes(content)
        return store.put(video_id, name, staged)


def test_what_one_host_made_every_host_gets(host):
    video_id = uuid.uuid4()
    maker, other = host("a"), host("b")
    assert other.get(video_id, "poster.jpg") is None
    put(maker, video_id, "poster.jpg", b"picture")
    assert maker.get(video_id, "poster.jpg").read_bytes() == b"picture"
    assert other.get(video_id, "poster.jpg").read_bytes() == b"picture"
    assert video_id in other.video_ids()


def test_the_first_picture_made_stays(host):
    video_id = uuid.uuid4()
    store = host("a")
    put(store, video_id, "poster.jpg", b"first")
    put(store, video_id, "poster.jpg", b"second")
    assert store.get(video_id, "poster.jpg").read_bytes() == b"first"


def test_the_staged_name_goes_once_put(host):
    store = host("a")
    video_id = uuid.uuid4()
    with store.staged(".jpg") as staged:
        staged.write_bytes(b"picture")
        store.put(video_id, "poster.jpg", staged)
    assert not staged.exists()


def test_a_cached_file_is_served_by_the_host_that_made_it(host):
    video_id = uuid.uuid4()
    store = host("a")
    with store.staged(".jpg") as staged:
        staged.write_bytes(b"thumb")
        store.cache(video_id, "thumb-10.jpg", staged)
    assert store.get(video_id, "thumb-10.jpg").read_bytes() == b"thumb"


def test_files_a_program_wrote_into_the_folder_are_kept_once_announced(host):
    video_id = uuid.uuid4()
    maker = host("a")
    for name in ("hls.m3u8", "hls-00001.m4s"):
        target = maker.path(video_id, name)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(name.encode())
    maker.upload_made(video_id, maker.names(video_id, "hls"))
    assert maker.names(video_id, "hls") == ["hls-00001.m4s", "hls.m3u8"]
    assert host("b").get(video_id, "hls-00001.m4s").read_bytes() == b"hls-00001.m4s"


def test_removed_and_deleted_files_are_gone_for_every_host(host):
    video_id = uuid.uuid4()
    maker = host("a")
    put(maker, video_id, "poster.jpg", b"picture")
    put(maker, video_id, "storyboard.jpg", b"sprite")
    maker.remove(video_id, ["storyboard.jpg"])
    assert host("b").get(video_id, "storyboard.jpg") is None
    assert maker.get(video_id, "storyboard.jpg") is None
    maker.delete_all(video_id)
    assert host("c").get(video_id, "poster.jpg") is None
    assert maker.get(video_id, "poster.jpg") is None
    assert video_id not in host("d").video_ids()


@pytest.mark.parametrize("name", ["../poster.jpg", "a/b", "", "Poster.JPG", ".hidden"])
def test_names_are_ours_only(host, name):
    with pytest.raises(ValueError):
        host("a").path(uuid.uuid4(), name)
