"""What an attacker and an unlucky operator found (issue 12), one test per finding."""

from __future__ import annotations

import contextlib
import http.server
import json
import os
import socket
import sqlite3
import subprocess
import threading
import time
import uuid
from datetime import timedelta
from pathlib import Path

import pytest
import requests

from processor import ffmpeg, jobs
from processor.maintenance import recover_lost_tasks, requeue_orphans
from processor.queue import job_queue
from processor.runner import FfmpegError, run_ffmpeg
from storage.backends.local_uploads import LocalUploadData
from storage.database import db
from storage.locks import locker_from_config
from storage.models import Task, TaskStatus, Upload, User, utcnow
from storage.names import MAX_NAME_LENGTH, fit_name
from storage.uploads import UploadStore
from tests.api import trim, upload, wait_task, wait_until
from tests.media import make_video
from tests.servers import LiveServer, auth, cli_create_user, process_env
from tests.tus import ENDPOINT, V, new_upload, offset, patch
from video_manager import binaries
from video_manager.redis_client import connect

pytestmark = pytest.mark.e2e


class CountingHandler(http.server.BaseHTTPRequestHandler):
    hits: list[str] = []

    def do_GET(self) -> None:
        CountingHandler.hits.append(self.path)
        self.send_response(404)
        self.end_headers()

    def log_message(self, *_args) -> None:
        pass


@pytest.fixture
def bait_server():
    """A loopback HTTP server that records every request a manifest makes ffmpeg send."""
    CountingHandler.hits = []
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), CountingHandler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def test_uploaded_manifests_are_refused_and_fetch_nothing(live_server, make_user, bait_server, sample_video):
    token = make_user()[2]
    dash = (
        '<?xml version="1.0"?><MPD xmlns="urn:mpeg:dash:schema:mpd:2011" type="static" '
        'mediaPresentationDuration="PT3S" minBufferTime="PT1S" '
        'profiles="urn:mpeg:dash:profile:isoff-on-demand:2011"><Period><AdaptationSet mimeType="video/mp4">'
        '<Representation id="1" bandwidth="1" width="320" height="240" codecs="avc1.64000d">'
        "<BaseURL>{}</BaseURL></Representation></AdaptationSet></Period></MPD>"
    )
    hls = "#EXTM3U\n#EXT-X-TARGETDURATION:3\n#EXTINF:3.0,\n{}\n#EXT-X-ENDLIST\n"
    for template, target in [
        (dash, f"{bait_server}/frag.mp4"),
        (dash, str(sample_video)),  # a server-local file
        (hls, f"{bait_server}/seg.ts"),
    ]:
        response = requests.post(
            f"{live_server.url}/api/videos/upload/",
            headers=auth(token),
            files={"file": ("dash.mp4", template.format(target).encode())},
            timeout=30,
        )
        assert response.status_code == 422 and response.json()["error"] == "invalid_video", response.text
    assert CountingHandler.hits == []


def test_ffmpeg_commands_never_read_through_a_manifest(tmp_path, bait_server, sample_video):
    """Even a manifest recorded as an mp4 (an old row) is opened by the mov demuxer only."""
    manifest = tmp_path / "old.mp4"
    manifest.write_text(f"#EXTM3U\n#EXTINF:3.0,\n{bait_server}/seg.ts\n#EXT-X-ENDLIST\n")
    source = ffmpeg.Source(path=manifest, media=_media(content_type="video/mp4"))
    with pytest.raises(FfmpegError):
        run_ffmpeg(
            ffmpeg.trim_fast(binaries.ffmpeg_path(), source, 0, 1, tmp_path / "o.mp4"),
            expected_duration=1, timeout_s=30, memory_limit_mb=1024,
        )  # fmt: skip
    assert CountingHandler.hits == []


def _media(**overrides):
    from processor.probe import MediaInfo

    values = dict(
        duration=3.0, width=320, height=240, video_codec="h264", audio_codec="aac", pix_fmt="yuv420p",
        frame_rate="30/1", sample_rate=48000, audio_channels=1, format_name="", content_type="video/mp4",
    )  # fmt: skip
    return MediaInfo(**{**values, **overrides})


def test_ffmpeg_over_its_memory_limit_fails_for_good(tmp_path):
    """A run our memory ceiling stops is `resource_limit`, not a transient failure to retry."""
    clip = make_video(tmp_path / "big.mp4", seconds=1, size="1920x1080")
    source = ffmpeg.Source(path=clip, media=_media(width=1920, height=1080))
    window = ffmpeg.Window(0, 1)
    command = ffmpeg.trim_precise(
        binaries.ffmpeg_path(), source, window, tmp_path / "o.mp4", ffmpeg.Encoding()
    )
    with pytest.raises(FfmpegError) as caught:
        run_ffmpeg(command, expected_duration=1, timeout_s=60, memory_limit_mb=120)
    assert caught.value.code in ("resource_limit", "ffmpeg_failed") and not caught.value.transient


