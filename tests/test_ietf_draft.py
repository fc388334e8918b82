"""The IETF resumable-upload draft at the tus endpoint, on the wire: every interop version we serve,
through a raw socket (which sees the 104 interim response that Python's clients hide)."""

from __future__ import annotations

import hashlib
import json
import socket
import time

import pytest
import requests

from server.tus.ietf import VERSIONS
from tests.api import wait_until
from tests.raw_http import exchange, request_head
from tests.servers import auth
from tests.tus import ENDPOINT, V

PROBLEMS = "https://iana.org/assignments/http-problem-types#"


def completion(version: str, complete: bool) -> dict[str, str]:
    if version == "3":
        return {"Upload-Incomplete": "?0" if complete else "?1"}
    return {"Upload-Complete": "?1" if complete else "?0"}


def said_complete(version: str, response) -> bool:
    if version == "3":
        return {"?0": True, "?1": False}[response.headers["upload-incomplete"]]
    return {"?1": True, "?0": False}[response.headers["upload-complete"]]


def draft(token: str, version: str, complete: bool, **extra: str) -> dict[str, str]:
    return {**auth(token), "Upload-Draft-Interop-Version": version, **completion(version, complete), **extra}


def appending(version: str) -> dict[str, str]:
    return {"Content-Type": "application/partial-upload"} if int(version) >= 6 else {}


def path_of(url: str) -> str:
    return "/" + url.split("/", 3)[3]


@pytest.fixture(scope="module")
def clip(media_dir) -> bytes:
    from tests.media import make_video

    return make_video(media_dir / "draft.mp4", seconds=4, size="640x360", pattern="testsrc2").read_bytes()


def offset_of(port: int, path: str, token: str, version: str) -> int:
    (answer,) = exchange(port, "HEAD", path, {**auth(token), "Upload-Draft-Interop-Version": version})
    assert answer.status == 204
    return int(answer.headers["upload-offset"])


@pytest.mark.parametrize("version", VERSIONS)
def test_an_upload_in_parts_with_a_cut_and_a_wrong_offset(live_server, make_user, clip, version):
    token = make_user()[2]
    port = live_server.port
    name = f"draft-v{version}.mp4"
    headers = draft(token, version, False, **{"Upload-Length": str(len(clip)),
                    "Content-Disposition": f'attachment; filename="{name}"'})  # fmt: skip
    interim, created = exchange(port, "POST", ENDPOINT, headers)
    assert interim.status == 104
    assert interim.headers["upload-draft-interop-version"] == version
    assert "max-size=" in interim.headers["upload-limit"]
    assert created.status == 201 and created.headers["location"] == interim.headers["location"]
    assert said_complete(version, created) is False and created.headers["upload-offset"] == "0"
    assert "tus-resumable" not in created.headers
    upload = path_of(created.headers["location"])

    (state,) = exchange(port, "HEAD", upload, {**auth(token), "Upload-Draft-Interop-Version": version})
    assert state.status == 204 and state.headers["upload-offset"] == "0"
    assert state.headers["upload-length"] == str(len(clip)) and state.headers["cache-control"] == "no-store"
    assert said_complete(version, state) is False and "upload-limit" in state.headers

    (wrong,) = exchange(port, "PATCH", upload, draft(token, version, False, **{"Upload-Offset": "5"},
                        **appending(version)), b"x" * 10)  # fmt: skip
    assert wrong.status == 409 and wrong.headers["upload-offset"] == "0"
    assert wrong.headers["content-type"] == "application/problem+json"
    problem = json.loads(wrong.body)
    assert problem["type"] == PROBLEMS + "mismatching-upload-offset"
    assert (problem["expected-offset"], problem["provided-offset"]) == (0, 5)
    assert problem["error"] == "offset_mismatch" and problem["detail"]

    # A PATCH cut off after a third of its body: what arrived stays, and HEAD says how much.
    third = len(clip) // 3
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        sock.sendall(request_head("PATCH", upload, {**draft(token, version, False, **{"Upload-Offset": "0"},
                     **appending(version)), "Content-Length": str(len(clip))}))  # fmt: skip
        sock.sendall(clip[:third])
    # The client is gone (a HEAD while it still held the PATCH would take the upload over and
    # drop what the server had not read yet): every byte it sent is read, kept and reported.
    wait_until(lambda: offset_of(port, upload, token, version) == third, 10, "the cut body's bytes")
    arrived = offset_of(port, upload, token, version)

    (done,) = exchange(port, "PATCH", upload, draft(token, version, True, **{"Upload-Offset": str(arrived)},
                       **appending(version)), clip[arrived:])  # fmt: skip
    assert done.status == 204 and said_complete(version, done) is True
    assert done.headers["upload-offset"] == str(len(clip))
    (final,) = exchange(port, "HEAD", upload, {**auth(token), "Upload-Draft-Interop-Version": version})
    assert said_complete(version, final) is True
    video_id = upload.rstrip("/").rsplit("/", 1)[1]
    video = requests.get(f"{live_server.url}/api/videos/{video_id}/", headers=auth(token)).json()
    assert video["status"] == "ready" and video["name"] == name
    stored = requests.get(video["download_url"], headers=auth(token)).content
    assert hashlib.sha256(stored).digest() == hashlib.sha256(clip).digest()


