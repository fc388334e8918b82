"""End to end over loopback: gunicorn server process, real redis-server, real ffprobe."""

from __future__ import annotations

import hashlib
import socket
import time
from pathlib import Path

import pytest
import requests

from tests.api import wait_until
from tests.servers import LiveServer, auth, cli_create_user, process_env
from video_manager.supervisor import EmbeddedRedis

pytestmark = pytest.mark.e2e


def upload(server: LiveServer, token: str, path: Path, name: str | None = None) -> requests.Response:
    with open(path, "rb") as handle:
        return requests.post(
            f"{server.url}/api/videos/upload/",
            headers=auth(token),
            files={"file": (name or path.name, handle, "video/mp4")},
            timeout=30,
        )


def files_under(directory: Path) -> set[Path]:
    return {p for p in directory.rglob("*") if p.is_file()}


def test_login_good_and_bad(live_server, make_user):
    username, password, _ = make_user()
    good = requests.post(
        f"{live_server.url}/api-token-auth/", json={"username": username, "password": password}
    )
    assert good.status_code == 200
    token = good.json()["token"]
    assert requests.get(f"{live_server.url}/api/videos/", headers=auth(token)).status_code == 200

    form = requests.post(
        f"{live_server.url}/api-token-auth/", data={"username": username, "password": password}
    )
    assert form.status_code == 200 and form.json()["token"] != token

    bad = requests.post(f"{live_server.url}/api-token-auth/", json={"username": username, "password": "nope"})
    assert bad.status_code == 400
    assert bad.json()["error"] == "invalid_credentials"
    missing = requests.post(f"{live_server.url}/api-token-auth/", json={"username": username})
    assert missing.status_code == 400 and set(missing.json()) == {"error", "detail"}


@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": "Token wrong"}, {"Authorization": "Bearer "}, {"Authorization": "Basic dTpw"}],
)
def test_401_without_or_with_wrong_token(live_server, headers):
    response = requests.get(f"{live_server.url}/api/videos/", headers=headers)
    assert response.status_code == 401
    assert response.json()["error"] == "unauthorized"


def test_upload_real_video_both_auth_schemes(live_server, make_user, sample_video):
    _, _, token = make_user()
    response = upload(live_server, token, sample_video, name="../../etc/passwd/holiday.mp4")
    assert response.status_code == 201, response.text
    video = response.json()
    assert video["name"] == "holiday.mp4"
    assert video["duration"] == pytest.approx(3.0, abs=0.05)
    assert (video["width"], video["height"]) == (320, 240)
    assert (video["video_codec"], video["audio_codec"]) == ("h264", "aac")
    assert video["size"] == sample_video.stat().st_size
    assert video["status"] == "ready" and video["source"] == "upload"
    bearer = requests.get(f"{live_server.url}/api/videos/{video['id']}/", headers=auth(token, "Bearer"))
    assert bearer.status_code == 200 and bearer.json()["id"] == video["id"]
    listed = requests.get(f"{live_server.url}/api/videos/", headers=auth(token)).json()["results"]
    assert [v["id"] for v in listed] == [video["id"]]


def test_text_file_renamed_mp4_is_rejected_and_nothing_kept(live_server, make_user, text_file, data_dir):
    _, _, token = make_user()
    before = files_under(data_dir / "videos") | files_under(data_dir / "tmp")
    response = upload(live_server, token, text_file)
    assert response.status_code == 422
    assert response.json()["error"] == "invalid_video"
    assert files_under(data_dir / "videos") | files_under(data_dir / "tmp") == before
    assert requests.get(f"{live_server.url}/api/videos/", headers=auth(token)).json()["results"] == []


def test_missing_file_field_is_400(live_server, make_user):
    _, _, token = make_user()
    response = requests.post(
        f"{live_server.url}/api/videos/upload/", headers=auth(token), files={"other": b"x"}
    )
    assert response.status_code == 400 and response.json()["error"] == "missing_file"


def test_upload_cut_short_by_the_client_leaves_nothing(live_server, make_user, sample_video, data_dir):
    """A multipart body whose client hangs up half way: no video, no temp file, server fine."""
    _, _, token = make_user()
    before = files_under(data_dir / "videos") | files_under(data_dir / "tmp")
    prefix = (
        b'--cut\r\nContent-Disposition: form-data; name="file"; filename="cut.mp4"\r\n'
        b"Content-Type: video/mp4\r\n\r\n"
    )
    host, port = live_server.url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port))) as connection:
        connection.sendall(
            b"POST /api/videos/upload/ HTTP/1.1\r\nHost: x\r\n"
            + f"Authorization: Token {token}\r\nContent-Length: {10 * 1024 * 1024}\r\n".encode()
            + b"Content-Type: multipart/form-data; boundary=cut\r\n\r\n"
            + prefix
            + sample_video.read_bytes()
        )
    wait_until(
        lambda: files_under(data_dir / "videos") | files_under(data_dir / "tmp") == before,
        10,
        "the cut upload's temp file removed",
    )
    assert requests.get(f"{live_server.url}/api/videos/", headers=auth(token)).json()["results"] == []
    assert upload(live_server, token, sample_video).status_code == 201