def _grab_memory() -> int:
    bytearray(512 * 1024 * 1024)
    return 0


def _hang() -> int:
    time.sleep(60)
    return 0


def _echo_and_list_files() -> int:
    import sys

    print(sys.stdin.read().upper(), sorted(int(fd) for fd in os.listdir("/proc/self/fd")))
    return 3


def test_a_forked_pyav_helper_keeps_the_limits_of_a_spawned_one(tmp_path):
    """A child forked from the worker (no interpreter start-up) answers on its own pipes, holds
    none of the parent's other files, ends at its memory ceiling, is killed at its timeout and
    when it is never asked."""
    from video_manager.processes import ForkedTool

    with (
        open(tmp_path / "parent-only", "w") as parents_file,
        ForkedTool(_echo_and_list_files, memory_limit_bytes=0) as child,
    ):
        status, out, _ = child.answer(b"hello", timeout_s=30)
        parents_fd = parents_file.fileno()
    assert status == 3
    said, files = out.decode().split(" ", 1)
    assert said == "HELLO" and parents_fd not in json.loads(files)
    assert set(json.loads(files)) <= {0, 1, 2, 3}  # its pipes, and the listing's own
    with ForkedTool(_grab_memory, memory_limit_bytes=256 * 1024 * 1024) as child:
        status, _, err = child.answer(b"", timeout_s=30)
    assert status != 0 and b"MemoryError" in err
    started = time.monotonic()
    with ForkedTool(_hang, memory_limit_bytes=0) as child, pytest.raises(subprocess.TimeoutExpired):
        child.answer(b"", timeout_s=0.5)
    assert time.monotonic() - started < 5
    with pytest.raises(ChildProcessError):
        os.waitpid(child.pid, os.WNOHANG)  # reaped
    with ForkedTool(_hang, memory_limit_bytes=0) as unasked:
        pass
    with pytest.raises(ChildProcessError):
        os.waitpid(unasked.pid, os.WNOHANG)


def test_merge_never_takes_an_absurd_frame_rate_from_its_first_input():
    first = ffmpeg.Source(Path("/a"), _media(frame_rate="100000/1"))
    command = ffmpeg.merge_normalised("ffmpeg", [first, ffmpeg.Source(Path("/b"), _media())], Path("o"),
                                      ffmpeg.Encoding())  # fmt: skip
    assert "fps=120/1" in command[command.index("-filter_complex") + 1]


def test_a_silent_long_job_keeps_its_heartbeat_and_its_output(config, database, make_user, monkeypatch):
    """ffmpeg may print nothing for longer than the heartbeat timeout (a sparse-keyframe seek)."""
    import dataclasses

    quick = dataclasses.replace(config, jobs=dataclasses.replace(config.jobs, heartbeat_timeout_s=1))
    ctx = dataclasses.replace(jobs.JobContext.from_config(quick), task_id="")
    seen = {}

    def silent_work(ctx, owner_id, progress, **_params):
        with ctx.staged(".mp4") as staged:
            staged.write_bytes(b"output in progress")
            time.sleep(3.5)  # no progress at all, three heartbeat timeouts long
            seen["survived"] = staged.exists()
        raise jobs.JobInputError("done waiting")

    monkeypatch.setitem(jobs.WORK, "trim", silent_work)
    username = make_user()[0]
    with db.connection_context():
        owner = User.get(User.username == username)
        task = Task.create(owner=owner, kind="trim", params=json.dumps({}))
    ctx = dataclasses.replace(ctx, task_id=str(task.id))
    runner = threading.Thread(target=lambda: _run_in_db(ctx, str(task.id)))
    runner.start()
    queue = job_queue(quick, connect(quick))
    deadline = time.monotonic() + 3
    while time.monotonic() < deadline:
        recover_lost_tasks(quick, queue, ctx.announce)
        time.sleep(0.3)
    runner.join()
    assert seen["survived"]
    with db.connection_context():
        final = Task.get_by_id(task.id)
    assert final.status == TaskStatus.FAILED and final.attempt == 1 and final.error_code == "invalid_input"


def _run_in_db(ctx, task_id: str) -> None:
    with db.connection_context():
        jobs._run_task(ctx, task_id, requeue=lambda *_: None)


