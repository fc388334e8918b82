"""The client commands against the real server and worker, run as a user runs them."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import time

import pytest
import requests

from tests.media import make_video
from tests.servers import PROJECT_ROOT, VIDEO_MANAGER, auth

pytestmark = pytest.mark.e2e


@pytest.fixture
def cli(live_server, make_user, tmp_path):
    token = make_user()[2]
    env = {
        **os.environ,
        "VIDEO_MANAGER_URL": live_server.url,
        "VIDEO_MANAGER_TOKEN": token,
        "XDG_STATE_HOME": str(tmp_path / "state"),
    }

    def run(*args: str, check: bool = True) -> subprocess.CompletedProcess:
        completed = subprocess.run(
            [*VIDEO_MANAGER, *args], env=env, cwd=PROJECT_ROOT, capture_output=True, text=True
        )
        if check:
            assert completed.returncode == 0, completed.stderr
        return completed

    run.env = env
    run.token = token
    return run


def test_upload_three_list_trim_merge_share(cli, live_worker, media_dir, live_server):
    files = [make_video(media_dir / f"cli{i}.mp4", seconds=1 + i) for i in range(3)]
    uploaded = json.loads(cli("upload", *map(str, files), "--json").stdout)
    assert [v["name"] for v in uploaded] == ["cli0.mp4", "cli1.mp4", "cli2.mp4"]
    assert all(v["status"] == "ready" for v in uploaded)
    for video, path in zip(uploaded, files, strict=True):
        body = requests.get(
            f"{live_server.url}/api/videos/{video['id']}/download/", headers=auth(cli.token)
        ).content
        assert hashlib.sha256(body).digest() == hashlib.sha256(path.read_bytes()).digest()

    listed = json.loads(cli("list", "--json").stdout)
    assert {v["id"] for v in listed} == {v["id"] for v in uploaded}
    assert "cli2.mp4" in cli("list").stdout

    queued = json.loads(
        cli("trim", uploaded[2]["id"], "--start", "0.5", "--end", "00:00:02.000", "--json").stdout
    )
    assert queued["status"] in ("queued", "started", "finished")
    finished = json.loads(cli("wait", queued["task_id"], "--json").stdout)
    assert finished["status"] == "finished" and finished["result"]["video_id"]
    assert json.loads(cli("status", queued["task_id"], "--json").stdout)["status"] == "finished"

    merged = json.loads(cli("merge", uploaded[0]["id"], uploaded[1]["id"], "--wait", "--json").stdout)
    assert merged["status"] == "finished"

    link = json.loads(cli("share", uploaded[0]["id"], "--expires", "60", "--json").stdout)
    assert requests.get(link["url"], timeout=10).status_code == 200
    assert cli("share", uploaded[0]["id"], "--expires", "60").stdout.startswith(live_server.url + "/s/")


def test_errors_exit_non_zero_with_a_message(cli, live_server, tmp_path):
    missing = cli("status", "00000000-0000-0000-0000-000000000000", check=False)
    assert missing.returncode == 1 and "error:" in missing.stderr
    as_json = cli(
        "trim", "00000000-0000-0000-0000-000000000000", "--start", "0", "--end", "1", "--json", check=False
    )
    assert as_json.returncode == 1 and json.loads(as_json.stdout)["error"] == "not_found"
    unreachable = cli("list", "--url", "http://127.0.0.1:9", check=False)
    assert unreachable.returncode == 3
    not_a_video = tmp_path / "head.bin"
    not_a_video.write_bytes(bytes(range(256)) * 8)
    for command in (["list"], ["upload", str(not_a_video)]):  # the same sentence for every command
        down = cli(*command, "--url", "http://127.0.0.1:9", check=False)
        assert down.returncode == 3
        assert "cannot reach http://127.0.0.1:9" in down.stderr and "is the server running?" in down.stderr
        assert "HTTPConnectionPool" not in down.stderr
    rejected = cli("upload", str(not_a_video), check=False)
    assert rejected.returncode == 1
    assert "rejected" in rejected.stdout and "head.bin" in rejected.stdout
    assert "(not a readable video" in rejected.stdout  # the reason, not only the word
    without_token = {k: v for k, v in cli.env.items() if k != "VIDEO_MANAGER_TOKEN"}
    no_token = subprocess.run(
        [*VIDEO_MANAGER, "list"],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        env=without_token,
    )
    assert no_token.returncode == 2


@pytest.mark.parametrize("protocol", ["tus", "ietf"])
def test_upload_cut_and_resumed_in_a_second_run(cli, media_dir, data_dir, live_server, protocol):
    clip = make_video(
        media_dir / f"resume-{protocol}.mp4", seconds=10, size="640x480", pattern="testsrc2", gop=15
    )
    size = clip.stat().st_size
    uploads_dir = data_dir / "uploads"
    before = {p.name for p in uploads_dir.iterdir()}
    first = subprocess.Popen(
        [*VIDEO_MANAGER, "upload", str(clip), "--chunk-size", "65536", "--protocol", protocol],
        env=cli.env, cwd=PROJECT_ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip
    deadline = time.monotonic() + 60
    while True:
        started = [p for p in uploads_dir.iterdir() if p.is_file() and p.name not in before]
        if started and started[0].stat().st_size >= size // 4:
            break
        assert time.monotonic() < deadline and first.poll() is None, "upload ended before it could be cut"
        time.sleep(0.005)
    first.send_signal(signal.SIGKILL)
    first.wait()
    cut_at = started[0].stat().st_size
    assert 0 < cut_at < size

    second = cli("upload", str(clip), "--json", "--protocol", protocol)
    assert "resuming from byte" in second.stderr
    video = json.loads(second.stdout)[0]
    assert video["id"] == started[0].name and video["status"] == "ready"
    body = requests.get(
        f"{live_server.url}/api/videos/{video['id']}/download/", headers=auth(cli.token)
    ).content
    assert hashlib.sha256(body).digest() == hashlib.sha256(clip.read_bytes()).digest()


def test_share_prints_the_url_alone_and_shares_revoke_delete_deliveries(cli, live_server, sample_video):
    video_id = json.loads(cli("upload", str(sample_video), "--json").stdout)[0]["id"]
    shared = cli("share", video_id, "--expires", "60")
    assert shared.stdout.strip().startswith(live_server.url + "/s/") and len(shared.stdout.splitlines()) == 1
    assert "expires" in shared.stderr
    url = shared.stdout.strip()
    (listed,) = json.loads(cli("shares", video_id, "--json").stdout)
    assert listed["url"] == url and listed["revoked"] is False
    assert cli("revoke", listed["id"]).stdout.strip() == f"revoked {listed['id']}"
    assert requests.get(url, timeout=10).status_code == 410
    assert "revoked" in cli("shares", video_id).stdout
    hook = json.loads(cli("webhook", "add", "https://93.184.215.14/hook", "--json").stdout)  # public, no DNS
    assert cli("webhook", "deliveries", hook["id"]).stdout.strip() == "no deliveries yet"
    assert cli("delete", video_id).stdout.strip() == f"deleted {video_id}"
    gone = cli("delete", video_id, check=False)
    assert gone.returncode == 1 and "not_found" in gone.stderr


def test_the_default_url_is_the_one_the_server_is_configured_with(cli, live_server):
    env = {key: value for key, value in cli.env.items() if key != "VIDEO_MANAGER_URL"}
    env["VIDEO_MANAGER_SERVER_PORT"] = str(live_server.port)
    listed = subprocess.run([*VIDEO_MANAGER, "list", "--json"], env=env, cwd=PROJECT_ROOT,
                            capture_output=True, text=True)  # fmt: skip
    assert listed.returncode == 0, listed.stderr
    env["VIDEO_MANAGER_SERVER_PUBLIC_URL"] = "http://127.0.0.1:9/"  # public_url comes first
    unreachable = subprocess.run([*VIDEO_MANAGER, "list"], env=env, cwd=PROJECT_ROOT,
                                 capture_output=True, text=True)  # fmt: skip
    assert unreachable.returncode == 3 and "127.0.0.1:9" in unreachable.stderr
