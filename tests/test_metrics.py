"""`/metrics` end to end: two gunicorn workers and an RQ worker count into one set of files, and
a scrape reports the sum, in Prometheus' text format."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from tests.api import trim, upload, wait_task
from tests.servers import LiveServer, LiveWorker, auth, cli_create_user, process_env
from tests.tus import new_upload, patch

pytestmark = pytest.mark.e2e

TUS_ROUTE = "/api/videos/chunked_upload/"


def scrape(server, **headers: str) -> dict[tuple[str, tuple], float]:
    """Every sample of a scrape, keyed by (name, sorted labels)."""
    response = requests.get(f"{server.url}/metrics", headers=headers, timeout=30)
    assert response.status_code == 200, response.text
    assert response.headers["Content-Type"].startswith("text/plain")
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }


def rise(before: dict, after: dict, name: str, **labels: str) -> float:
    key = (name, tuple(sorted(labels.items())))
    return after.get(key, 0.0) - before.get(key, 0.0)


def test_counters_rise_by_what_happened_across_processes(tmp_path, redis_server, sample_video):
    env = process_env(tmp_path, redis_server.url)  # two gunicorn workers
    server = LiveServer(env).start()
    worker = LiveWorker(env).start()
    try:
        token = cli_create_user(env, "counted")
        data = sample_video.read_bytes()
        before = scrape(server)
        for _ in range(3):
            url = new_upload(server.url, token, len(data))
            assert patch(url, token, 0, data).status_code == 204
        dropped = new_upload(server.url, token, len(data))
        assert requests.delete(dropped, headers={**auth(token), "Tus-Resumable": "1.0.0"}).status_code == 204
        video = upload(server, token, sample_video)
        done = wait_task(
            token, trim(server, token, video["id"], start_time=0, end_time=1, mode="fast").json()
        )
        assert done["status"] == "finished"
        after = scrape(server)
    finally:
        server.stop()
        worker.stop()

    assert rise(before, after, "videomanager_uploads_total", event="created") == 4
    assert rise(before, after, "videomanager_uploads_total", event="finished") == 3
    assert rise(before, after, "videomanager_uploads_total", event="terminated") == 1
    assert rise(before, after, "videomanager_upload_bytes_received_total", kind="tus") == 3 * len(data)
    assert rise(before, after, "videomanager_upload_bytes_received_total", kind="plain") == len(data)
    assert rise(before, after, "videomanager_tasks_total", kind="trim", mode="fast", outcome="finished") == 1
    assert rise(before, after, "videomanager_task_duration_seconds_count", kind="trim", mode="fast") == 1
    created = {"route": TUS_ROUTE, "method": "POST", "status": "201"}
    assert rise(before, after, "videomanager_http_requests_total", **created) == 4
    patched = {"route": TUS_ROUTE + "<uuid:upload_id>", "method": "PATCH", "status": "204"}
    assert rise(before, after, "videomanager_http_requests_total", **patched) == 3
    assert after[("videomanager_queue_depth", ())] == 0


def test_a_metrics_token_guards_the_scrape(tmp_path, redis_server):
    server = LiveServer(process_env(tmp_path, redis_server.url, metrics_token="scrape-me")).start()
    try:
        refused = requests.get(f"{server.url}/metrics", timeout=30)
        assert refused.status_code == 401 and refused.json()["error"] == "unauthorized"
        wrong = requests.get(f"{server.url}/metrics", headers={"Authorization": "Bearer nope"}, timeout=30)
        assert wrong.status_code == 401
        assert scrape(server, Authorization="Bearer scrape-me")
    finally:
        server.stop()


def test_metrics_can_be_turned_off(tmp_path, redis_server):
    server = LiveServer(process_env(tmp_path, redis_server.url, metrics_enabled="false")).start()
    try:
        assert requests.get(f"{server.url}/metrics", timeout=30).status_code == 404
    finally:
        server.stop()


def test_a_vanished_metrics_folder_never_breaks_an_answer(tmp_path, redis_server, sample_video):
    """The folder is deleted under the running server (a tmp cleaner, RemoveIPC): requests never
    counted before, /health and uploads still answer; the folder comes back for later samples."""
    env = process_env(tmp_path, redis_server.url)
    folder = Path(env["VIDEO_MANAGER_METRICS_DIR"])
    server = LiveServer(env).start()
    try:
        token = cli_create_user(env, "uncounted")
        assert requests.get(f"{server.url}/health", timeout=10).status_code == 200
        shutil.rmtree(folder)
        for _ in range(4):  # each of the two gunicorn workers meets new label sets
            assert requests.get(f"{server.url}/health", timeout=10).status_code == 200
            assert (
                requests.get(f"{server.url}/api/videos/", headers=auth(token), timeout=10).status_code == 200
            )
            assert requests.get(f"{server.url}/no/such/route", timeout=10).status_code == 404
            assert requests.options(f"{server.url}/api/videos/", timeout=10).status_code < 500
        data = sample_video.read_bytes()
        url = new_upload(server.url, token, len(data))
        assert patch(url, token, 0, data).status_code == 204
        assert upload(server, token, sample_video)["status"] == "ready"
        assert requests.get(f"{server.url}/metrics", timeout=10).status_code == 200
        assert folder.is_dir()  # made again, for the samples to come
    finally:
        server.stop()
