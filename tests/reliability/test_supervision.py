"""The whole system under `video-manager run`, and a worker alone, through Redis outages and killed
children: every fault costs a wait or a restart, never the system."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest
import requests

from processor.worker import JOB_MONITORING_INTERVAL_S
from tests.api import task_state, trim, upload, wait_task, wait_until
from tests.media import make_video
from tests.servers import PROJECT_ROOT, VIDEO_MANAGER, LiveServer, LiveWorker, cli_create_user, process_env
from video_manager.supervisor import EmbeddedRedis, free_port


def children_of(pid: int) -> dict[str, int]:
    """The direct children of `pid` by what they run: `redis-server`, `worker`, `serve`."""
    found: dict[str, int] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            command = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        parent = int(stat.rsplit(")", 1)[1].split()[1])
        if parent != pid:
            continue
        words = [word.decode(errors="replace") for word in command if word]
        if words and "redis-server" in words[0]:
            found["redis-server"] = int(entry.name)
        elif "worker" in words or "serve" in words:
            found["worker" if "worker" in words else "serve"] = int(entry.name)
    return found


@pytest.fixture(scope="module")
def long_clip(media_dir) -> Path:
    return make_video(media_dir / "supervised.mp4", seconds=20, size="1280x720", pattern="testsrc2")


@pytest.fixture
def system(tmp_path):
    """`video-manager run` with its embedded Redis, on a port of its own."""
    env = process_env(tmp_path, "")
    env.pop("VIDEO_MANAGER_REDIS_URL")
    port = free_port()
    env["VIDEO_MANAGER_SERVER_PORT"] = str(port)
    log = open(tmp_path / "run.log", "ab")  # noqa: SIM115  closed below
    process = subprocess.Popen(
        [*VIDEO_MANAGER, "run"], env=env, cwd=PROJECT_ROOT, start_new_session=True, stdout=log, stderr=log
    )
    server = LiveServer(env, port=port)
    wait_until(lambda: _healthy(server.url), 60, "the system answering")
    wait_until(lambda: len(children_of(process.pid)) == 3, 10, "redis-server, worker and server")
    try:
        yield process, server, env
    finally:
        process.terminate()
        try:
            process.wait(60)
        finally:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            log.close()


def _healthy(url: str) -> bool:
    try:
        return requests.get(f"{url}/health", timeout=5).status_code == 200
    except requests.RequestException:
        return False


def test_redis_killed_during_a_job_is_restarted_and_the_system_carries_on(system, long_clip):
    process, server, env = system
    token = cli_create_user(env, "blip")
    video = upload(server, token, long_clip)
    before = children_of(process.pid)
    task = trim(server, token, video["id"], start_time=0, end_time=20).json()
    wait_until(lambda: task_state(token, task)["status"] == "started", 60, "the trim started")
    os.kill(before["redis-server"], signal.SIGKILL)
    wait_until(
        lambda: (
            children_of(process.pid).get("redis-server", before["redis-server"]) != before["redis-server"]
        ),
        10,
        "a new redis-server",
    )
    assert wait_task(token, task, timeout_s=180)["status"] == "finished"
    wait_until(lambda: _healthy(server.url), 30, "healthy again")
    after = trim(server, token, video["id"], start_time=1, end_time=2, mode="fast").json()
    assert wait_task(token, after, timeout_s=60)["status"] == "finished"
    now = children_of(process.pid)
    assert (now["worker"], now["serve"]) == (before["worker"], before["serve"])
    assert process.poll() is None


@pytest.mark.parametrize("name", ["worker", "serve"])
def test_a_killed_child_is_started_again_within_five_seconds(system, sample_video, name):
    process, server, env = system
    before = children_of(process.pid)
    os.kill(before[name], signal.SIGKILL)
    killed_at = time.monotonic()
    wait_until(lambda: children_of(process.pid).get(name, before[name]) != before[name], 5, f"a new {name}")
    assert time.monotonic() - killed_at < 5
    wait_until(lambda: _healthy(server.url), 30, "healthy again")
    token = cli_create_user(env, f"after-{name}")
    video = upload(server, token, sample_video)
    task = trim(server, token, video["id"], start_time=0, end_time=1, mode="fast").json()
    assert wait_task(token, task, timeout_s=60)["status"] == "finished"
    assert process.poll() is None
    assert "starting it again" in (Path(env["VIDEO_MANAGER_STORAGE_DATA_DIR"]) / "run.log").read_text()


@pytest.mark.parametrize("outage", ["mid-job", "outlasting the job"])
def test_a_worker_rides_out_an_outage_during_its_job(tmp_path, long_clip, outage):
    """Redis goes while a job runs, and comes back while it still runs (the worker's heartbeats
    fail meanwhile) or only after it ended (its outcome went to the database): either way the
    worker keeps running and takes new work once Redis is back."""
    redis = EmbeddedRedis(tmp_path)
    redis.start()
    env = process_env(tmp_path, redis.url)
    server = LiveServer(env).start()
    worker = LiveWorker(env).start()
    try:
        token = cli_create_user(env, "outage")
        video = upload(server, token, long_clip)
        task = trim(server, token, video["id"], start_time=0, end_time=20).json()
        wait_until(lambda: task_state(token, task)["status"] == "started", 60, "the trim started")
        redis.stop()
        if outage == "mid-job":
            time.sleep(JOB_MONITORING_INTERVAL_S + 1)  # a heartbeat of the worker's falls in it
        else:
            wait_until(lambda: task_state(token, task)["status"] == "finished", 180, "the trim finished")
            time.sleep(3)
        redis.start()
        assert wait_task(token, task, timeout_s=180)["status"] == "finished"
        wait_until(lambda: _healthy(server.url), 30, "healthy again")
        after = trim(server, token, video["id"], start_time=1, end_time=2, mode="fast").json()
        assert wait_task(token, after, timeout_s=60)["status"] == "finished"
        assert worker.process.poll() is None
    finally:
        server.stop()
        worker.stop()
        redis.stop()
