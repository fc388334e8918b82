"""Announcing a change from a request handler: storage.events, with URLs on the request's base."""

from __future__ import annotations

from server.queueing import prepare_for_viewing
from server.urls import representer
from storage import events
from storage.models import Video, VideoStatus


def announce(event_type: str, owner_id: int, subject: events.Subject) -> None:
    events.announce(representer(), event_type, owner_id, subject)


def video_created(video: Video) -> None:
    """Every way a request makes a video (a plain upload, the chunk form, a finished tus or IETF
    upload) ends here: announce it, and queue its poster when it is ready."""
    announce(events.video_event(video), video.owner_id, video)
    if video.status == VideoStatus.READY:
        prepare_for_viewing(video)
