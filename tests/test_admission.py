"""Who may upload: the operator's pre-create hook, a real HTTP receiver on loopback, and the
per-user quota, through every way of uploading."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests
from tusclient.client import TusClient
from tusclient.exceptions import TusCommunicationError

from tests.api import send_chunk
from tests.servers import LiveServer, auth, cli_create_user, process_env
from tests.tus import V, b64, create, new_upload, patch
from video_manager.supervisor import free_port

pytestmark = pytest.mark.e2e

HOOK_TIMEOUT_S = 1.0
OCTETS = "application/offset+octet-stream"


class Hook:
    """The operator's hook: refuses `forbidden*`, renames `rename-me*`, dawdles on `slow*`."""

    def __init__(self) -> None:
        self.questions: list[dict] = []
        hook = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                question = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                hook.questions.append(question)
                status, answer = hook.decide(question)
                body = json.dumps(answer).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *_args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/pre-create"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def decide(self, question: dict) -> tuple[int, dict]:
        filename = question["filename"]
        if filename.startswith("forbidden"):
            return 403, {"detail": "Files named forbidden stay out."}
        if filename.startswith("slow"):
            time.sleep(HOOK_TIMEOUT_S + 1)
        if filename.startswith("rename-me"):
            return 200, {"metadata": {"filename": "renamed.mp4", "note": "checked"}}
        return 200, {}

    def close(self) -> None:
        self.server.shutdown()


@pytest.fixture
def hooked(tmp_path, redis_server):
    hook = Hook()
    env = process_env(tmp_path, redis_server.url, hooks_pre_create_url=hook.url,
                      hooks_timeout_s=str(HOOK_TIMEOUT_S))  # fmt: skip
    server = LiveServer(env).start()
    try:
        yield server, hook, cli_create_user(env, "hooked"), tmp_path
    finally:
        server.stop()
        hook.close()


def stored_uploads(data_dir) -> list:
    return [p for p in (data_dir / "uploads").rglob("*") if p.is_file() and p.parent.name != "locks"]


def test_the_hook_refuses_by_name_with_its_own_status_and_nothing_is_kept(hooked, sample_video):
    server, hook, token, data_dir = hooked
    data = sample_video.read_bytes()
    refused = requests.post(  # creation-with-upload: the body is never kept either
        f"{server.url}/api/videos/chunked_upload/", data=data,
        headers={**auth(token), **V, "Upload-Length": str(len(data)), "Content-Type": OCTETS,
                 "Upload-Metadata": f"filename {b64('forbidden.mp4')}"},
        timeout=30,
    )  # fmt: skip
    assert refused.status_code == 403
    assert refused.json() == {"error": "upload_refused", "detail": "Files named forbidden stay out."}
    assert stored_uploads(data_dir) == []
    tuspy = TusClient(f"{server.url}/api/videos/chunked_upload/", headers=auth(token))
    with pytest.raises(TusCommunicationError) as caught:  # what a tus client sees on creation
        tuspy.uploader(str(sample_video), metadata={"filename": "forbidden-too.mp4"}).upload()
    assert caught.value.status_code == 403 and stored_uploads(data_dir) == []
    plain = requests.post(f"{server.url}/api/videos/upload/", headers=auth(token),
                          files={"file": ("forbidden.mp4", data)}, timeout=30)  # fmt: skip
    assert plain.status_code == 403 and plain.json()["error"] == "upload_refused"
    assert send_chunk(server, token, "forbidden-file.mp4", 1, [data]).status_code == 403
    assert requests.get(f"{server.url}/api/videos/", headers=auth(token)).json()["results"] == []
    asked = hook.questions[0]
    assert asked["user"] == "hooked" and asked["kind"] == "tus" and asked["size"] == len(data)
    assert asked["metadata"] == {"filename": "forbidden.mp4"}
    assert [q["kind"] for q in hook.questions] == ["tus", "tus", "plain", "chunk"]