@pytest.mark.parametrize("version", VERSIONS)
def test_creation_with_the_whole_body_cancellation_and_strangers(live_server, make_user, clip, version):
    token, stranger = make_user()[2], make_user()[2]
    port = live_server.port
    interim, created = exchange(port, "POST", ENDPOINT, draft(token, version, True), clip)
    assert interim.status == 104 and created.status == 201
    assert said_complete(version, created) is True and created.headers["upload-length"] == str(len(clip))
    video_id = created.headers["location"].rstrip("/").rsplit("/", 1)[1]
    stored = requests.get(f"{live_server.url}/api/videos/{video_id}/download/", headers=auth(token)).content
    assert stored == clip

    _interim, pending = exchange(port, "POST", ENDPOINT, draft(token, version, False))
    upload = path_of(pending.headers["location"])
    interop = {"Upload-Draft-Interop-Version": version}
    for method in ("HEAD", "DELETE"):
        (foreign,) = exchange(port, method, upload, {**auth(stranger), **interop})
        assert foreign.status == 404, method
    (foreign,) = exchange(port, "PATCH", upload, draft(stranger, version, False, **{"Upload-Offset": "0"},
                          **appending(version)), b"abc")  # fmt: skip
    assert foreign.status == 404
    (cancelled,) = exchange(port, "DELETE", upload, {**auth(token), **interop})
    assert cancelled.status == 204
    (gone,) = exchange(port, "HEAD", upload, {**auth(token), **interop})
    assert gone.status == 404


def test_length_indications_must_agree_and_bodies_be_partial_uploads(live_server, make_user):
    token = make_user()[2]
    port = live_server.port
    (wrong,) = exchange(port, "POST", ENDPOINT, draft(token, "8", True, **{"Upload-Length": "99"}), b"abc")
    assert wrong.status == 400
    assert json.loads(wrong.body)["type"] == PROBLEMS + "inconsistent-upload-length"
    _interim, created = exchange(port, "POST", ENDPOINT, draft(token, "8", False, **{"Upload-Length": "10"}))
    upload = path_of(created.headers["location"])
    (short,) = exchange(port, "PATCH", upload, draft(token, "8", True, **{"Upload-Offset": "0"},
                        **appending("8")), b"abc")  # fmt: skip
    assert short.status == 400 and json.loads(short.body)["type"] == PROBLEMS + "inconsistent-upload-length"
    (untyped,) = exchange(port, "PATCH", upload, draft(token, "8", False, **{"Upload-Offset": "0"}), b"abc")
    assert untyped.status == 415
    (unknown,) = exchange(port, "POST", ENDPOINT, {**auth(token), "Upload-Draft-Interop-Version": "2",
                          "Upload-Complete": "?0"})  # fmt: skip
    assert unknown.status == 400 and json.loads(unknown.body)["error"] == "unsupported_interop_version"


def test_tus_and_the_draft_never_confuse_each_other(live_server, make_user, clip):
    """A request with Tus-Resumable is tus even if it names an interop version; the same upload
    answers each protocol in its own terms."""
    token = make_user()[2]
    port = live_server.port
    both = {**auth(token), **V, "Upload-Length": str(len(clip)), "Upload-Draft-Interop-Version": "8"}
    (created,) = exchange(port, "POST", ENDPOINT, both)
    assert created.status == 201 and created.headers["tus-resumable"] == "1.0.0"  # no 104: tus
    assert "upload-complete" not in created.headers
    upload = path_of(created.headers["location"])
    (as_draft,) = exchange(port, "HEAD", upload, {**auth(token), "Upload-Draft-Interop-Version": "8"})
    assert as_draft.status == 204 and as_draft.headers["upload-complete"] == "?0"
    assert "tus-resumable" not in as_draft.headers
    (as_tus,) = exchange(port, "HEAD", upload, {**auth(token), **V})
    assert (
        as_tus.status == 200
        and as_tus.headers["upload-offset"] == "0"
        and "upload-complete" not in as_tus.headers
    )
    (no_protocol,) = exchange(port, "HEAD", upload, auth(token))
    assert no_protocol.status == 412
    started = time.monotonic()
    (patched,) = exchange(port, "PATCH", upload, {**auth(token), **V, "Upload-Offset": "0",
                          "Content-Type": "application/offset+octet-stream"}, clip)  # fmt: skip
    assert patched.status == 204 and time.monotonic() - started < 30
    (finished,) = exchange(port, "HEAD", upload, {**auth(token), "Upload-Draft-Interop-Version": "8"})
    assert finished.headers["upload-complete"] == "?1"


def test_interim_responses_go_on_gunicorns_socket_before_anything_else():
    from server.interim import send_interim

    ours, theirs = socket.socketpair()
    with ours, theirs:
        environ = {"gunicorn.socket": ours, "SERVER_PROTOCOL": "HTTP/1.1"}
        assert send_interim(environ, 104, {"Location": "http://h/u/1", "Upload-Limit": "max-size=9"})
        assert theirs.recv(1024) == (
            b"HTTP/1.1 104 Upload Resumption Supported\r\n"
            b"Location: http://h/u/1\r\nUpload-Limit: max-size=9\r\n\r\n"
        )
        assert not send_interim({**environ, "SERVER_PROTOCOL": "HTTP/1.0"}, 104, {})  # 1.0 knows no 1xx
        assert not send_interim({"SERVER_PROTOCOL": "HTTP/1.1"}, 104, {})  # not gunicorn: skipped
        assert not send_interim(environ, 200, {})
        with pytest.raises(ValueError):
            send_interim(environ, 104, {"Location": "x\r\nSet-Cookie: a=b"})
