"""Events for webhooks: the API object that changed, snapshotted into a delivery per listener.

Request handlers and the worker call `announce` with the change, inside its transaction where
they can (an outbox: the change and its deliveries commit together), and the worker's delivery
process sends them later. The body carries the object exactly as the API returns it, so outside
a request (the worker) its URLs are built in a request context of this process's own app, on
`server.public_url` or else the server's configured address.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable

from apiflask import APIFlask

from server.schemas import iso_utc, share_out, task_out, video_out
from server.urls import external_url
from storage import webhooks
from storage.models import Share, Task, Video, VideoStatus, Webhook, utcnow
from video_manager.config import Config

Subject = Video | Task | Share
Announce = Callable[[str, int, Subject], None]
REPRESENTATIONS: dict[type, Callable[[Subject], dict]] = {Video: video_out, Task: task_out, Share: share_out}


def announce(event_type: str, owner_id: int, subject: Subject) -> None:
    """Owe `event_type` about `subject` to each of the owner's webhooks that listens for it.
    Needs a request context (handlers have one; elsewhere use `Announcer`)."""
    owe(webhooks.listeners(owner_id, event_type), event_type, subject)


def owe(hooks: list[Webhook], event_type: str, subject: Subject) -> None:
    if not hooks:
        return
    event_id = f"evt_{uuid.uuid4().hex}"
    body = {
        "id": event_id,
        "type": event_type,
        "created_at": iso_utc(utcnow()),
        "data": REPRESENTATIONS[type(subject)](subject),
    }
    webhooks.owe(hooks, event_id, event_type, json.dumps(body, separators=(",", ":")))


def video_event(video: Video) -> str:
    return "video.ready" if video.status == VideoStatus.READY else "video.rejected"


class Announcer:
    """`announce` for processes without requests (the worker and its maintenance process)."""

    def __init__(self, config: Config) -> None:
        self.config = config
        self._app: APIFlask | None = None

    def warm(self) -> None:
        """Build the app and its URL map now, before the worker forks its work horses: each
        would otherwise pay for both (10 ms) at its first event."""
        if self._app is None:
            from server import create_app

            self._app = create_app(self.config)
            with self._app.test_request_context(base_url=own_url(self.config)):
                external_url("videos.download", video_id=uuid.UUID(int=0))

    def __call__(self, event_type: str, owner_id: int, subject: Subject) -> None:
        hooks = webhooks.listeners(owner_id, event_type)
        if hooks:
            self.warm()
            with self._app.test_request_context(base_url=own_url(self.config)):
                owe(hooks, event_type, subject)


def own_url(config: Config) -> str:
    """The base of the API's URLs when no request tells it: `server.public_url`, or the address
    the server listens on."""
    if config.server.public_url:
        return config.server.public_url.rstrip("/")
    host = config.server.host
    host = f"[{host}]" if ":" in host else host
    return f"http://{host}:{config.server.port}"
