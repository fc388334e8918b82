"""The documentation as a newcomer uses it: the README's quick start, the API session, the
webhook walk-through and the nightly batch job run as written (only addresses, ports and paths
differ) against a live server, worker and Redis; the README stays short and every doc it names
exists."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest
import requests

from tests.api import wait_until
from tests.media import make_video
from tests.servers import PROJECT_ROOT, LiveServer, LiveWorker, auth, process_env
from video_manager.supervisor import free_port

pytestmark = pytest.mark.e2e
README = PROJECT_ROOT / "README.md"
DOCS = PROJECT_ROOT / "docs"
FENCE = re.compile(r"^```(\w+)\n(.*?)^```$", re.M | re.S)


def blocks(text: str, language: str) -> list[str]:
    return [body for lang, body in FENCE.findall(text) if lang == language]


def section(text: str, heading: str) -> str:
    """From `## heading` to the next second-level heading."""
    start = text.index(f"\n## {heading}\n")
    following = text.find("\n## ", start + 1)
    return text[start : following if following != -1 else len(text)]


def run_shell(script: str, cwd, env: dict[str, str], timeout_s: float = 240) -> subprocess.CompletedProcess:
    completed = subprocess.run(
        ["bash", "-eu", "-o", "pipefail", "-c", script], cwd=cwd, env=env, capture_output=True,
        text=True, timeout=timeout_s,
    )  # fmt: skip
    assert completed.returncode == 0, f"exit {completed.returncode}\n{completed.stdout}\n{completed.stderr}"
    return completed


def as_here(script: str, server: LiveServer) -> str:
    """The documented commands pointed at this test's server and checkout."""
    return script.replace("http://127.0.0.1:8000", server.url).replace(
        ".venv/bin/", f"{PROJECT_ROOT}/.venv/bin/"
    )


@pytest.fixture
def stack(tmp_path, redis_server):
    """A server and worker of their own (a fresh database, so the docs' `alice` is new), with
    webhooks to loopback allowed as the webhook walk-through says to."""
    # Retries come quickly: an event of the session's last tasks may reach the receiver's
    # address before the receiver runs, which backs the webhook off along its schedule.
    env = process_env(
        tmp_path, redis_server.url, webhooks_allow_private="true", webhooks_retry_delays_s="0.5,0.5,1,1,1,1"
    )
    server = LiveServer(env).start()
    worker = LiveWorker(env).start()
    try:
        yield (
            server,
            {**env, "VIDEO_MANAGER_SERVER_PORT": str(server.port), "XDG_STATE_HOME": str(tmp_path / "state")},
        )
    finally:
        server.stop()
        worker.stop()


def test_the_readme_is_short_and_every_doc_it_names_exists():
    text = README.read_text()
    assert len(text.splitlines()) <= 250
    linked = set(re.findall(r"\]\((docs/[\w-]+\.md)\)", text))
    assert linked == {f"docs/{doc.name}" for doc in DOCS.glob("*.md")}
    for doc in DOCS.glob("*.md"):
        for target in re.findall(r"\]\(([\w./-]+\.md)\)", doc.read_text()):
            assert (doc.parent / target).exists() or (PROJECT_ROOT / target).exists(), (doc.name, target)
    for word in ("the seed", "this stop", "round 1", "round 2", "the issue"):
        assert word not in text.lower(), word