def test_the_hook_can_change_the_metadata(hooked, sample_video):
    server, _hook, token, _ = hooked
    data = sample_video.read_bytes()
    url = new_upload(server.url, token, len(data), name="rename-me.mp4")
    head = requests.head(url, headers={**auth(token), **V}, timeout=30)
    assert f"filename {b64('renamed.mp4')}" in head.headers["Upload-Metadata"]
    assert f"note {b64('checked')}" in head.headers["Upload-Metadata"]
    assert patch(url, token, 0, data).status_code == 204
    video = requests.get(f"{server.url}/api/videos/{url.rsplit('/', 1)[1]}/", headers=auth(token)).json()
    assert video["name"] == "renamed.mp4"
    plain = requests.post(f"{server.url}/api/videos/upload/", headers=auth(token),
                          files={"file": ("rename-me-too.mp4", data)}, timeout=30)  # fmt: skip
    assert plain.status_code == 201 and plain.json()["name"] == "renamed.mp4"


def test_a_slow_or_dead_hook_refuses_and_creates_nothing(
    hooked, redis_server, tmp_path_factory, sample_video
):
    server, _hook, token, data_dir = hooked
    started = time.monotonic()
    slow = create(server.url, token, 100, **{"Upload-Metadata": f"filename {b64('slow.mp4')}"})
    assert slow.status_code == 503 and slow.json()["error"] == "hook_unavailable"
    assert time.monotonic() - started < HOOK_TIMEOUT_S + 1
    assert stored_uploads(data_dir) == []

    elsewhere = tmp_path_factory.mktemp("dead-hook")
    dead_url = f"http://127.0.0.1:{free_port()}/pre-create"  # nothing listens there
    env = process_env(elsewhere, redis_server.url, hooks_pre_create_url=dead_url)
    dead = LiveServer(env).start()
    try:
        other = cli_create_user(env, "unhooked")
        answer = create(dead.url, other, 100)
        assert answer.status_code == 503 and answer.json()["error"] == "hook_unavailable"
        plain = requests.post(f"{dead.url}/api/videos/upload/", headers=auth(other),
                              files={"file": ("a.mp4", sample_video.read_bytes())}, timeout=30)  # fmt: skip
        assert plain.status_code == 503
        assert requests.get(f"{dead.url}/api/videos/", headers=auth(other)).json()["results"] == []
        assert stored_uploads(elsewhere) == []
    finally:
        dead.stop()


def test_the_upload_that_would_cross_the_quota_gets_413_and_keeps_nothing(
    tmp_path, redis_server, sample_video
):
    data = sample_video.read_bytes()
    env = process_env(tmp_path, redis_server.url, limits_user_quota_bytes=str(len(data) * 3 // 2))
    server = LiveServer(env).start()
    try:
        token = cli_create_user(env, "frugal")
        url = new_upload(server.url, token, len(data))
        assert patch(url, token, 0, data).status_code == 204  # the first fits
        crossing = create(server.url, token, len(data))
        assert crossing.status_code == 413 and crossing.json()["error"] == "quota_exceeded"
        plain = requests.post(f"{server.url}/api/videos/upload/", headers=auth(token),
                              files={"file": ("b.mp4", data)}, timeout=30)  # fmt: skip
        assert plain.status_code == 413
        deferred = create(server.url, token, None, **{"Upload-Defer-Length": "1"})
        assert deferred.status_code == 201
        later = deferred.headers["Location"]
        crossed = patch(later, token, 0, data)
        assert crossed.status_code == 413
        assert requests.head(later, headers={**auth(token), **V}, timeout=30).status_code in (404, 410)
        assert len(stored_uploads(tmp_path)) == 0
        kept = requests.get(f"{server.url}/api/videos/", headers=auth(token)).json()["results"]
        assert [video["id"] for video in kept] == [url.rsplit("/", 1)[1]]
    finally:
        server.stop()