def test_isolation_between_users(live_server, make_user, sample_video):
    _, _, alice = make_user()
    _, _, bob = make_user()
    video_id = upload(live_server, alice, sample_video).json()["id"]
    for method, path in [
        ("GET", f"/api/videos/{video_id}/"),
        ("GET", f"/api/videos/{video_id}/download/"),
        ("DELETE", f"/api/videos/{video_id}/"),
    ]:
        response = requests.request(method, live_server.url + path, headers=auth(bob))
        assert response.status_code == 404, (method, path)
        assert response.json()["error"] == "not_found"
    assert requests.get(f"{live_server.url}/api/videos/", headers=auth(bob)).json()["results"] == []
    assert requests.get(f"{live_server.url}/api/videos/{video_id}/", headers=auth(alice)).status_code == 200


def test_unknown_and_malformed_ids_are_404(live_server, make_user):
    _, _, token = make_user()
    for path in ["/api/videos/00000000-0000-0000-0000-000000000000/", "/api/videos/not-a-uuid/", "/nowhere"]:
        response = requests.get(live_server.url + path, headers=auth(token))
        assert response.status_code == 404 and set(response.json()) == {"error", "detail"}


def test_range_download_matches_file_slice(live_server, make_user, sample_video):
    _, _, token = make_user()
    video_id = upload(live_server, token, sample_video).json()["id"]
    url = f"{live_server.url}/api/videos/{video_id}/download/"
    source = sample_video.read_bytes()

    whole = requests.get(url, headers=auth(token))
    assert whole.status_code == 200
    assert hashlib.sha256(whole.content).digest() == hashlib.sha256(source).digest()
    assert whole.headers["Accept-Ranges"] == "bytes"

    part = requests.get(url, headers={**auth(token), "Range": "bytes=100-1099"})
    assert part.status_code == 206
    assert part.content == source[100:1100]
    assert part.headers["Content-Range"] == f"bytes 100-1099/{len(source)}"

    tail = requests.get(url, headers={**auth(token), "Range": "bytes=-500"})
    assert tail.status_code == 206 and tail.content == source[-500:]

    beyond = requests.get(url, headers={**auth(token), "Range": f"bytes={len(source) + 10}-"})
    assert beyond.status_code == 416
    assert beyond.json()["error"] == "range_not_satisfiable"


def test_delete_removes_file(live_server, make_user, sample_video, data_dir):
    _, _, token = make_user()
    video_id = upload(live_server, token, sample_video).json()["id"]
    stored = data_dir / "videos" / video_id.replace("-", "")[:2] / video_id
    assert stored.is_file()
    assert (
        requests.delete(f"{live_server.url}/api/videos/{video_id}/", headers=auth(token)).status_code == 204
    )
    assert not stored.exists()
    assert requests.get(f"{live_server.url}/api/videos/{video_id}/", headers=auth(token)).status_code == 404


def test_oversize_upload_is_413_and_nothing_kept(tmp_path, redis_server, media_dir):
    env = process_env(tmp_path, redis_server.url, limits_max_upload_bytes="100000")
    server = LiveServer(env).start()
    try:
        token = cli_create_user(env, "big")
        big = media_dir / "big.bin"
        big.write_bytes(b"\0" * 300_000)
        response = requests.post(
            f"{server.url}/api/videos/upload/",
            headers=auth(token),
            files={"file": ("big.mp4", big.read_bytes())},
        )
        assert response.status_code == 413
        assert response.json()["error"] == "too_large"
        assert files_under(tmp_path / "videos") == set()
        assert files_under(tmp_path / "tmp") == set()
    finally:
        server.stop()


def test_health_ok_then_503_when_redis_stops(tmp_path, data_dir):
    own_redis = EmbeddedRedis(tmp_path)
    own_redis.start()
    server = LiveServer(process_env(data_dir, own_redis.url)).start()
    try:
        assert requests.get(f"{server.url}/health", timeout=5).status_code == 200
        own_redis.stop()
        started = time.monotonic()
        response = requests.get(f"{server.url}/health", timeout=10)
        assert response.status_code == 503
        assert response.json()["error"] == "unhealthy" and "redis" in response.json()["detail"]
        assert time.monotonic() - started < 5
    finally:
        server.stop()
        own_redis.stop()