def test_the_quick_start_the_api_session_and_the_webhook_walk_through_run_as_written(stack, tmp_path):
    server, env = stack
    work = tmp_path / "work"
    work.mkdir()
    make_video(work / "holiday.mp4", seconds=6, size="320x240")
    quick_start = "\n".join(blocks(section(README.read_text(), "Quick start"), "sh"))
    every_route = blocks((DOCS / "api.md").read_text(), "sh")[0]
    walk_through = blocks((DOCS / "webhooks.md").read_text(), "sh")[0]
    receiver_port = free_port()
    script = as_here("\n".join([quick_start, every_route, walk_through]), server).replace(
        "127.0.0.1:5000", f"127.0.0.1:{receiver_port}"
    )
    done = run_shell(script + '\necho "ID=$ID"\necho "SECRET=$SECRET"\n', work, env)
    assert re.search(r"^410$", done.stdout, re.M)  # the revoked link
    assert (work / "head.bin").stat().st_size == 1024 and (work / "first-bytes.bin").stat().st_size == 100

    values = dict(line.split("=", 1) for line in done.stdout.splitlines() if re.match(r"^(ID|SECRET)=", line))
    token = requests.post(
        f"{server.url}/api-token-auth/",
        json={"username": "alice", "password": "correct horse battery"},
        timeout=10,
    ).json()["token"]

    def videos() -> list[dict]:
        return requests.get(f"{server.url}/api/videos/", headers=auth(token), timeout=10).json()["results"]

    wait_until(
        lambda: len(videos()) == 8, 60, "the session's trims and merge"
    )  # 4 uploads + 3 trims + 1 merge
    by_source = {}
    for video in videos():
        by_source.setdefault(video["source"], []).append(video)
    # The quick start's curl and CLI uploads, A and B of the API session (C was deleted).
    assert [v["name"] for v in by_source["upload"]] == ["holiday.mp4"] * 4
    assert sorted(v["duration"] for v in by_source["trim"]) == pytest.approx([2.5, 2.5, 2.75], abs=0.05)
    assert [v["duration"] for v in by_source["merge"]] == pytest.approx([18.0], abs=0.1)
    original = next(v for v in by_source["upload"] if v["id"] == values["ID"])
    shared_copy = work / "shared-copy.mp4"  # fetched without a token
    assert shared_copy.stat().st_size == original["size"]
    assert re.search(r"^http://127\.0\.0\.1:\d+/s/\S+$", done.stdout, re.M)  # `share` printed the URL alone

    # The receiver as written, with the secret the walk-through kept: an event reaches it, verified.
    python_receiver = blocks((DOCS / "webhooks.md").read_text(), "python")[0]
    (work / "receiver.py").write_text(python_receiver)
    log = work / "receiver.log"
    with open(log, "w") as output:
        receiver = subprocess.Popen(
            [sys.executable, "-m", "flask", "--app", "receiver", "run", "--port", str(receiver_port)],
            cwd=work, env={**os.environ, "SECRET": values["SECRET"], "PYTHONUNBUFFERED": "1"},
            stdout=output, stderr=subprocess.STDOUT,
        )  # fmt: skip
    try:
        wait_until(lambda: "Running on" in log.read_text(), 30, "the receiver to listen")
        upload = requests.post(
            f"{server.url}/api/videos/upload/", headers=auth(token),
            files={"file": ("second.mp4", (work / "holiday.mp4").read_bytes())}, timeout=30,
        )  # fmt: skip
        assert upload.status_code == 201
        wait_until(
            lambda: "video.ready" in log.read_text() and "second.mp4" in log.read_text(), 60, "the event"
        )
        assert " 204 " in log.read_text() and " 401 " not in log.read_text()
    finally:
        receiver.terminate()
        receiver.wait(10)


def test_the_nightly_batch_job_handles_each_file_once_and_logs_every_failure(stack, tmp_path):
    server, env = stack
    token = subprocess.run(
        [f"{PROJECT_ROOT}/.venv/bin/video-manager", "create-user", "night", "--password", "a-long-password"],
        env=env, capture_output=True, text=True, check=True,
    ).stdout.strip().splitlines()[-1]  # fmt: skip
    recipe = next(block for block in blocks((DOCS / "cli.md").read_text(), "sh") if "nightly-videos" in block)
    folders = {name: tmp_path / name for name in ("incoming", "done", "failed")}
    for folder in folders.values():
        folder.mkdir()
    make_video(folders["incoming"] / "long.mp4", seconds=34, size="160x120", rate=10, gop=20)
    make_video(folders["incoming"] / "short.mp4", seconds=3, size="160x120")
    (folders["incoming"] / "broken.mp4").write_bytes(b"not a video at all " * 500)

    def nightly(url: str) -> str:
        script = recipe.replace(
            "/opt/video-manager/.venv/bin/video-manager", f"{PROJECT_ROOT}/.venv/bin/video-manager"
        )
        script = script.replace("https://videos.example.com", url).replace("your-token", token)
        for name, folder in folders.items():
            script = script.replace(f"/srv/{name}", str(folder))
        completed = subprocess.run(["sh", "-c", script], env=env, capture_output=True, text=True, timeout=240)
        assert completed.returncode == 0, completed.stderr
        return completed.stdout + completed.stderr  # what cron appends to the log

    def videos() -> list[dict]:
        return requests.get(f"{server.url}/api/videos/", headers=auth(token), timeout=10).json()["results"]

    # The server down: every file stays for the next run, each said so.
    log = nightly(f"http://127.0.0.1:{free_port()}")
    assert log.count("server unreachable, left for the next run") == 3
    assert sorted(p.name for p in folders["incoming"].iterdir()) == ["broken.mp4", "long.mp4", "short.mp4"]

    log = nightly(server.url)
    assert re.search(r"broken\.mp4: not accepted: not a readable video: invalid data", log), log
    assert re.search(r"long\.mp4: done \(", log) and re.search(r"short\.mp4: done \(", log), log
    assert [p.name for p in folders["failed"].iterdir()] == ["broken.mp4"]
    assert sorted(p.name for p in folders["done"].iterdir()) == ["long.mp4", "short.mp4"]
    first = videos()
    names = sorted(v["name"] for v in first)
    assert names == ["broken.mp4", "long [0.000-30.000].mp4", "long.mp4", "short.mp4"], names
    trimmed = next(v for v in first if v["source"] == "trim")
    assert trimmed["duration"] == pytest.approx(30, abs=2.1)  # a fast trim ends on a keyframe's packet

    # The next night: only the new file goes up; nothing already handled is sent again.
    make_video(folders["incoming"] / "next.mp4", seconds=2, size="160x120")
    log = nightly(server.url)
    assert re.search(r"next\.mp4: done \(", log) and "long.mp4" not in log and "broken.mp4" not in log
    assert sorted(v["name"] for v in videos()) == sorted([*names, "next.mp4"])
    assert [v["status"] for v in videos()].count("rejected") == 1
