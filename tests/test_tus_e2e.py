"""tus 1.0.0 end to end: raw HTTP for every status code, tuspy for whole uploads, real gunicorn."""

from __future__ import annotations

import base64
import hashlib
import http.client
import socket
import threading
import time
import uuid
import zlib
from datetime import datetime
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import requests
from tusclient import client as tus_client
from tusclient.storage.filestorage import FileStorage

from processor.maintenance import remove_expired
from storage.database import db
from storage.models import Upload
from tests.api import wait_until
from tests.media import make_video
from tests.servers import auth
from tests.tus import (
    ENDPOINT,
    OCTETS,
    V,
    b64,
    create,
    cut_patch,
    head,
    new_upload,
    open_patch,
    patch,
    settle_offset,
)


@pytest.fixture(scope="module")
def big_video(media_dir) -> Path:
    """A few MB, so a PATCH can be cut in the middle."""
    return make_video(media_dir / "big.mp4", seconds=8, size="640x480", pattern="testsrc2", gop=15)


@pytest.fixture
def user(make_user):
    return make_user()[2]


def download_sha256(server, token, video_id: str) -> str:
    response = requests.get(f"{server.url}/api/videos/{video_id}/download/", headers=auth(token), timeout=60)
    assert response.status_code == 200
    return hashlib.sha256(response.content).hexdigest()


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def video(server, token, video_id: str) -> dict:
    return requests.get(f"{server.url}/api/videos/{video_id}/", headers=auth(token), timeout=30).json()


# -- core ----------------------------------------------------------------------------------


def test_options_advertises_every_extension(live_server):
    response = requests.options(live_server.url + ENDPOINT)
    assert response.status_code == 204
    assert response.headers["Tus-Version"] == "1.0.0"
    assert set(response.headers["Tus-Extension"].split(",")) == {
        "creation",
        "creation-with-upload",
        "creation-defer-length",
        "termination",
        "expiration",
        "checksum",
        "checksum-trailer",
        "concatenation",
    }
    assert int(response.headers["Tus-Max-Size"]) > 0
    assert set(response.headers["Tus-Checksum-Algorithm"].split(",")) == {"sha1", "sha256", "md5", "crc32"}


def test_tus_resumable_is_required(live_server, user):
    missing = requests.post(live_server.url + ENDPOINT, headers={**auth(user), "Upload-Length": "10"})
    assert missing.status_code == 412 and missing.headers["Tus-Version"] == "1.0.0"
    wrong = create(live_server.url, user, 10, **{"Tus-Resumable": "0.2.2"})
    assert wrong.status_code == 412 and wrong.headers["Tus-Version"] == "1.0.0"
    url = create(live_server.url, user, 10).headers["Location"]
    assert requests.head(url, headers=auth(user)).status_code == 412


def test_auth_and_ownership(live_server, make_user):
    owner, other = make_user()[2], make_user()[2]
    assert requests.post(live_server.url + ENDPOINT, headers={**V, "Upload-Length": "5"}).status_code == 401
    url = create(live_server.url, owner, 5).headers["Location"]
    assert head(url, other).status_code == 404
    assert patch(url, other, 0, b"abcde").status_code == 404
    assert requests.delete(url, headers={**auth(other), **V}).status_code == 404
    assert head(url, owner).headers["Upload-Offset"] == "0"


def test_creation_rules(live_server, user):
    assert create(live_server.url, user).status_code == 400  # neither length nor defer
    both = create(live_server.url, user, 10, **{"Upload-Defer-Length": "1"})
    assert both.status_code == 400
    for bad in ["-1", "abc", "1e3", "99999999999999999999999"]:
        assert create(live_server.url, user, None, **{"Upload-Length": bad}).status_code == 400, bad
    too_big = create(live_server.url, user, 10**15)
    assert too_big.status_code == 413 and too_big.json()["error"] == "too_large"
    assert (
        create(live_server.url, user, 10, **{"Upload-Metadata": "filename !!!notbase64"}).status_code == 400
    )
    assert (
        create(live_server.url, user, 10, **{"Upload-Defer-Length": "2", "Upload-Length": ""}).status_code
        == 400
    )