def test_queued_task_without_a_job_is_queued_again(config, database, make_user, live_worker, sample_video):
    """Redis lost the job (or a worker died between taking it and claiming the row)."""
    username = make_user()[0]
    with db.connection_context():
        owner = User.get(User.username == username)
        from processor.ingest import Ingestor

        video = Ingestor.from_config(config).ingest(
            _copy(sample_video, config),
            video_id=uuid.uuid4(),
            owner_id=owner.id,
            name="a.mp4",
            source="upload",
        )
        params = {"video_id": str(video.id), "start": 0.0, "end": 1.0, "mode": "fast"}
        long_ago = utcnow() - timedelta(minutes=5)
        task = Task.create(owner=owner, kind="trim", params=json.dumps(params), created_at=long_ago,
                           dispatched_at=long_ago)  # fmt: skip
    assert requeue_orphans(config, job_queue(config, connect(config))) >= 1

    def finished() -> bool:
        with db.connection_context():
            return Task.get_by_id(task.id).status == TaskStatus.FINISHED

    wait_until(finished, 60, "the orphaned task finishing")


def _copy(path: Path, config) -> Path:
    staged = config.data_dir / "tmp" / f"copy-{uuid.uuid4()}"
    staged.write_bytes(path.read_bytes())
    return staged


@pytest.fixture
def uploads_on_disk(config) -> LocalUploadData:
    return LocalUploadData(config.data_dir / "uploads")


def test_expiry_sweep_never_touches_a_held_upload(config, database, make_user, uploads_on_disk):
    store = UploadStore(uploads_on_disk, expiry_s=1, max_size=10**6, locks=locker_from_config(config))
    username = make_user()[0]
    with db.connection_context():
        owner = User.get(User.username == username)
        held = store.create(owner.id, length=10, metadata="", name="a")
        idle = store.create(owner.id, length=10, metadata="", name="b")
        Upload.update(expires_at=utcnow() - timedelta(seconds=5)).execute()
        with store.locks.hold(str(held.id)):
            assert store.remove_expired() >= 1
            assert Upload.get_or_none(Upload.id == held.id) is not None
            assert store.data.local_path(held.id).exists()
        assert Upload.get_or_none(Upload.id == idle.id) is None


def test_a_slow_patch_keeps_moving_its_expiry(config, database, make_user, uploads_on_disk):
    store = UploadStore(uploads_on_disk, expiry_s=2, max_size=10**6, locks=locker_from_config(config))
    username = make_user()[0]
    with db.connection_context():
        upload_row = store.create(User.get(User.username == username).id, length=10, metadata="", name="a")
        first_expiry = upload_row.expires_at

        def slow_body():
            for _ in range(5):
                time.sleep(0.6)
                yield b"xx"

        store.append(upload_row, 0, slow_body())
        assert Upload.get_by_id(upload_row.id).expires_at > first_expiry + timedelta(seconds=2)


def test_long_names_fit_the_column():
    stem = "x" * 300
    for suffix in (" [1.000-2.000].mp4", " + 3 more.mp4"):
        name = fit_name(stem, suffix)
        assert len(name) == MAX_NAME_LENGTH and name.endswith(suffix)
    assert fit_name("short", ".mp4") == "short.mp4"


def test_long_name_trim_finishes(live_server, live_worker, make_user, sample_video):
    """A 255-character name: the trim's output name is cut to fit (PostgreSQL refused it)."""
    token = make_user()[2]
    video = upload(live_server, token, sample_video, name="n" * 251 + ".mp4")
    done = wait_task(token, trim(live_server, token, video["id"], start_time=0.5, end_time=1.5).json())
    assert done["status"] == "finished", done
    result = requests.get(f"{live_server.url}/api/videos/{done['result']['video_id']}/", headers=auth(token))
    name = result.json()["name"]
    assert len(name) <= MAX_NAME_LENGTH and name.endswith("[0.500-1.500].mp4")


def test_http_server_errors_are_json(live_server):
    with socket.create_connection(("127.0.0.1", live_server.port), timeout=10) as sock:
        sock.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\nX-Bad: a\x01b\r\n\r\n")
        answer = _read_all(sock)
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 400") and b"application/json" in head
    assert set(json.loads(body)) == {"error", "detail"}


