"""The quota holds however the bytes arrive: merges and trims, chunked bodies of deferred length
(tus and the IETF draft), partial uploads and their concatenation, parallel uploads."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
import requests

from processor import jobs
from processor.runner import FfmpegError
from storage import quota
from storage.database import db
from storage.models import User
from tests.api import merge, trim, upload, wait_task
from tests.servers import LiveServer, LiveWorker, auth, cli_create_user, process_env
from tests.tus import ENDPOINT, V

pytestmark = pytest.mark.e2e

QUOTA_CLIPS = 2.5  # the quota, in sizes of the test clip


@pytest.fixture(scope="module")
def limited(tmp_path_factory, redis_server, sample_video):
    """Server and worker with a quota of 2.5 clips."""
    size = sample_video.stat().st_size
    data_dir = tmp_path_factory.mktemp("quota")
    env = process_env(data_dir, redis_server.url, limits_user_quota_bytes=str(int(QUOTA_CLIPS * size)))
    server, worker = LiveServer(env).start(), LiveWorker(env).start()
    try:
        yield server, env, int(QUOTA_CLIPS * size)
    finally:
        server.stop()
        worker.stop()


def stored(server, token: str) -> int:
    videos = requests.get(f"{server.url}/api/videos/", headers=auth(token), timeout=30).json()["results"]
    return sum(video["size"] for video in videos if video["status"] == "ready")


def refused_for_quota(answer: requests.Response | httpx.Response) -> bool:
    return answer.status_code == 413 and answer.json()["error"] == "quota_exceeded"


def test_a_merge_past_the_quota_is_refused_and_stores_nothing(limited, sample_video):
    server, env, limit = limited
    token = cli_create_user(env, "merger")
    clip = upload(server, token, sample_video)
    assert refused_for_quota(merge(server, token, [clip["id"]] * 100))
    assert refused_for_quota(merge(server, token, [clip["id"]] * 2))  # 1 + 2 clips > 2.5
    short = trim(server, token, clip["id"], start_time=0, end_time=1, mode="fast").json()  # a third of it
    done = wait_task(token, short)
    assert done["status"] == "finished"
    assert refused_for_quota(merge(server, token, [clip["id"], done["result"]["video_id"]]))
    assert stored(server, token) <= limit


def test_a_running_tasks_output_is_held_against_the_quota(limited, sample_video):
    """Two trims queued at once: the second is refused, since the first one's output is held."""
    server, env, limit = limited
    token = cli_create_user(env, "trimmer")
    clip = upload(server, token, sample_video)
    first = trim(server, token, clip["id"], start_time=0, end_time=2.5, mode="fast")
    second = trim(server, token, clip["id"], start_time=0, end_time=2.5, mode="fast")
    assert first.status_code == 202 and refused_for_quota(second)
    assert wait_task(token, first.json())["status"] == "finished"
    assert stored(server, token) <= limit


def test_the_worker_refuses_an_output_bigger_than_the_room_left(database, make_user):
    """The estimate may be short (a re-encode can grow): the real size is checked at the end."""
    username = make_user()[0]
    with db.connection_context():
        owner = User.get(User.username == username)
        held = quota.reserve(owner.id, 100, 1000, purpose=quota.task_purpose("t1"))
        ctx = type("Ctx", (), {"config": type("C", (), {"limits": type("L", (), {"user_quota_bytes": 1000})}),
                               "task_id": "t1"})()  # fmt: skip
        jobs._hold_output(ctx, owner.id, 900)  # fits once the estimate is let go
        with pytest.raises(FfmpegError) as failed:
            jobs._hold_output(ctx, owner.id, 1001)
        assert failed.value.code == "quota_exceeded"
        quota.release(held)
        quota.release_for(quota.task_purpose("t1"))


def chunked(total: int, piece: int = 256 * 1024) -> Iterator[bytes]:
    block = b"\0" * piece
    for _ in range(total // piece):
        yield block


@pytest.mark.parametrize("protocol", ["tus", "ietf"])
def test_a_chunked_body_of_deferred_length_stops_at_the_quota(limited, protocol):
    server, env, _limit = limited
    token = cli_create_user(env, f"streamer-{protocol}")
    if protocol == "tus":
        made = requests.post(server.url + ENDPOINT, headers={**auth(token), **V, "Upload-Defer-Length": "1"})
        assert made.status_code == 201
        url = made.headers["Location"]
        answer = requests.patch(url, data=chunked(30 * 1024 * 1024), timeout=60, headers={
            **auth(token), **V, "Upload-Offset": "0", "Content-Type": "application/offset+octet-stream",
        })  # fmt: skip
    else:  # httpx: it skips the 104 interim answer (http.client would take it for the final one)
        answer = httpx.post(server.url + ENDPOINT, content=chunked(30 * 1024 * 1024), timeout=60, headers={
            **auth(token), "Upload-Draft-Interop-Version": "6", "Upload-Complete": "?1",
        })  # fmt: skip
        url = None
    assert refused_for_quota(answer), answer.text
    if url is not None:
        assert (
            requests.head(url, headers={**auth(token), **V}, timeout=10).status_code == 404
        )  # removed whole
    assert stored(server, token) == 0


def test_finished_partial_uploads_count_and_their_concatenation_too(limited, sample_video):
    server, env, _limit = limited
    token = cli_create_user(env, "concatenator")
    data = sample_video.read_bytes()

    def partial() -> requests.Response:
        return requests.post(server.url + ENDPOINT, timeout=30, headers={
            **auth(token), **V, "Upload-Length": str(len(data)), "Upload-Concat": "partial",
            "Content-Type": "application/offset+octet-stream",
        }, data=data)  # fmt: skip

    parts = [partial(), partial()]
    assert [part.status_code for part in parts] == [201, 201]
    assert refused_for_quota(partial())  # two finished partials are held: no room for a third
    final = requests.post(server.url + ENDPOINT, timeout=30, headers={
        **auth(token), **V, "Upload-Concat": "final;" + " ".join(part.headers["Location"] for part in parts),
        "Upload-Metadata": "filename " + base64.b64encode(b"joined.mp4").decode(),
    })  # fmt: skip
    assert refused_for_quota(final)  # two more clips' worth on top of the partials
    assert stored(server, token) == 0


def test_parallel_uploads_never_store_past_the_quota(limited, sample_video):
    server, env, limit = limited
    token = cli_create_user(env, "parallel")
    data = sample_video.read_bytes()

    def one(number: int) -> int:
        return requests.post(f"{server.url}/api/videos/upload/", headers=auth(token), timeout=60,
                             files={"file": (f"p{number}.mp4", data)}).status_code  # fmt: skip

    with ThreadPoolExecutor(max_workers=12) as pool:
        statuses = list(pool.map(one, range(12)))
    assert statuses.count(201) == int(QUOTA_CLIPS)  # as many as fit, and no more
    assert set(statuses) == {201, 413}
    assert stored(server, token) <= limit
