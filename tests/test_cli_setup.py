"""The commands a new user types first, run as they run them: from a shell, in a folder."""

from __future__ import annotations

import os
import socket
import subprocess
import time

import pytest

from tests.servers import VIDEO_MANAGER

pytestmark = pytest.mark.e2e


def in_folder(folder, *args: str, **env: str) -> subprocess.CompletedProcess:
    clean = {key: value for key, value in os.environ.items() if not key.startswith("VIDEO_MANAGER_")}
    return subprocess.run(
        [*VIDEO_MANAGER, *args], cwd=folder, env={**clean, **env}, capture_output=True, text=True, timeout=60
    )


@pytest.mark.parametrize("command", ["serve", "run"])
def test_starting_on_a_port_in_use_says_so_at_once(tmp_path, command):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        started = time.monotonic()
        answer = in_folder(tmp_path, command, VIDEO_MANAGER_SERVER_PORT=str(port))
    assert answer.returncode == 1
    assert f"127.0.0.1:{port} is already in use" in answer.stderr
    assert "VIDEO_MANAGER_SERVER_PORT" in answer.stderr
    assert "serving on" not in answer.stderr + answer.stdout
    assert time.monotonic() - started < 20
    assert not (tmp_path / "data" / "redis").exists()  # nothing was started


def test_create_user_names_its_database_and_warns_where_nothing_is_set_up(tmp_path):
    first = in_folder(tmp_path, "create-user", "ann", "--password", "a-long-password")
    assert first.returncode == 0, first.stderr
    database = tmp_path / "data" / "video-manager.db"
    assert "warning: no config.toml here and no data yet" in first.stderr
    assert f"created user ann in {database}" in first.stderr
    assert database.is_file()
    assert first.stdout.strip().count("\n") == 0  # the token alone on stdout
    again = in_folder(tmp_path, "create-user", "bea", "--password", "a-long-password")
    assert again.returncode == 0, again.stderr
    assert "warning" not in again.stderr  # the data is there now: this is the folder in use
    assert f"created user bea in {database}" in again.stderr


def test_create_user_never_shows_a_database_password(tmp_path):
    answer = in_folder(
        tmp_path, "create-user", "cy", "--password", "a-long-password",
        VIDEO_MANAGER_DATABASE_URL="postgresql://vm:secret-pw@127.0.0.1:1/vm",
    )  # fmt: skip
    assert answer.returncode != 0  # nothing listens there
    assert "secret-pw" not in answer.stderr + answer.stdout
