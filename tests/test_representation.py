"""The worker describes objects in webhook payloads exactly as the API answers for them, from
storage.representation, without Flask or the web app."""

from __future__ import annotations

import subprocess
import sys
import uuid

from storage import representation
from storage.database import db
from storage.events import Announcer
from storage.models import Share, Task, TaskStatus, User, Video, utcnow
from storage.representation import own_url


def test_the_worker_loads_neither_flask_nor_the_web_app():
    check = (
        "import sys, processor.worker, processor.jobs, processor.maintenance, processor.deliveries; "
        "sys.exit(any(name in sys.modules for name in ('flask', 'apiflask', 'server')))"
    )
    assert subprocess.run([sys.executable, "-c", check], check=False).returncode == 0


def test_the_url_templates_are_the_apps_routes(app):
    some = uuid.uuid4()
    with app.test_request_context():
        from flask import url_for

        assert representation.VIDEO_DOWNLOAD.format(video_id=some) == url_for(
            "videos.download", video_id=some
        )
        assert representation.VIDEO_THUMBNAIL.format(video_id=some) == url_for(
            "media.thumbnail", video_id=some
        )
        assert representation.TASK_STATUS.format(task_id=some) == url_for("tasks.status", task_id=some)
        assert representation.SHARE_PAGE.format(token="abc") == url_for("shares.public", token="abc")


def test_a_webhook_payload_describes_a_video_task_and_share_as_the_api_answers(
    app, client, config, make_user, sample_video
):
    username, _password, token = make_user()
    headers = {"Authorization": f"Token {token}"}
    base = own_url(config)
    with sample_video.open("rb") as body:
        uploaded = client.post("/api/videos/upload/", headers=headers, base_url=base,
                               data={"file": (body, "clip.mp4")})  # fmt: skip
    assert uploaded.status_code == 201, uploaded.get_json()
    video_id = uploaded.get_json()["id"]
    shared = client.post(f"/api/videos/{video_id}/share/", headers=headers, base_url=base,
                         json={"expiry_time": 3600})  # fmt: skip
    assert shared.status_code == 201, shared.get_json()
    with db.connection_context():
        owner = User.get(User.username == username)
        now = utcnow()
        task = Task.create(owner=owner, kind="trim", params="{}", status=TaskStatus.FINISHED,
                           progress=1.0, result_video=video_id, result_method="copy", started_at=now,
                           ended_at=now)  # fmt: skip
        worker = Announcer(config).warm()
        share = Share.get_by_id(shared.get_json()["id"])
        described = {
            "video": worker.video(Video.get_by_id(video_id)),
            "task": worker.task(Task.get_by_id(task.id)),
            "share": worker.share(share),
        }
    answered = {
        "video": client.get(f"/api/videos/{video_id}/", headers=headers, base_url=base).get_json(),
        "task": client.get(f"/api/videos/tasks/{task.id}/status/", headers=headers, base_url=base).get_json(),
        "share": next(item for item in client.get(f"/api/videos/{video_id}/shares/", headers=headers,
                                                  base_url=base).get_json()["results"]
                      if item["id"] == str(share.id)),
    }  # fmt: skip
    assert described == answered
