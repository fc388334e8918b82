"""Nothing is lost under faults: cut connections, killed servers and workers, Redis outages."""

from __future__ import annotations

import hashlib
import random
import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests

from tests.api import task_state, trim, upload, wait_task, wait_until
from tests.media import make_video
from tests.servers import LiveServer, LiveWorker, auth, cli_create_user, process_env
from tests.tus import cut_patch, new_upload, offset, open_patch, patch, settle_offset
from video_manager.supervisor import EmbeddedRedis

pytestmark = pytest.mark.e2e

UPLOADS = 100


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def stored_sha256(base_url: str, token: str, upload_url: str) -> str:
    video_id = upload_url.rsplit("/", 1)[1]
    response = requests.get(f"{base_url}/api/videos/{video_id}/download/", headers=auth(token), timeout=60)
    assert response.status_code == 200, response.text
    return sha256(response.content)


def stored_bytes(data_dir: Path, upload_url: str) -> int:
    """What an in-flight PATCH has written so far (read from disk: a HEAD would interrupt it)."""
    path = data_dir / "uploads" / upload_url.rsplit("/", 1)[1]
    return path.stat().st_size if path.exists() else 0


def accepts_connections(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
        return True
    except OSError:
        return False


@pytest.fixture(scope="module")
def base_clip(media_dir) -> bytes:
    return make_video(media_dir / "reliability.mp4", seconds=2).read_bytes()


def test_hundred_uploads_cut_at_random_bytes_all_resume_intact(live_server, make_user, base_clip):
    """Each file is a real video plus a random tail (random sizes); each upload is cut once at a
    random byte by closing the connection mid-PATCH, then resumed with HEAD + PATCH."""
    token = make_user()[2]
    rng = random.Random(20261125)
    files = [base_clip + rng.randbytes(rng.randrange(0, 400_000)) for _ in range(UPLOADS)]
    cuts = [rng.randrange(1, len(data)) for data in files]

    def one(index: int) -> bool:
        data, cut = files[index], cuts[index]
        url = new_upload(live_server.url, token, len(data), name=f"r{index}.mp4")
        cut_patch(live_server.port, url, token, 0, data[:cut], declared=len(data))
        resume_at = settle_offset(url, token, at_most=cut)
        assert patch(url, token, resume_at, data[resume_at:]).status_code == 204
        return stored_sha256(live_server.url, token, url) == sha256(data)

    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(one, range(UPLOADS)))
    assert results.count(True) == UPLOADS


def test_server_killed_mid_patch_then_restarted(tmp_path, redis_server, base_clip):
    env = process_env(tmp_path, redis_server.url)
    server = LiveServer(env).start()
    token = cli_create_user(env, "crash")
    data = base_clip + random.Random(1).randbytes(3_000_000)
    url = new_upload(server.url, token, len(data))
    sent = len(data) // 2
    sock = open_patch(server.port, url, token, 0, declared=len(data))
    sock.sendall(data[:sent])
    wait_until(lambda: stored_bytes(tmp_path, url) > 0, 10, "the first bytes on disk")
    server.kill_hard()  # SIGKILL to gunicorn's master and workers while the body is in flight
    sock.close()
    restarted = LiveServer(env, port=server.port).start()
    try:
        resume_at = offset(url, token)
        assert 0 < resume_at <= sent
        assert patch(url, token, resume_at, data[resume_at:]).status_code == 204
        assert stored_sha256(restarted.url, token, url) == sha256(data)
    finally:
        restarted.stop()


