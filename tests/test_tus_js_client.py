"""tus-js-client (Node, from npm) against the real server: parallel uploads and interrupt + resume,
with tus 1.0.0 and with the IETF draft's interop versions 5 and 6."""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess

import pytest
import requests

from tests.servers import PROJECT_ROOT, auth

PEER_DIR = PROJECT_ROOT / "bench" / "peer"
pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(
        shutil.which("node") is None or not (PEER_DIR / "node_modules" / "tus-js-client").is_dir(),
        reason="Node or tus-js-client is not installed (npm was not found at install time)",
    ),
]


@pytest.mark.parametrize(
    ("mode", "protocol"),
    [
        ("parallel", "tus-v1"),
        ("interrupt", "tus-v1"),
        ("interrupt", "ietf-draft-05"),  # the IETF draft, interop version 6
        ("interrupt", "ietf-draft-03"),  # interop version 5
    ],
)
def test_tus_js_client_upload(live_server, make_user, media_dir, mode, protocol):
    from tests.media import make_video

    clip = make_video(media_dir / f"js-{mode}-{protocol}.mp4", seconds=6, size="640x480", pattern="testsrc2")
    token = make_user()[2]
    endpoint = f"{live_server.url}/api/videos/chunked_upload/"
    completed = subprocess.run(
        ["node", "tus_js_upload.mjs", endpoint, token, str(clip), mode, protocol],
        cwd=PEER_DIR, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert completed.returncode == 0, completed.stderr
    result = json.loads(completed.stdout.strip().splitlines()[-1])
    if mode == "interrupt":
        assert result["resumedFrom"] > clip.stat().st_size // 4  # continued from the server's offset
    video_id = result["url"].rstrip("/").rsplit("/", 1)[1]
    video = requests.get(f"{live_server.url}/api/videos/{video_id}/", headers=auth(token)).json()
    assert video["status"] == "ready" and video["name"] == clip.name
    body = requests.get(f"{live_server.url}/api/videos/{video_id}/download/", headers=auth(token)).content
    assert hashlib.sha256(body).hexdigest() == hashlib.sha256(clip.read_bytes()).hexdigest()
