"""The whole system under `video-manager run`, and a worker alone, through Redis outages and killed
children: every fault costs a wait or a restart, never the system."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from processor.worker import JOB_MONITORING_INTERVAL_S
from tests.api import task_state, trim, upload, wait_task, wait_until
from tests.media import make_video
from tests.servers import LiveServer, LiveSystem, LiveWorker, cli_create_user, process_env
from video_manager.supervisor import EmbeddedRedis

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def long_clip(media_dir) -> Path:
    """One keyframe, at 0: a trim from LONG_JOB_START re-encodes its whole window, seconds of
    work (a smart cut, or a trim of the whole file, which is a copy, is over in a moment)."""
    return make_video(media_dir / "supervised.mp4", seconds=20, size="960x540", pattern="testsrc2", gop=1000)


LONG_JOB_START = 0.5


@pytest.fixture
def system(tmp_path) -> Iterator[LiveSystem]:
    env = process_env(tmp_path, "")
    running = LiveSystem(env).start()
    try:
        yield running
    finally:
        running.stop()


def test_redis_killed_during_a_job_is_restarted_and_the_system_carries_on(system, long_clip):
    env, server = system.env, system
    token = cli_create_user(env, "blip")
    video = upload(server, token, long_clip)
    before = system.children()
    task = trim(server, token, video["id"], start_time=LONG_JOB_START, end_time=20).json()
    wait_until(lambda: task_state(token, task)["status"] == "started", 60, "the trim started")
    os.kill(before["redis-server"], signal.SIGKILL)
    wait_until(
        lambda: system.children().get("redis-server", before["redis-server"]) != before["redis-server"],
        10,
        "a new redis-server",
    )
    assert wait_task(token, task, timeout_s=180)["status"] == "finished"
    wait_until(server.healthy, 30, "healthy again")
    after = trim(server, token, video["id"], start_time=1, end_time=2, mode="fast").json()
    assert wait_task(token, after, timeout_s=60)["status"] == "finished"
    now = system.children()
    assert (now["worker"], now["serve"]) == (before["worker"], before["serve"])
    assert system.process.poll() is None


@pytest.mark.parametrize("name", ["worker", "serve"])
def test_a_killed_child_is_started_again_within_five_seconds(system, sample_video, name):
    env, server = system.env, system
    before = system.children()
    os.kill(before[name], signal.SIGKILL)
    killed_at = time.monotonic()
    wait_until(lambda: system.children().get(name, before[name]) != before[name], 5, f"a new {name}")
    assert time.monotonic() - killed_at < 5
    wait_until(server.healthy, 30, "healthy again")
    token = cli_create_user(env, f"after-{name}")
    video = upload(server, token, sample_video)
    task = trim(server, token, video["id"], start_time=0, end_time=1, mode="fast").json()
    assert wait_task(token, task, timeout_s=60)["status"] == "finished"
    assert system.process.poll() is None
    assert "starting it again" in system.log_path.read_text()


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
        task = trim(server, token, video["id"], start_time=LONG_JOB_START, end_time=20).json()
        wait_until(lambda: task_state(token, task)["status"] == "started", 60, "the trim started")
        redis.stop()
        if outage == "mid-job":
            time.sleep(JOB_MONITORING_INTERVAL_S + 1)  # a heartbeat of the worker's falls in it
        else:
            wait_until(lambda: task_state(token, task)["status"] == "finished", 180, "the trim finished")
            time.sleep(3)
        redis.start()
        assert wait_task(token, task, timeout_s=180)["status"] == "finished"
        wait_until(lambda: requests.get(f"{server.url}/health", timeout=5).status_code == 200, 30, "healthy")
        after = trim(server, token, video["id"], start_time=1, end_time=2, mode="fast").json()
        assert wait_task(token, after, timeout_s=60)["status"] == "finished"
        assert worker.process.poll() is None
    finally:
        server.stop()
        worker.stop()
        redis.stop()


def _descendants(pid: int) -> set[int]:
    """Every process below `pid`, read from /proc's children lists."""
    found, todo = set(), [pid]
    while todo:
        for task in Path(f"/proc/{todo.pop()}/task").glob("*/children"):
            try:
                children = {int(child) for child in task.read_text().split()}
            except OSError:  # it ended while we looked
                continue
            found |= children
            todo.extend(children)
    return found


def _running(pid: int) -> bool:
    """Alive and not a zombie waiting for whoever adopted it to reap it."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def test_a_sigkilled_worker_leaves_no_helper_process_behind(tmp_path, redis_server):
    """Its maintenance and webhook-delivery processes, multiprocessing's resource tracker and RQ's
    scheduler end with it, as they do under `video-manager run`, whose supervisor ends the group."""
    worker = LiveWorker(process_env(tmp_path, redis_server.url)).start()
    try:
        wait_until(lambda: len(_descendants(worker.process.pid)) == 4, 60, "the worker's helpers")
        helpers = _descendants(worker.process.pid)  # maintenance, deliveries, their tracker, RQ's scheduler
        os.kill(worker.process.pid, signal.SIGKILL)  # the worker alone, not its group
        worker.process.wait()
        wait_until(lambda: not any(map(_running, helpers)), 10, "the helpers ended")
    finally:
        worker.stop()
