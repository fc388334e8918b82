"""Trim and merge end to end: gunicorn, a real RQ worker process, real ffmpeg on generated videos."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
import requests

from tests.api import merge, stored, task_state, trim, upload, wait_task, wait_until
from tests.media import make_video
from tests.probing import (
    copied_without_reencode,
    first_video_packet_is_keyframe,
    is_contiguous_sublist,
    stream_duration,
    video_packets,
)
from tests.servers import LiveServer, LiveWorker, auth, cli_create_user, process_env
from video_manager.supervisor import EmbeddedRedis

pytestmark = pytest.mark.e2e

FRAME = 1 / 30


@pytest.fixture(scope="module")
def five_seconds(media_dir) -> Path:
    return make_video(media_dir / "five.mp4", seconds=5, gop=30)


@pytest.fixture
def token(make_user) -> str:
    return make_user()[2]


def test_precise_trim_is_frame_accurate(live_server, live_worker, token, five_seconds, data_dir):
    source = upload(live_server, token, five_seconds)
    accepted = trim(live_server, token, source["id"], start_time=1.234, end_time="00:00:03.456")
    assert accepted.status_code == 202
    task = accepted.json()
    assert task["status"] == "queued" and task["kind"] == "trim"
    done = wait_task(token, task)
    assert done["status"] == "finished", done
    assert done["progress"] == 1.0 and done["started_at"] and done["ended_at"]
    result = requests.get(
        f"{live_server.url}/api/videos/{done['result']['video_id']}/", headers=auth(token)
    ).json()
    assert result["source"] == "trim" and result["status"] == "ready"
    video_seconds = stream_duration(stored(data_dir, result["id"]), "video")
    assert video_seconds == pytest.approx(2.222, abs=FRAME)
    assert result["duration"] == pytest.approx(2.222, abs=2 * FRAME)


def test_fast_trim_copies_packets_from_a_keyframe(live_server, live_worker, token, five_seconds, data_dir):
    source = upload(live_server, token, five_seconds)
    task = trim(live_server, token, source["id"], start_time=1.5, end_time=3.25, mode="fast").json()
    done = wait_task(token, task)
    assert done["status"] == "finished", done
    output = stored(data_dir, done["result"]["video_id"])
    assert first_video_packet_is_keyframe(output)
    copied = video_packets(output)
    original = video_packets(stored(data_dir, source["id"]))
    assert len(copied) >= int(1.75 * 30)
    assert is_contiguous_sublist(copied, original)  # byte-identical packets: nothing re-encoded


def test_merge_of_matching_clips_uses_stream_copy_and_keeps_order(live_server, live_worker, token, media_dir,
                                                                  data_dir):  # fmt: skip
    clips = [
        make_video(media_dir / f"m{i}.mp4", seconds=seconds, pattern=pattern)
        for i, (seconds, pattern) in enumerate([(1, "testsrc"), (2, "testsrc2"), (1.5, "smptebars")])
    ]
    uploaded = [upload(live_server, token, clip) for clip in clips]
    order = [uploaded[2]["id"], uploaded[0]["id"], uploaded[1]["id"], uploaded[0]["id"]]  # repeats allowed
    done = wait_task(token, merge(live_server, token, order).json())
    assert done["status"] == "finished", done
    output = stored(data_dir, done["result"]["video_id"])
    expected = [packet for video_id in order for packet in video_packets(stored(data_dir, video_id))]
    assert copied_without_reencode(video_packets(output), expected)  # stream copy, in the order given
    assert stream_duration(output, "video") == pytest.approx(1.5 + 1 + 2 + 1, abs=FRAME)


def test_merge_of_mixed_formats_normalises_and_keeps_audio(
    live_server, live_worker, token, media_dir, data_dir
):
    clips = [
        make_video(media_dir / "a.mp4", seconds=1.5, size="320x240", rate=30),
        make_video(media_dir / "b.mp4", seconds=2, size="640x360", rate=25, audio=False),
        make_video(media_dir / "c.mp4", seconds=1, size="240x320", rate=24),
    ]
    ids = [upload(live_server, token, clip)["id"] for clip in clips]
    done = wait_task(token, merge(live_server, token, ids).json())
    assert done["status"] == "finished", done
    result = requests.get(
        f"{live_server.url}/api/videos/{done['result']['video_id']}/", headers=auth(token)
    ).json()
    assert (result["width"], result["height"]) == (320, 240)
    assert result["audio_codec"] == "aac"
    output = stored(data_dir, result["id"])
    assert stream_duration(output, "video") == pytest.approx(4.5, abs=FRAME)
    assert stream_duration(output, "audio") == pytest.approx(4.5, abs=2 * FRAME)


def test_corrupt_input_fails_with_detail_and_no_video(
    live_server, live_worker, token, five_seconds, data_dir
):
    source = upload(live_server, token, five_seconds)
    path = stored(data_dir, source["id"])
    path.write_bytes(path.read_bytes()[:2000])  # the file on disk is damaged after upload
    before = requests.get(f"{live_server.url}/api/videos/", headers=auth(token)).json()["results"]
    done = wait_task(token, trim(live_server, token, source["id"], start_time=0, end_time=2).json())
    assert done["status"] == "failed"
    assert done["result"] is None
    assert done["error"]["error"] == "ffmpeg_failed"
    assert done["error"]["detail"] and str(data_dir) not in done["error"]["detail"]
    after = requests.get(f"{live_server.url}/api/videos/", headers=auth(token)).json()["results"]
    assert len(after) == len(before)


def test_progress_rises_during_a_long_job(live_server, live_worker, token, media_dir):
    # One GOP: no keyframe inside the window, so the whole window is re-encoded (not a smart cut).
    long_clip = make_video(media_dir / "long.mp4", seconds=40, size="640x360", pattern="testsrc2", gop=1200)
    source = upload(live_server, token, long_clip)
    task = trim(live_server, token, source["id"], start_time=0.5, end_time=39.5).json()
    seen = []
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        current = task_state(token, task)
        seen.append((current["status"], current["progress"]))
        if current["status"] in ("finished", "failed"):
            break
        time.sleep(0.05)
    assert seen[-1] == ("finished", 1.0)
    partial = [progress for status, progress in seen if status == "started" and 0 < progress < 1]
    assert partial, seen
    assert partial == sorted(partial)


def test_validation_errors(live_server, token, make_user, five_seconds):
    source = upload(live_server, token, five_seconds)
    for body in [
        {"start_time": 2, "end_time": 1},
        {"start_time": 1, "end_time": 1},
        {"start_time": 0, "end_time": 5.5},
        {"start_time": -1, "end_time": 2},
        {"start_time": "1:75", "end_time": 2},
        {"start_time": "soon", "end_time": 2},
        {"start_time": True, "end_time": 2},
        {"end_time": 2},
        {"start_time": 0, "end_time": 2, "mode": "turbo"},
        {"start_time": int("9" * 400), "end_time": 2},
        {"start_time": 0, "end_time": "9" * 400},
        {"start_time": 4.99, "end_time": 5.0},  # shorter than one frame (1/30 s): nothing to keep
        {"start_time": 4.99, "end_time": 5.0, "mode": "fast"},
    ]:
        response = trim(live_server, token, source["id"], **body)
        assert response.status_code == 400, body
        assert set(response.json()) == {"error", "detail"}
    url = f"{live_server.url}/api/videos/{source['id']}/trim/"
    raw = requests.post(url, headers=auth(token), data="{not json", timeout=10)
    assert raw.status_code in (400, 415) and set(raw.json()) == {"error", "detail"}
    assert merge(live_server, token, [source["id"]]).status_code == 400
    assert merge(live_server, token, ["not-a-uuid", source["id"]]).status_code == 400

    other = make_user()[2]
    assert trim(live_server, other, source["id"], start_time=0, end_time=1).status_code == 404
    assert merge(live_server, other, [source["id"], source["id"]]).status_code == 404
    unknown = "00000000-0000-0000-0000-000000000000"
    assert merge(live_server, token, [source["id"], unknown]).status_code == 404


def test_tasks_are_private(live_server, token, make_user, five_seconds):
    source = upload(live_server, token, five_seconds)
    task = trim(live_server, token, source["id"], start_time=0, end_time=1, mode="fast").json()
    other = make_user()[2]
    assert requests.get(task["status_url"], headers=auth(other)).status_code == 404
    assert requests.get(task["status_url"], headers=auth(token)).status_code == 200
    assert (
        requests.get(f"{live_server.url}/api/videos/tasks/nope/status/", headers=auth(token)).status_code
        == 404
    )


def test_redis_down_gives_503_and_creates_nothing(tmp_path, five_seconds):
    redis = EmbeddedRedis(tmp_path)
    redis.start()
    env = process_env(tmp_path, redis.url)
    server = LiveServer(env).start()
    try:
        token = cli_create_user(env, "r")
        video_id = upload(server, token, five_seconds)["id"]
        redis.stop()
        started = time.monotonic()
        response = trim(server, token, video_id, start_time=0, end_time=1)
        assert response.status_code == 503 and response.json()["error"] == "queue_unavailable"
        assert time.monotonic() - started < 5
        import sqlite3

        with sqlite3.connect(tmp_path / "video-manager.db") as connection:
            assert connection.execute("SELECT COUNT(*) FROM task").fetchone()[0] == 0
        assert (
            requests.get(f"{server.url}/api/videos/{video_id}/download/", headers=auth(token)).status_code
            == 200
        )
    finally:
        server.stop()
        redis.stop()


def test_worker_killed_mid_job_is_recovered(tmp_path, media_dir):
    """SIGKILL of the worker (with its work horse and ffmpeg): the task is retried by the next
    worker and finishes; no half-written video is ever listed."""
    # one keyframe, at 0: a trim from 0.5 s re-encodes its whole window (a smart cut, or a trim of
    # the whole file, which is a copy, would be over before the kill)
    clip = make_video(media_dir / "killme.mp4", seconds=30, size="1280x720", pattern="testsrc2", gop=1000)
    redis = EmbeddedRedis(tmp_path)
    redis.start()
    env = process_env(tmp_path, redis.url, jobs_heartbeat_timeout_s="2", jobs_retry_delay_s="0")
    server = LiveServer(env).start()
    worker = LiveWorker(env).start()
    try:
        token = cli_create_user(env, "k")
        source = upload(server, token, clip)
        task = trim(server, token, source["id"], start_time=0.5, end_time=30).json()
        wait_until(lambda: task_state(token, task)["progress"] > 0.05, 60, "progress past 5 %")
        worker.kill_hard()
        listed = requests.get(f"{server.url}/api/videos/", headers=auth(token)).json()["results"]
        assert [v["id"] for v in listed] == [source["id"]]
        assert task_state(token, task)["status"] == "started"
        replacement = LiveWorker(env).start()
        try:
            done = wait_task(token, task, timeout_s=120)
        finally:
            replacement.stop()
        assert done["status"] == "finished", done
        listed = requests.get(f"{server.url}/api/videos/", headers=auth(token)).json()["results"]
        assert len(listed) == 2 and all(v["status"] == "ready" for v in listed)
        assert not [p for p in (tmp_path / "tmp").iterdir() if p.name.startswith("stage-")]
    finally:
        server.stop()
        worker.stop()
        redis.stop()
