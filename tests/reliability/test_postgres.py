"""The whole flow on PostgreSQL (`database.url = postgresql://...`), when a server can be started.

A throwaway cluster is created with the machine's initdb (run as the `postgres` user when we are
root, since PostgreSQL refuses to run as root) and listens on a loopback port only.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from tests.api import trim, wait_task
from tests.servers import LiveServer, LiveWorker, auth, cli_create_user, process_env
from tests.tus import new_upload, patch
from video_manager.supervisor import free_port


def _postgres_bin() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb")) or [shutil.which("initdb") or ""]
    return Path(found[-1]).parent if found[-1] else None


def _as_postgres_user() -> list[str] | None:
    """Command prefix to run PostgreSQL's programs; None when that is impossible here."""
    if os.geteuid() != 0:
        return []
    try:
        pwd.getpwnam("postgres")
    except KeyError:
        return None
    runuser = shutil.which("runuser")
    return [runuser, "-u", "postgres", "--"] if runuser else None


@pytest.fixture(scope="module")
def postgres_url() -> Iterator[str]:
    bin_dir, prefix = _postgres_bin(), _as_postgres_user()
    if bin_dir is None or prefix is None:
        pytest.skip("no PostgreSQL server binaries (initdb) usable here; install postgresql to run this test")
    # Not under pytest's private (0700) temp folder: the postgres user must be able to reach it.
    root = Path(tempfile.mkdtemp(prefix="video-manager-pg-"))
    data = root / "data"
    if prefix:
        shutil.chown(root, "postgres")
    subprocess.run(
        [*prefix, str(bin_dir / "initdb"), "-D", str(data), "--auth=trust", "-U", "postgres"],
        check=True,
        capture_output=True,
    )
    port = free_port()
    server = subprocess.Popen(
        [
            *prefix,
            str(bin_dir / "postgres"),
            "-D",
            str(data),
            "-p",
            str(port),
            "-k",
            str(root),
            "-c",
            "listen_addresses=127.0.0.1",
            "-c",
            "fsync=off",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        for _ in range(100):
            ready = subprocess.run(
                [str(bin_dir / "pg_isready"), "-h", "127.0.0.1", "-p", str(port)], capture_output=True
            )
            if ready.returncode == 0:
                break
            time.sleep(0.1)
        subprocess.run(
            [str(bin_dir / "createdb"), "-h", "127.0.0.1", "-p", str(port), "-U", "postgres", "vm"],
            check=True,
            capture_output=True,
        )
        yield f"postgresql://postgres@127.0.0.1:{port}/vm"
    finally:
        server.terminate()
        server.wait(timeout=30)
        shutil.rmtree(root, ignore_errors=True)


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
