"""Events for webhooks: the API object that changed, snapshotted into a delivery per listener.

Request handlers and the worker announce a change inside its transaction where they can (an
outbox: the change and its deliveries commit together), and the worker's delivery process
sends them later. The body carries the object exactly as the API returns it
(storage.representation), with URLs on the request's base or, outside a request, on
`server.public_url` or else the server's configured address.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable

from storage import webhooks
from storage.models import Share, Task, Video, VideoStatus, utcnow
from storage.representation import Representer, iso_utc, own_url
from storage.signing import ShareSigner
from video_manager.config import Config

Subject = Video | Task | Share
Announce = Callable[[str, int, Subject], None]


def announce(representer: Representer, event_type: str, owner_id: int, subject: Subject) -> None:
    """Owe `event_type` about `subject` to each of the owner's webhooks that listens for it."""
    hooks = webhooks.listeners(owner_id, event_type)
    if not hooks:
        return
    event_id = f"evt_{uuid.uuid4().hex}"
    body = {
        "id": event_id,
        "type": event_type,
        "created_at": iso_utc(utcnow()),
        "data": representer.of(subject),
    }
    webhooks.owe(hooks, event_id, event_type, json.dumps(body, separators=(",", ":")))


def video_event(video: Video) -> str:
    return "video.ready" if video.status == VideoStatus.READY else "video.rejected"


class Announcer:
    """`announce` for processes without requests (the worker and its maintenance process): URLs
    on the configured address. The signer is read when first needed (it may need the database)."""

    def __init__(self, config: Config) -> None:
        self.config = config
        self._representer: Representer | None = None

    def warm(self) -> Representer:
        """Read the signer now (the worker does, before it forks a work horse per job)."""
        if self._representer is None:
            self._representer = Representer(own_url(self.config), ShareSigner.from_config(self.config))
        return self._representer

    def __call__(self, event_type: str, owner_id: int, subject: Subject) -> None:
        announce(self.warm(), event_type, owner_id, subject)