@pytest.mark.parametrize("locks", ["file", "redis"])
def test_twenty_concurrent_patches_across_two_server_processes(tmp_path, redis_server, base_clip, locks):
    env = process_env(tmp_path, redis_server.url, server_workers="1", locks_backend=locks)
    servers = [LiveServer(env).start(), LiveServer(env).start()]
    try:
        token = cli_create_user(env, "racer")
        data = base_clip + random.Random(2).randbytes(2_000_000)
        url = new_upload(servers[0].url, token, len(data))
        statuses: list[int] = []
        barrier = threading.Barrier(20)

        def attempt(index: int) -> None:
            server = servers[index % 2]
            target = url.replace(servers[0].url, server.url)
            barrier.wait()
            try:
                statuses.append(patch(target, token, 0, data).status_code)
            except requests.ConnectionError:
                statuses.append(0)

        threads = [threading.Thread(target=attempt, args=(i,)) for i in range(20)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert len(statuses) == 20
        assert statuses.count(204) <= 1
        assert set(statuses) <= {0, 204, 400, 409, 423}, statuses
        current = offset(url, token)
        if current < len(data):
            stored_prefix = (tmp_path / "uploads" / url.rsplit("/", 1)[1]).read_bytes()
            assert stored_prefix == data[:current]  # whatever is stored is the source, in order
            assert patch(url, token, current, data[current:]).status_code == 204
        assert stored_sha256(servers[1].url, token, url) == sha256(data)
    finally:
        for server in servers:
            server.stop()


def test_redis_outage_gives_quick_503s_keeps_uploads_and_recovers(tmp_path, base_clip):
    redis = EmbeddedRedis(tmp_path)
    redis.start()
    env = process_env(tmp_path, redis.url)
    server = LiveServer(env).start()
    worker = LiveWorker(env).start()
    try:
        token = cli_create_user(env, "outage")
        url = new_upload(server.url, token, len(base_clip))
        assert patch(url, token, 0, base_clip).status_code == 204
        video_id = url.rsplit("/", 1)[1]

        redis.stop()
        started = time.monotonic()
        assert requests.get(f"{server.url}/health", timeout=10).status_code == 503
        refused = trim(server, token, video_id, start_time=0, end_time=1)
        assert refused.status_code == 503 and refused.json()["error"] == "queue_unavailable"
        assert time.monotonic() - started < 5
        # Stored videos and new uploads do not need Redis.
        assert stored_sha256(server.url, token, url) == sha256(base_clip)
        second = new_upload(server.url, token, len(base_clip))
        assert patch(second, token, 0, base_clip).status_code == 204

        redis.start()  # same port: clients reconnect by themselves
        wait_until(
            lambda: requests.get(f"{server.url}/health", timeout=10).status_code == 200,
            30,
            "healthy again",
            interval_s=0.2,
        )
        task = trim(server, token, video_id, start_time=0, end_time=1, mode="fast").json()
        assert wait_task(token, task, timeout_s=90)["status"] == "finished"
    finally:
        server.stop()
        worker.stop()
        redis.stop()


def test_a_worker_started_while_redis_is_down_waits_for_it(tmp_path, base_clip):
    redis = EmbeddedRedis(tmp_path)
    redis.start()
    env = process_env(tmp_path, redis.url)
    server = LiveServer(env).start()
    token = cli_create_user(env, "early")
    video_id = new_upload(server.url, token, len(base_clip)).rsplit("/", 1)[1]
    assert patch(f"{server.url}/api/videos/chunked_upload/{video_id}", token, 0, base_clip).status_code == 204
    redis.stop()
    worker = LiveWorker(env).start()
    try:
        time.sleep(3)  # long enough to have given up, were it going to
        assert worker.process.poll() is None
        redis.start()  # same port
        wait_until(lambda: requests.get(f"{server.url}/health", timeout=10).status_code == 200, 30, "healthy")
        task = trim(server, token, video_id, start_time=0, end_time=1, mode="fast").json()
        assert wait_task(token, task, timeout_s=60)["status"] == "finished"
    finally:
        server.stop()
        worker.stop()
        redis.stop()


def test_worker_sigterm_lets_the_running_job_finish(tmp_path, redis_server, media_dir):
    # one keyframe: a trim from 0.5 s re-encodes for seconds (a whole-file trim is a quick copy)
    clip = make_video(media_dir / "graceful.mp4", seconds=20, size="960x540", pattern="testsrc2", gop=1000)
    env = process_env(tmp_path, redis_server.url)
    server = LiveServer(env).start()
    worker = LiveWorker(env).start()
    try:
        token = cli_create_user(env, "graceful")
        video = upload(server, token, clip)
        task = trim(server, token, video["id"], start_time=0.5, end_time=20).json()
        wait_until(lambda: task_state(token, task)["status"] == "started", 60, "task started")
        worker.process.terminate()  # warm shutdown: RQ finishes the current job first
        worker.process.wait(timeout=120)
        final = task_state(token, task)
        assert final["status"] == "finished", final
    finally:
        server.stop()
        worker.stop()


def test_server_sigterm_lets_an_inflight_patch_finish(tmp_path, redis_server, base_clip):
    env = process_env(tmp_path, redis_server.url)
    server = LiveServer(env).start()
    try:
        token = cli_create_user(env, "graceful-server")
        data = base_clip + random.Random(3).randbytes(2_000_000)
        url = new_upload(server.url, token, len(data))
        sock = open_patch(server.port, url, token, 0, declared=len(data))
        half = len(data) // 2
        sock.sendall(data[:half])
        wait_until(lambda: stored_bytes(tmp_path, url) == half, 10, "the first half on disk")
        server.process.terminate()  # gunicorn: stop accepting, finish what is in flight
        wait_until(lambda: not accepts_connections(server.port), 10, "the server closing its listener")
        sock.sendall(data[half:])
        reply = sock.recv(4096).decode(errors="replace")
        sock.close()
        assert reply.startswith("HTTP/1.1 204"), reply[:200]
        server.process.wait(timeout=30)
    finally:
        server.stop()
    restarted = LiveServer(env, port=server.port).start()
    try:
        assert offset(url, token) == len(data)
        assert stored_sha256(restarted.url, token, url) == sha256(data)
    finally:
        restarted.stop()


def test_redis_locks_release_a_stale_patch_across_servers(tmp_path, redis_server, base_clip):
    """With the Redis locker, a HEAD on one server makes a half-open PATCH on the other let go."""
    env = process_env(tmp_path, redis_server.url, server_workers="1", locks_backend="redis")
    servers = [LiveServer(env).start(), LiveServer(env).start()]
    try:
        token = cli_create_user(env, "reconnects")
        data = base_clip + random.Random(3).randbytes(1_000_000)
        url = new_upload(servers[0].url, token, len(data))
        sock = open_patch(servers[0].port, url, token, 0, declared=len(data))
        sock.sendall(data[:100_000])
        wait_until(lambda: stored_bytes(tmp_path, url) == 100_000, 10, "the first bytes on disk")
        other = url.replace(servers[0].url, servers[1].url)
        started = time.monotonic()
        assert offset(other, token) == 100_000
        assert time.monotonic() - started < 3
        assert patch(other, token, 100_000, data[100_000:]).status_code == 204
        sock.close()
        assert stored_sha256(servers[0].url, token, url) == sha256(data)
    finally:
        for server in servers:
            server.stop()


class ServerDied(BaseException):
    """Stands for a SIGKILL at that point of the request: nothing after it runs."""


def _dies_after_the_last_byte(monkeypatch) -> None:
    from server.tus import receiving

    def killed(upload, probe=None):
        raise ServerDied

    monkeypatch.setattr(receiving, "finish", killed)


def _dies_after_linking_the_video_file(monkeypatch) -> None:
    from processor.ingest import Ingestor

    def killed(self, data, upload_id, **fields):
        self.blobs.publish_upload(data, upload_id, upload_id)
        raise ServerDied

    monkeypatch.setattr(Ingestor, "accept_upload", killed)


@pytest.mark.parametrize("dies", [_dies_after_the_last_byte, _dies_after_linking_the_video_file])
@pytest.mark.parametrize("head", [{"Tus-Resumable": "1.0.0"}, {"Upload-Draft-Interop-Version": "6"}])
def test_an_upload_whose_server_died_before_finishing_it_is_finished_by_the_next_head(
    client, make_user, sample_video, monkeypatch, head, dies
):
    """The server died between storing the last byte and recording the video. The client's
    HEAD sees offset == length, which tus clients take as done: that HEAD makes the video."""
    token = make_user()[2]
    data = sample_video.read_bytes()
    tus = {**auth(token), "Tus-Resumable": "1.0.0"}
    created = client.post("/api/videos/chunked_upload/", headers={**tus, "Upload-Length": str(len(data))})
    url = created.headers["Location"]
    with monkeypatch.context() as dying:
        dies(dying)
        body = {**tus, "Upload-Offset": "0", "Content-Type": "application/offset+octet-stream"}
        with pytest.raises(ServerDied):
            client.patch(url, headers=body, data=data)
    video_id = url.rsplit("/", 1)[1]
    assert client.get(f"/api/videos/{video_id}/", headers=auth(token)).status_code == 404  # stranded
    state = client.head(url, headers={**auth(token), **head})
    assert state.status_code in (200, 204) and state.headers["Upload-Offset"] == str(len(data))
    video = client.get(f"/api/videos/{video_id}/", headers=auth(token))
    assert video.status_code == 200 and video.json["status"] == "ready", video.json
    download = client.get(f"/api/videos/{video_id}/download/", headers=auth(token))
    assert sha256(download.get_data()) == sha256(data)
