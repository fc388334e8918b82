"""The whole flow on PostgreSQL (`database.url = postgresql://...`), when a server can be started.

A throwaway cluster is created with the machine's initdb (run as the `postgres` user when we are
root, since PostgreSQL refuses to run as root) and listens on a loopback port only.
"""

from __future__ import annotations

import pytest
import requests

from tests.api import trim, wait_task
from tests.servers import LiveServer, LiveWorker, auth, cli_create_user, process_env
from tests.tus import new_upload, patch

pytestmark = pytest.mark.e2e


def test_upload_tus_and_trim_on_postgres(postgres_url, tmp_path, redis_server, sample_video):
    env = process_env(tmp_path, redis_server.url, database_url=postgres_url)
    server = LiveServer(env).start()
    worker = LiveWorker(env).start()
    try:
        token = cli_create_user(env, "pg")
        data = sample_video.read_bytes()
        # A 255-character name: the trim's name must be cut to fit varchar(255) (SQLite never checks).
        url = new_upload(server.url, token, len(data), name="p" * 251 + ".mp4")
        assert patch(url, token, 0, data).status_code == 204
        video_id = url.rsplit("/", 1)[1]
        task = trim(server, token, video_id, start_time=0.5, end_time=2).json()
        done = wait_task(token, task, timeout_s=60)
        assert done["status"] == "finished", done
        trimmed = requests.get(f"{server.url}/api/videos/{done['result']['video_id']}/", headers=auth(token))
        assert len(trimmed.json()["name"]) == 255
        listed = requests.get(f"{server.url}/api/videos/", headers=auth(token)).json()["results"]
        assert sorted(v["source"] for v in listed) == ["trim", "upload"]
        assert not (tmp_path / "video-manager.db").exists()  # everything went to PostgreSQL
    finally:
        server.stop()
        worker.stop()
