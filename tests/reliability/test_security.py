"""Security checklist: path tricks in every name field, other users' ids everywhere, password
guessing limited, and no token or password in any log."""

from __future__ import annotations

import base64
import contextlib
import json
import os
import re
import socket
import sqlite3
import time
import uuid
from pathlib import Path

import pytest
import requests

from tests.api import share, trim, upload, wait_task
from tests.raw_http import read_responses, request_head
from tests.servers import LiveServer, LiveWorker, auth, cli_create_user, process_env
from tests.tus import ENDPOINT, V, new_upload, patch

pytestmark = pytest.mark.e2e

TRICKS = ["../../../../tmp/evil.mp4", "/etc/passwd", "..\\..\\windows\\win.ini", "a/../../b.mp4", "\x00x.mp4"]
UUID_NAME = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


def test_path_tricks_in_every_name_field_stay_display_names(live_server, make_user, sample_video, data_dir):
    token = make_user()[2]
    data = sample_video.read_bytes()
    names = []
    for trick in TRICKS:
        names.append(upload(live_server, token, data, name=trick)["name"])
        url = new_upload(live_server.url, token, len(data), name=trick)
        assert patch(url, token, 0, data).status_code == 204
        names.append(
            requests.get(
                f"{live_server.url}/api/videos/{url.rsplit('/', 1)[1]}/", headers=auth(token)
            ).json()["name"]
        )
        chunk = requests.post(
            live_server.url + ENDPOINT,
            headers=auth(token),
            timeout=30,
            data={"chunk_number": 1, "total_chunks": 1, "file_id": trick, "file_name": trick},
            files={"chunk": ("x", data)},
        )
        assert chunk.status_code == 201, chunk.text
        names.append(chunk.json()["video"]["name"])
    for name in names:
        assert "/" not in name and "\\" not in name and "\x00" not in name and not name.startswith(".")
    # On disk, every video is named by its UUID, inside data/videos/.
    for path in (data_dir / "videos").rglob("*"):
        assert path.is_dir() or UUID_NAME.match(path.name), path
    assert not list((data_dir.parent).glob("evil.mp4"))


def test_other_users_ids_are_404_everywhere(live_server, live_worker, make_user, sample_video):
    owner, intruder = make_user()[2], make_user()[2]
    data = sample_video.read_bytes()
    video_id = upload(live_server, owner, data)["id"]
    task = trim(live_server, owner, video_id, start_time=0, end_time=1, mode="fast").json()
    link = share(live_server, owner, video_id, 60).json()
    upload_url = new_upload(live_server.url, owner, 10)
    partial = requests.post(
        live_server.url + ENDPOINT,
        timeout=10,
        headers={**auth(owner), **V, "Upload-Length": "1", "Upload-Concat": "partial"},
    )
    patch(partial.headers["Location"], owner, 0, b"x")

    json_body = {"start_time": 0, "end_time": 1}
    attempts = [
        ("GET", f"/api/videos/{video_id}/", None),
        ("DELETE", f"/api/videos/{video_id}/", None),
        ("GET", f"/api/videos/{video_id}/download/", None),
        ("POST", f"/api/videos/{video_id}/trim/", json_body),
        ("POST", "/api/videos/merge/", {"video_ids": [video_id, video_id]}),
        ("POST", f"/api/videos/{video_id}/share/", {"expiry_time": 60}),
        ("GET", f"/api/videos/{video_id}/shares/", None),
        ("DELETE", f"/api/shares/{link['id']}/", None),
        ("GET", f"/api/videos/tasks/{task['task_id']}/status/", None),
    ]
    for method, path, body in attempts:
        response = requests.request(
            method, live_server.url + path, headers=auth(intruder), json=body, timeout=10
        )
        assert response.status_code == 404, (method, path, response.status_code)
        assert response.json()["error"] == "not_found"
    for method in ("HEAD", "DELETE"):
        assert requests.request(method, upload_url, headers={**auth(intruder), **V}).status_code == 404
    assert patch(upload_url, intruder, 0, b"0123456789").status_code == 404
    final = requests.post(
        live_server.url + ENDPOINT,
        timeout=10,
        headers={**auth(intruder), **V, "Upload-Concat": f"final;{partial.headers['Location']}"},
    )
    assert final.status_code == 400 and "does not exist" in final.json()["detail"]
    # Nothing the intruder did changed the owner's objects.
    assert requests.get(f"{live_server.url}/api/videos/{video_id}/", headers=auth(owner)).status_code == 200
    assert requests.get(link["url"], timeout=10).status_code == 200


def test_password_guessing_is_limited_per_address_and_user(client, make_user):
    """An attacker's failures hold the attacker back, never the user's own logins."""
    username, password, _ = make_user()
    bystander, bystander_password, _ = make_user()
    attacker, owner = {"REMOTE_ADDR": "203.0.113.9"}, {"REMOTE_ADDR": "198.51.100.7"}

    def login(user: str, secret: str, origin: dict):
        body = {"username": user, "password": secret}
        return client.post("/api-token-auth/", json=body, environ_base=origin)

    for _ in range(10):
        assert login(username, "guess", attacker).status_code == 400
    blocked = login(username, password, attacker)
    assert blocked.status_code == 429 and blocked.json["error"] == "too_many_attempts"
    assert int(blocked.headers["Retry-After"]) > 0
    assert login(username, password, owner).status_code == 200
    assert login(bystander, bystander_password, attacker).status_code == 200


