"""A real (non-editable) install, run from a folder of the user's: nothing of ours may depend on
the checkout, and nothing in that folder (a stray config.py) may shadow our modules."""

from __future__ import annotations

import fcntl
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest
import requests

from tests.api import upload, wait_task, wait_until
from tests.servers import PROJECT_ROOT, auth
from video_manager.supervisor import free_port

pytestmark = pytest.mark.e2e

STRAY = 'raise SystemExit("the stray {} in the working folder was imported")\n'


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Path:
    """`pip install <checkout>` into a folder of its own (the dependencies come from our venv).
    setuptools builds in the checkout's `build/`: it goes again unless it was there before."""
    target = tmp_path_factory.mktemp("site")
    build = PROJECT_ROOT / "build"
    lock_path = tmp_path_factory.getbasetemp().parent / "install.lock"  # seen by every test process
    with open(lock_path, "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # one build at a time in the one build folder
        built_here = not build.exists()
        try:
            subprocess.run(
                [sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
                 "--no-deps", "--target", str(target), str(PROJECT_ROOT)],
                check=True, capture_output=True,
            )  # fmt: skip
        finally:
            if built_here:
                shutil.rmtree(build, ignore_errors=True)
    return target


def start(installed: Path, folder: Path, *args: str) -> tuple[subprocess.Popen, str, dict]:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("VIDEO_MANAGER_")}
    env.update(PYTHONPATH=str(installed), VIDEO_MANAGER_SERVER_PORT=str(port))
    process = subprocess.Popen(
        [str(installed / "bin" / "video-manager"), *args, "run"], cwd=folder, env=env,
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"

    def healthy() -> bool:
        assert process.poll() is None, process.stderr.read().decode()[-2000:]
        try:
            return requests.get(f"{url}/health", timeout=2).status_code == 200
        except requests.RequestException:  # not listening yet, or too busy starting
            return False

    wait_until(healthy, 60, "the installed system answering /health")
    return process, url, env


@pytest.mark.parametrize("config_args", [(), ("--config", "alt.toml")])
def test_installed_package_runs_from_a_users_folder(installed, tmp_path, sample_video, config_args):
    folder = tmp_path / "project"
    folder.mkdir()
    for stray in ("config.py", "cli.py", "client.py", "binaries.py"):
        (folder / stray).write_text(STRAY.format(stray))
    data_dir = folder / "data"
    if config_args:
        (folder / "alt.toml").write_text('[storage]\ndata_dir = "elsewhere"\n')
        data_dir = folder / "elsewhere"
    process, url, env = start(installed, folder, *config_args)
    try:
        page = requests.get(url + "/", timeout=10)
        assert page.status_code == 200 and "text/html" in page.headers["Content-Type"]
        command = [str(installed / "bin" / "video-manager"), *config_args, "create-user", "alice"]
        created = subprocess.run([*command, "--password", "pw-1"], cwd=folder, env=env,
                                 capture_output=True, text=True, check=True)  # fmt: skip
        token = created.stdout.strip().splitlines()[-1]
        video = upload(SimpleNamespace(url=url), token, sample_video)
        task = requests.post(f"{url}/api/videos/{video['id']}/trim/", headers=auth(token),
                             json={"start_time": 0.5, "end_time": 2.0}, timeout=10).json()  # fmt: skip
        assert wait_task(token, task, timeout_s=120)["status"] == "finished"
        assert (data_dir / "video-manager.db").is_file()
        assert len([p for p in (data_dir / "videos").rglob("*") if p.is_file()]) == 2
        assert not (installed / "data").exists()
    finally:
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=60) == 0