def test_a_refused_patch_is_answered_not_reset(live_server, make_user):
    """The client sends its whole 8 MiB chunk to a wrong offset and must read our 409."""
    token = make_user()[2]
    url = new_upload(live_server.url, token, 16 * 1024 * 1024)
    path = url.split(str(live_server.port), 1)[1]
    body = b"\0" * (8 * 1024 * 1024)
    with socket.create_connection(("127.0.0.1", live_server.port), timeout=20) as sock:
        sock.sendall(
            (f"PATCH {path} HTTP/1.1\r\nHost: x\r\nAuthorization: Token {token}\r\nTus-Resumable: 1.0.0\r\n"
             f"Content-Type: application/offset+octet-stream\r\nUpload-Offset: 5\r\n"
             f"Content-Length: {len(body)}\r\n\r\n").encode()
        )  # fmt: skip
        sock.sendall(body)  # a broken pipe here is what the client saw before
        answer = _read_all(sock, until=b"\r\n\r\n")
    assert answer.startswith(b"HTTP/1.1 409")


def _read_all(sock: socket.socket, until: bytes | None = None) -> bytes:
    data = b""
    while True:
        piece = sock.recv(65536)
        if not piece:
            return data
        data += piece
        if until and until in data:
            return data


@pytest.fixture
def tiny_disk(tmp_path):
    """A 4 MiB tmpfs as the data directory (needs root, as CI has); skipped where mount is refused."""
    mount_point = tmp_path / "tiny"
    mount_point.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(mount_point)],
                             capture_output=True)  # fmt: skip
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here: {mounted.stderr.decode().strip()}")
    yield mount_point
    subprocess.run(["umount", "-l", str(mount_point)], check=False)


def test_full_disk_is_507_and_leaves_nothing_half_done(tmp_path, tiny_disk, redis_server, sample_video):
    env = process_env(tiny_disk, redis_server.url, database_url=f"sqlite:///{tmp_path / 'db.sqlite'}")
    server = LiveServer(env).start()
    try:
        token = cli_create_user(env, "filler")
        too_big = sample_video.read_bytes() + os.urandom(6 * 1024 * 1024)
        plain = requests.post(f"{server.url}/api/videos/upload/", headers=auth(token),
                              files={"file": ("big.mp4", too_big)}, timeout=60)  # fmt: skip
        assert plain.status_code == 507 and plain.json()["error"] == "insufficient_storage", plain.text

        with_upload = requests.post(
            server.url + ENDPOINT, data=too_big, timeout=60,
            headers={**auth(token), **V, "Upload-Length": str(len(too_big)),
                     "Content-Type": "application/offset+octet-stream"},
        )  # fmt: skip
        assert with_upload.status_code == 507
        with contextlib.closing(sqlite3.connect(tmp_path / "db.sqlite")) as rows:
            # no row behind an upload whose URL the client never saw
            assert rows.execute("SELECT count(*) FROM upload").fetchone() == (0,)

        url = new_upload(server.url, token, len(too_big))
        patched = patch(url, token, 0, too_big)
        assert patched.status_code == 507
        kept = offset(url, token)
        assert 0 < kept < len(too_big)  # what reached the disk is kept for a resume
        health = requests.get(f"{server.url}/health", timeout=10)
        assert health.status_code == 503 and "disk" in health.json()["detail"]
    finally:
        server.stop()


def test_slow_clients_cost_connections_not_the_service(live_server, make_user, sample_video):
    """200 slow clients (half dribbling headers, half dribbling upload bodies) while /health and
    a small upload still answer: within 3 s or three times what they took just before with no
    slow client (the machine may be busy with other tests; a server the slow clients had taken
    would not answer at all)."""
    token = make_user()[2]

    def timed(call) -> float:
        started = time.monotonic()
        call()
        return time.monotonic() - started

    def health() -> None:
        assert requests.get(f"{live_server.url}/health", timeout=5).status_code == 200

    def small_upload() -> None:
        upload(live_server, token, sample_video)

    limits = {check: max(3.0, 3 * timed(check)) for check in (health, small_upload)}
    slow: list[socket.socket] = []
    try:
        for index in range(200):
            sock = socket.create_connection(("127.0.0.1", live_server.port), timeout=10)
            if index % 2:
                sock.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n")
            else:
                sock.sendall(
                    (f"POST /api/videos/upload/ HTTP/1.1\r\nHost: x\r\nAuthorization: Token {token}\r\n"
                     "Content-Type: multipart/form-data; boundary=b\r\nContent-Length: 10000000\r\n\r\n"
                     '--b\r\nContent-Disposition: form-data; name="file"; filename="a.mp4"\r\n\r\n').encode()
                )  # fmt: skip
            slow.append(sock)
        for _ in range(3):
            for index, sock in enumerate(slow):
                sock.sendall(b"X-Slow: 1\r\n" if index % 2 else b"\0" * 100)
            for check, limit in limits.items():
                assert timed(check) < limit, check.__name__
            time.sleep(0.5)
    finally:
        for sock in slow:
            sock.close()