def test_no_token_or_password_in_logs(tmp_path, redis_server, sample_video):
    env = process_env(tmp_path, redis_server.url, server_log_level="debug")
    log_path = tmp_path / "processes.log"
    server = LiveServer(env, log_path=log_path).start()
    worker = LiveWorker(env, log_path=log_path).start()
    password = f"pw-{uuid.uuid4().hex}"
    try:
        token = cli_create_user(env, "logged", password)
        login = requests.post(
            f"{server.url}/api-token-auth/", data={"username": "logged", "password": password}
        )
        second_token = login.json()["token"]
        video = upload(server, token, sample_video)
        task = trim(server, second_token, video["id"], start_time=0, end_time=1, mode="fast").json()
        share_url = share(server, token, video["id"], 60).json()["url"]
        requests.get(share_url, timeout=10)
        requests.get(f"{server.url}/api/videos/", headers=auth("wrong-" + token), timeout=10)
        assert wait_task(token, task, timeout_s=30)["status"] == "finished"
    except Exception:
        print(log_path.read_text(errors="replace")[-4000:])  # what the processes said, for the report
        raise
    finally:
        server.stop()
        worker.stop()
    logs = log_path.read_text(errors="replace")
    assert len(logs) > 200  # the processes did log (debug level)
    secrets = [
        password,
        token,
        second_token,
        share_url.rsplit("/", 1)[1],
        base64.b64encode(password.encode()).decode(),
    ]
    for secret in secrets:
        assert secret not in logs
    with contextlib.closing(sqlite3.connect(tmp_path / "video-manager.db")) as rows:
        (share_key,) = rows.execute("SELECT value FROM setting WHERE key = 'share-secret'").fetchone()
    assert share_key not in logs


def test_several_workers_run_each_job_exactly_once(tmp_path, redis_server, sample_video):
    env = process_env(tmp_path, redis_server.url)
    server = LiveServer(env).start()
    pool = [LiveWorker(env).start() for _ in range(2)]
    try:
        token = cli_create_user(env, "many")
        video = upload(server, token, sample_video)
        tasks = [
            trim(server, token, video["id"], start_time=0, end_time=1 + i / 10, mode="fast").json()
            for i in range(12)
        ]
        assert [wait_task(token, task)["status"] for task in tasks] == ["finished"] * len(tasks)
        with sqlite3.connect(tmp_path / "video-manager.db") as connection:
            attempts = [row[0] for row in connection.execute("SELECT attempt FROM task")]
            results = connection.execute("SELECT COUNT(*) FROM video WHERE source = 'trim'").fetchone()[0]
        assert attempts == [1] * len(tasks)  # every task claimed exactly once
        assert results == len(tasks)  # one result each, none lost, none doubled
    finally:
        server.stop()
        for worker in pool:
            worker.stop()


def _tree_rss_kib(root: int) -> int:
    total = 0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(entry.name) == root or int(fields[1]) == root:
            total += int(fields[21]) * os.sysconf("SC_PAGE_SIZE") // 1024
    return total


def test_a_huge_json_body_is_413_at_once_and_costs_no_memory(live_server):
    before = _tree_rss_kib(live_server.process.pid)
    declared = 512 * 1024 * 1024
    with socket.create_connection(("127.0.0.1", live_server.port), timeout=10) as sock:
        started = time.monotonic()
        sock.sendall(request_head("POST", "/api-token-auth/", {
            "Content-Type": "application/json", "Content-Length": str(declared),
        }) + b'{"username": "' + b"a" * 1024 * 1024)  # fmt: skip
        answer = read_responses(sock, "POST")[-1]
        elapsed = time.monotonic() - started
    assert answer.status == 413 and json.loads(answer.body)["error"] == "too_large"
    assert elapsed < 1.0
    assert _tree_rss_kib(live_server.process.pid) - before < 32 * 1024


def test_a_chunked_json_body_is_cut_off_at_the_limit(live_server, make_user):
    token = make_user()[2]
    with socket.create_connection(("127.0.0.1", live_server.port), timeout=10) as sock:
        sock.sendall(request_head("POST", "/api/webhooks/", {
            **auth(token), "Content-Type": "application/json", "Transfer-Encoding": "chunked",
        }))  # fmt: skip
        piece = b"a" * 65536
        with contextlib.suppress(OSError):  # the server may stop reading (and answer) at any point
            sock.sendall(b"%x\r\n" % (len(piece) + 9) + b'{"url": "' + piece + b"\r\n")
            for _ in range(64):  # 4 MiB more, far past the limit
                sock.sendall(b"%x\r\n" % len(piece) + piece + b"\r\n")
        answer = read_responses(sock, "POST")[-1]
    assert answer.status == 413


def test_made_up_methods_add_at_most_one_series(live_server):
    def series() -> set[str]:
        text = requests.get(f"{live_server.url}/metrics", timeout=30).text
        return {
            line.rsplit(" ", 1)[0]
            for line in text.splitlines()
            if line.startswith("videomanager_http_requests_total{")
        }

    series()  # the scrape's own series exists from now on
    before = series()
    for number in range(200):
        made_up = "X" + "".join(chr(ord("A") + int(digit)) for digit in str(number))  # XA, XB, ... XCAA
        answer = requests.request(made_up, f"{live_server.url}/api/videos/{number}/", timeout=10)
        assert answer.status_code < 500
    assert len(series() - before) <= 1