def test_head_reports_offset_length_metadata(live_server, user):
    metadata = f"filename {b64('clip.mp4')},filetype {b64('video/mp4')},empty,uppy null"
    created = create(live_server.url, user, 100, **{"Upload-Metadata": metadata})
    assert created.status_code == 201
    assert "Upload-Expires" in created.headers
    url = created.headers["Location"]
    assert url.startswith(live_server.url + ENDPOINT) and uuid.UUID(url.rsplit("/", 1)[1])
    response = head(url, user)
    assert response.status_code == 200
    assert response.headers["Upload-Offset"] == "0"
    assert response.headers["Upload-Length"] == "100"
    assert response.headers["Upload-Metadata"] == metadata
    assert response.headers["Cache-Control"] == "no-store"
    assert response.headers["Tus-Resumable"] == "1.0.0"
    assert response.content == b""


def test_patch_status_codes(live_server, user):
    url = create(live_server.url, user, 10).headers["Location"]
    wrong_type = requests.patch(
        url, data=b"abc", headers={**auth(user), **V, "Upload-Offset": "0", "Content-Type": "text/plain"}
    )
    assert wrong_type.status_code == 415
    assert patch(url, user, 3, b"abc").status_code == 409
    missing_offset = requests.patch(url, data=b"abc", headers={**auth(user), **V, **OCTETS})
    assert missing_offset.status_code == 400
    assert patch(url, user, 0, b"x" * 11).status_code == 413
    ok = patch(url, user, 0, b"abc")
    assert ok.status_code == 204 and ok.headers["Upload-Offset"] == "3"
    assert "Upload-Expires" in ok.headers
    assert head(url, user).headers["Upload-Offset"] == "3"
    unknown = requests.patch(
        f"{live_server.url}{ENDPOINT}00000000-0000-0000-0000-000000000000",
        data=b"a",
        headers={**auth(user), **V, **OCTETS, "Upload-Offset": "0"},
    )
    assert unknown.status_code == 404 and set(unknown.json()) == {"error", "detail"}


def test_method_override(live_server, user):
    url = create(live_server.url, user, 4).headers["Location"]
    overridden = requests.post(
        url,
        data=b"abcd",
        headers={**auth(user), **V, **OCTETS, "Upload-Offset": "0", "X-HTTP-Method-Override": "PATCH"},
    )
    assert overridden.status_code == 204 and overridden.headers["Upload-Offset"] == "4"
    url2 = create(live_server.url, user, 4).headers["Location"]
    deleted = requests.post(url2, headers={**auth(user), **V, "X-HTTP-Method-Override": "DELETE"})
    assert deleted.status_code == 204
    assert head(url2, user).status_code == 404


# -- creation extensions ---------------------------------------------------------------------


def test_creation_with_upload_then_video_ready(live_server, user, sample_video):
    data = sample_video.read_bytes()
    response = requests.post(
        live_server.url + ENDPOINT,
        data=data[:1000],
        headers={
            **auth(user),
            **V,
            **OCTETS,
            "Upload-Length": str(len(data)),
            "Upload-Metadata": f"filename {b64('first.mp4')}",
        },
    )
    assert response.status_code == 201
    assert response.headers["Upload-Offset"] == "1000"
    url = response.headers["Location"]
    assert patch(url, user, 1000, data[1000:]).status_code == 204
    video_id = url.rsplit("/", 1)[1]
    shown = video(live_server, user, video_id)
    assert shown["status"] == "ready" and shown["name"] == "first.mp4"
    assert shown["duration"] == pytest.approx(3.0, abs=0.05)
    assert download_sha256(live_server, user, video_id) == sha256(sample_video)
    # the finished upload still answers HEAD with its full offset
    assert head(url, user).headers["Upload-Offset"] == str(len(data))
    assert patch(url, user, len(data), b"more").status_code == 409  # complete: no offset accepts more


