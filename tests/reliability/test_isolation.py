"""One user never takes the system from the others: jobs are taken fairly across users, and
unfinished work per user has a ceiling (429 `too_many`)."""

from __future__ import annotations

import io
import time
import uuid

import pytest

from server import create_app
from storage.database import db
from tests.api import task_state, trim, upload, wait_task, wait_until
from tests.conftest import make_config
from tests.servers import LiveServer, LiveWorker, auth, cli_create_user, process_env
from tests.tus import ENDPOINT, V

pytestmark = pytest.mark.e2e

BACKLOG = 50


def ended_between(owner: str, tasks: list[dict], after: str, before: str) -> int:
    """How many of `tasks` ended between two of the server's timestamps (ISO 8601, UTC)."""
    ends = [task_state(owner, task).get("ended_at") for task in tasks]
    return sum(1 for end in ends if end is not None and after < end < before)


def test_another_users_trim_starts_within_seconds_behind_a_fifty_job_backlog(
    tmp_path, redis_server, sample_video
):
    env = process_env(tmp_path, redis_server.url)
    server = LiveServer(env).start()
    worker = LiveWorker(env).start()
    try:
        busy, other = cli_create_user(env, "batcher"), cli_create_user(env, "patient")
        source = upload(server, busy, sample_video)
        backlog = [trim(server, busy, source["id"], start_time=0, end_time=3).json() for _ in range(BACKLOG)]
        mine = upload(server, other, sample_video)
        wait_until(lambda: task_state(busy, backlog[0])["status"] != "queued", 60, "the backlog started")
        asked_at = time.monotonic()
        task = trim(server, other, mine["id"], start_time=0, end_time=1, mode="fast").json()
        wait_until(lambda: task_state(other, task)["status"] != "queued", 30, "the other user's trim started")
        waited = time.monotonic() - asked_at
        mine_ran = task_state(other, task)
        # Counted by the server's own clock: the backlog jobs that ended after the request came
        # and before it started (a count by polling fifty tasks would see later ones end too).
        overtaken_by = ended_between(busy, backlog, mine_ran["created_at"], mine_ran["started_at"])
        unfinished = sum(task_state(busy, t)["status"] not in ("finished", "failed") for t in backlog)
        print(f"started after {waited:.2f} s and {overtaken_by} backlog jobs, {unfinished} of it unfinished")
        # Its turn comes after the busy user's jobs already let in (`limits.user_jobs_in_flight`:
        # the running one and the queued one), and one that ended as the request came in,
        # however fast the machine is; the time is a bound for a machine that is not overloaded.
        assert overtaken_by <= make_config(tmp_path, redis_server.url).limits.user_jobs_in_flight + 1
        assert waited < 15.0
        assert unfinished > BACKLOG // 2  # it really was behind a backlog
        assert wait_task(other, task, timeout_s=30)["status"] == "finished"
        still = [t for t in backlog if task_state(busy, t)["status"] == "queued"]
        assert wait_task(busy, still[0], timeout_s=60)["status"] == "finished"  # the batch goes on, in turn
    finally:
        server.stop()
        worker.stop()


@pytest.fixture
def ceilings(data_dir, redis_server, database):
    """An app on the session's database with small per-user ceilings, queueing where no worker
    takes from (what is queued stays queued)."""
    config = make_config(
        data_dir, redis_server.url, limits_user_queued_tasks="3", limits_user_unfinished_uploads="2",
        limits_user_pending_renders="1", redis_queue=f"ceilings-{uuid.uuid4().hex}",
    )  # fmt: skip
    app = create_app(config)
    app.config["TESTING"] = True
    return app.test_client()


def _token(client, name: str) -> str:
    from storage import accounts

    with db.connection_context():
        return accounts.create_user(name, "a-long-password")[1]


def _upload(client, token: str, sample_video) -> dict:
    with open(sample_video, "rb") as data:
        answer = client.post("/api/videos/upload/", headers=auth(token), data={"file": (data, "a.mp4")})
    assert answer.status_code == 201, answer.json
    return answer.json


def test_unfinished_tasks_past_the_ceiling_are_429(ceilings, sample_video):
    token = _token(ceilings, "many-tasks")
    video = _upload(ceilings, token, sample_video)
    body = {"start_time": 0, "end_time": 1, "mode": "fast"}
    for _ in range(3):
        assert (
            ceilings.post(f"/api/videos/{video['id']}/trim/", headers=auth(token), json=body).status_code
            == 202
        )
    refused = ceilings.post(f"/api/videos/{video['id']}/trim/", headers=auth(token), json=body)
    assert refused.status_code == 429 and refused.json["error"] == "too_many"
    assert "limits.user_queued_tasks" in refused.json["detail"]
    other = _token(ceilings, "few-tasks")  # the ceiling is per user
    theirs = _upload(ceilings, other, sample_video)
    assert (
        ceilings.post(f"/api/videos/{theirs['id']}/trim/", headers=auth(other), json=body).status_code == 202
    )


def test_unfinished_uploads_past_the_ceiling_are_429(ceilings):
    token = _token(ceilings, "many-uploads")
    headers = {**auth(token), **V, "Upload-Length": "1000"}
    for _ in range(2):
        assert ceilings.post(ENDPOINT, headers=headers).status_code == 201
    refused = ceilings.post(ENDPOINT, headers=headers)
    assert refused.status_code == 429 and refused.json["error"] == "too_many"
    assert "limits.user_unfinished_uploads" in refused.json["detail"]
    form = {"chunk_number": "1", "total_chunks": "2", "file_id": "f", "file_name": "f.mp4"}
    chunk = ceilings.post(
        ENDPOINT, headers=auth(token), data={**form, "chunk": (io.BytesIO(b"x" * 10), "blob")}
    )
    assert chunk.status_code == 429  # the chunk form's files count too


def test_pending_renders_past_the_ceiling_are_429(ceilings, sample_video):
    token = _token(ceilings, "many-renders")
    first, second = _upload(ceilings, token, sample_video), _upload(ceilings, token, sample_video)
    assert ceilings.get(f"/api/videos/{first['id']}/storyboard.vtt", headers=auth(token)).status_code == 202
    again = ceilings.get(f"/api/videos/{first['id']}/storyboard.vtt", headers=auth(token))
    assert again.status_code == 202  # the same render asked for again is no new one
    refused = ceilings.get(f"/api/videos/{second['id']}/storyboard.vtt", headers=auth(token))
    assert refused.status_code == 429 and "limits.user_pending_renders" in refused.json["detail"]
    ladder = ceilings.get(f"/api/videos/{second['id']}/renditions/", headers=auth(token))
    assert ladder.status_code == 429  # a ladder is a render too
    # The player still plays: the file, without the ladder it could not start.
    playback = ceilings.get(f"/api/videos/{second['id']}/playback/", headers=auth(token))
    assert playback.status_code == 200 and playback.json["hls_url"] is None and playback.json["url"]
