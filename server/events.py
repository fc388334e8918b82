"""Announcing a change from a request handler: storage.events, with URLs on the request's base."""

from __future__ import annotations

from server.urls import representer
from storage import events


def announce(event_type: str, owner_id: int, subject: events.Subject) -> None:
    events.announce(representer(), event_type, owner_id, subject)