def test_defer_length(live_server, user, sample_video):
    data = sample_video.read_bytes()
    created = create(live_server.url, user, None, **{"Upload-Defer-Length": "1"})
    url = created.headers["Location"]
    assert head(url, user).headers["Upload-Defer-Length"] == "1"
    assert patch(url, user, 0, data[:500]).status_code == 204
    assert patch(url, user, 500, data[500:], **{"Upload-Length": "100"}).status_code == 400  # below offset
    assert patch(url, user, 500, data[500:], **{"Upload-Length": str(len(data))}).status_code == 204
    assert head(url, user).headers["Upload-Length"] == str(len(data))
    assert video(live_server, user, url.rsplit("/", 1)[1])["status"] == "ready"


def test_zero_length_completes_at_once_and_is_rejected(live_server, user):
    url = create(live_server.url, user, 0).headers["Location"]
    shown = video(live_server, user, url.rsplit("/", 1)[1])
    assert shown["status"] == "rejected" and shown["error"]


def test_non_video_upload_becomes_rejected_video(live_server, user, text_file, data_dir):
    data = text_file.read_bytes()
    url = create(live_server.url, user, len(data)).headers["Location"]
    assert patch(url, user, 0, data).status_code == 204
    video_id = url.rsplit("/", 1)[1]
    shown = video(live_server, user, video_id)
    assert shown["status"] == "rejected" and "video" in shown["error"]
    assert not (data_dir / "uploads" / video_id).exists()
    download = requests.get(f"{live_server.url}/api/videos/{video_id}/download/", headers=auth(user))
    assert download.status_code == 404


# -- termination and expiration -------------------------------------------------------------


def test_termination(live_server, user, data_dir):
    url = create(live_server.url, user, 10).headers["Location"]
    patch(url, user, 0, b"12345")
    upload_id = url.rsplit("/", 1)[1]
    assert (data_dir / "uploads" / upload_id).exists()
    assert requests.delete(url, headers={**auth(user), **V}).status_code == 204
    assert head(url, user).status_code == 404
    assert not (data_dir / "uploads" / upload_id).exists()


def test_expiration_and_cleanup(live_server, user, data_dir, config, database):
    url = create(live_server.url, user, 10).headers["Location"]
    patch(url, user, 0, b"12345")
    upload_id = url.rsplit("/", 1)[1]
    with db.connection_context():
        Upload.update(expires_at=datetime(2000, 1, 1)).where(Upload.id == upload_id).execute()
    assert head(url, user).status_code == 410
    assert patch(url, user, 5, b"67890").status_code == 410
    removed = remove_expired(config)
    assert removed["uploads"] >= 1
    assert head(url, user).status_code == 404
    assert not (data_dir / "uploads" / upload_id).exists()


# -- checksum ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("algorithm", "digest"),
    [
        ("sha1", lambda b: hashlib.sha1(b).digest()),
        ("sha256", lambda b: hashlib.sha256(b).digest()),
        ("md5", lambda b: hashlib.md5(b).digest()),
        ("crc32", lambda b: zlib.crc32(b).to_bytes(4, "big")),
    ],
)
def test_checksum_algorithms(live_server, user, algorithm, digest):
    url = create(live_server.url, user, 8).headers["Location"]
    good = base64.b64encode(digest(b"abcd")).decode()
    assert patch(url, user, 0, b"abcd", **{"Upload-Checksum": f"{algorithm} {good}"}).status_code == 204
    bad = base64.b64encode(digest(b"zzzz")).decode()
    mismatch = patch(url, user, 4, b"efgh", **{"Upload-Checksum": f"{algorithm} {bad}"})
    assert mismatch.status_code == 460 and mismatch.json()["error"] == "checksum_mismatch"
    assert head(url, user).headers["Upload-Offset"] == "4"


def test_unknown_checksum_algorithm_is_400(live_server, user):
    url = create(live_server.url, user, 8).headers["Location"]
    response = patch(url, user, 0, b"abcd", **{"Upload-Checksum": "sha512 AAAA"})
    assert response.status_code == 400 and response.json()["error"] == "unsupported_checksum"
    assert head(url, user).headers["Upload-Offset"] == "0"


def _chunked_patch_with_trailer(server, token, url: str, offset: int, body: bytes, trailer: str) -> int:
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    connection.putrequest("PATCH", url.split(str(server.port), 1)[1])
    for key, value in {
        **auth(token),
        **V,
        **OCTETS,
        "Upload-Offset": str(offset),
        "Transfer-Encoding": "chunked",
        "Trailer": "Upload-Checksum",
    }.items():
        connection.putheader(key, value)
    connection.endheaders()
    connection.send(f"{len(body):x}\r\n".encode() + body + b"\r\n")
    connection.send(f"0\r\nUpload-Checksum: {trailer}\r\n\r\n".encode())
    status = connection.getresponse().status
    connection.close()
    return status


def test_checksum_trailer(live_server, user):
    url = create(live_server.url, user, 8).headers["Location"]
    good = base64.b64encode(hashlib.sha1(b"abcd").digest()).decode()
    assert _chunked_patch_with_trailer(live_server, user, url, 0, b"abcd", f"sha1 {good}") == 204
    assert _chunked_patch_with_trailer(live_server, user, url, 4, b"efgh", f"sha1 {good}") == 460
    assert head(url, user).headers["Upload-Offset"] == "4"
    assert _chunked_patch_with_trailer(live_server, user, url, 4, b"efgh", "sha512 AAAA") == 400
    assert head(url, user).headers["Upload-Offset"] == "4"


# -- concatenation -------------------------------------------------------------------------------


def test_concatenation_of_three_parallel_partials(live_server, user, big_video):
    data = big_video.read_bytes()
    thirds = [data[: len(data) // 3], data[len(data) // 3 : 2 * len(data) // 3], data[2 * len(data) // 3 :]]
    urls: list[str | None] = [None, None, None]

    def send(index: int) -> None:
        created = create(live_server.url, user, len(thirds[index]), **{"Upload-Concat": "partial"})
        url = created.headers["Location"]
        assert patch(url, user, 0, thirds[index]).status_code == 204
        urls[index] = url

    threads = [threading.Thread(target=send, args=(i,)) for i in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert all(urls)
    assert head(urls[0], user).headers["Upload-Concat"] == "partial"
    concat = "final;" + " ".join(urls)  # absolute URLs, as tus-js-client sends them
    final = create(
        live_server.url,
        user,
        None,
        **{"Upload-Concat": concat, "Upload-Metadata": f"filename {b64('joined.mp4')}"},
    )
    assert final.status_code == 201, final.text
    final_url = final.headers["Location"]
    described = head(final_url, user)
    assert described.headers["Upload-Concat"] == concat
    assert described.headers["Upload-Offset"] == described.headers["Upload-Length"] == str(len(data))
    assert patch(final_url, user, 0, b"x").status_code == 403
    video_id = final_url.rsplit("/", 1)[1]
    assert video(live_server, user, video_id)["name"] == "joined.mp4"
    assert download_sha256(live_server, user, video_id) == sha256(big_video)


def test_concatenation_refuses_unfinished_foreign_and_malformed_parts(live_server, make_user):
    owner, other = make_user()[2], make_user()[2]
    unfinished = create(live_server.url, owner, 10, **{"Upload-Concat": "partial"}).headers["Location"]
    foreign = create(live_server.url, other, 1, **{"Upload-Concat": "partial"}).headers["Location"]
    patch(foreign, other, 0, b"x")
    not_partial = create(live_server.url, owner, 1).headers["Location"]
    finished = create(live_server.url, owner, 1, **{"Upload-Concat": "partial"}).headers["Location"]
    patch(finished, owner, 0, b"x")
    for parts in [
        unfinished,
        foreign,
        not_partial,
        "/elsewhere/123",
        "http://x/api/videos/chunked_upload/nope",
        " ".join([urlsplit(finished).path] * 110),  # one partial named again and again: a copy amplifier
        f"{finished} {finished}",
    ]:
        response = create(live_server.url, owner, None, **{"Upload-Concat": f"final;{parts}"})
        assert response.status_code == 400, parts
    assert create(live_server.url, owner, None, **{"Upload-Concat": "whatever"}).status_code == 400


# -- tuspy, resume and concurrency ---------------------------------------------------------------


def test_tuspy_whole_upload_with_checksums(live_server, user, big_video):
    client = tus_client.TusClient(live_server.url + ENDPOINT, headers=auth(user))
    uploader = client.uploader(
        str(big_video), chunk_size=1024 * 1024, upload_checksum=True, metadata={"filename": "tuspy.mp4"}
    )
    uploader.upload()
    video_id = uploader.url.rsplit("/", 1)[1]
    assert video(live_server, user, video_id)["status"] == "ready"
    assert download_sha256(live_server, user, video_id) == sha256(big_video)


def test_client_killed_mid_patch_resumes_with_tuspy(live_server, user, big_video, tmp_path):
    data = big_video.read_bytes()
    storage = FileStorage(str(tmp_path / "tus-urls.json"))
    client = tus_client.TusClient(live_server.url + ENDPOINT, headers=auth(user))
    url = new_upload(live_server.url, user, len(data), name="cut.mp4")
    sent = len(data) // 2
    cut_patch(live_server.port, url, user, 0, data[:sent], declared=len(data))
    offset = settle_offset(url, user, at_most=sent)
    assert offset == sent  # on loopback every byte sent before the cut arrives
    uploader = client.uploader(
        str(big_video), url=url, chunk_size=512 * 1024, store_url=True, url_storage=storage
    )
    assert uploader.get_offset() == offset
    uploader.upload()
    video_id = url.rsplit("/", 1)[1]
    assert download_sha256(live_server, user, video_id) == sha256(big_video)


def test_two_concurrent_patches_never_corrupt(live_server, user, big_video, data_dir):
    data = big_video.read_bytes()
    url = create(live_server.url, user, len(data)).headers["Location"]
    on_disk = data_dir / "uploads" / url.rsplit("/", 1)[1]
    statuses: dict[int, int] = {}

    def slow_patch(index: int) -> None:
        """Both PATCH from offset 0, sending the body in slices so they overlap in time."""
        sock = open_patch(live_server.port, url, user, 0, len(data))
        sock.settimeout(30)
        try:
            for start in range(0, len(data), 256 * 1024):
                sock.sendall(data[start : start + 256 * 1024])
                time.sleep(0.02)
        except OSError:  # the server stopped reading this body: its answer is already on the way
            pass
        statuses[index] = response_status(sock)
        sock.close()

    first = threading.Thread(target=slow_patch, args=(0,))
    first.start()
    wait_until(lambda: on_disk.stat().st_size > 0, 10, "the first PATCH's bytes on disk")
    second = threading.Thread(target=slow_patch, args=(1,))
    second.start()
    first.join()
    second.join()
    # The second asks the first to let go; by then the first has stored bytes, so the second's
    # offset 0 is stale: 409. The first was interrupted (400, or cut off while sending) or, if it
    # was quicker than the second's request, finished (204).
    assert statuses[1] == 409, statuses
    assert statuses[0] in (204, 400, 0), statuses
    offset = int(head(url, user).headers["Upload-Offset"])
    if offset < len(data):
        assert patch(url, user, offset, data[offset:]).status_code == 204
    video_id = url.rsplit("/", 1)[1]
    assert download_sha256(live_server, user, video_id) == sha256(big_video)


def response_status(sock: socket.socket) -> int:
    """The status code of the answer on a raw socket, 0 if the connection broke first."""
    answer = b""
    try:
        while b"\r\n" not in answer:
            piece = sock.recv(4096)
            if not piece:
                break
            answer += piece
    except OSError:
        pass
    parts = answer.split(b" ", 2)
    return int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else 0


def test_stale_patch_is_released_by_a_new_head(live_server, user, big_video):
    """A PATCH whose client went silent (half-open) must not block the reconnecting client."""
    data = big_video.read_bytes()
    url = create(live_server.url, user, len(data)).headers["Location"]
    path = url.split(str(live_server.port), 1)[1]
    sock = socket.create_connection(("127.0.0.1", live_server.port))
    sock.sendall(
        (
            f"PATCH {path} HTTP/1.1\r\nHost: x\r\nAuthorization: Token {user}\r\nTus-Resumable: 1.0.0\r\n"
            f"Content-Type: application/offset+octet-stream\r\nUpload-Offset: 0\r\n"
            f"Content-Length: {len(data)}\r\n\r\n"
        ).encode()
        + data[:100_000]
    )
    time.sleep(0.5)  # the old request now holds the lock and waits for bytes that never come
    started = time.monotonic()
    response = head(url, user)
    assert response.status_code == 200
    assert time.monotonic() - started < 3
    assert response.headers["Upload-Offset"] == "100000"
    assert patch(url, user, 100_000, data[100_000:]).status_code == 204
    sock.close()
    assert download_sha256(live_server, user, url.rsplit("/", 1)[1]) == sha256(big_video)


# -- the seed's chunk form -------------------------------------------------------------------------


def test_seed_chunk_form_any_order_duplicates_and_path_tricks(live_server, user, sample_video, data_dir):
    data = sample_video.read_bytes()
    size = len(data) // 4 + 1
    chunks = [data[i * size : (i + 1) * size] for i in range(4)]

    def send(number: int) -> requests.Response:
        return requests.post(
            live_server.url + ENDPOINT,
            headers=auth(user),
            data={
                "chunk_number": number,
                "total_chunks": 4,
                "file_id": "../../../etc/passwd",
                "file_name": "../../secret/../seed.mp4",
            },
            files={"chunk": ("blob", chunks[number - 1])},
            timeout=30,
        )

    first = send(3)
    assert first.status_code == 202 and first.json()["missing_chunks"] == 3
    assert send(3).json()["missing_chunks"] == 3  # duplicate is idempotent
    assert send(1).json()["missing"] == [2, 4]
    assert send(4).status_code == 202
    done = send(2)
    assert done.status_code == 201, done.text
    body = done.json()
    assert body["missing_chunks"] == 0 and body["video"]["name"] == "seed.mp4"
    assert download_sha256(live_server, user, body["video_id"]) == sha256(sample_video)
    assert not (data_dir.parent / "etc").exists()
    again = send(2)
    assert again.status_code == 200 and again.json()["video_id"] == body["video_id"]


def test_seed_chunk_form_rejects_bad_fields(live_server, user):
    def send(**fields) -> requests.Response:
        form = {"chunk_number": 1, "total_chunks": 2, "file_id": "f1", "file_name": "a.mp4", **fields}
        return requests.post(
            live_server.url + ENDPOINT,
            headers=auth(user),
            data=form,
            files={"chunk": ("blob", b"x")},
            timeout=30,
        )

    assert send(chunk_number=0).status_code == 400
    assert send(chunk_number=3).status_code == 400
    assert send(total_chunks="many").status_code == 400
    assert send(file_id="").status_code == 400
    assert send(file_id="f1").status_code == 202
    assert send(file_id="f1", total_chunks=5).status_code == 400  # changed total for the same file
