"""Webhooks in the database: who listens to which events, the deliveries owed, what each attempt got."""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from datetime import timedelta

from storage.database import db
from storage.models import Delivery, DeliveryAttempt, DeliveryState, Webhook, utcnow

EVENT_TYPES = (
    "video.ready",
    "video.rejected",
    "video.deleted",
    "task.started",
    "task.finished",
    "task.failed",
    "share.created",
    "share.revoked",
)
EVERY_EVENT = "*"
ATTEMPTS_LISTED = 100
ERROR_LENGTH = 255


def listeners(owner_id: int, event_type: str) -> list[Webhook]:
    """The owner's webhooks that asked for this type of event."""
    hooks = Webhook.select().where(Webhook.owner == owner_id)
    return [hook for hook in hooks if {event_type, EVERY_EVENT} & set(json.loads(hook.events))]


def owe(hooks: Sequence[Webhook], event_id: str, event_type: str, body: str) -> None:
    """One pending delivery of `body` per webhook, due now."""
    now = utcnow()
    rows = [
        {"id": uuid.uuid4(), "webhook": hook.id, "event_id": event_id, "event_type": event_type,
         "payload": body, "next_attempt_at": now, "created_at": now}
        for hook in hooks
    ]  # fmt: skip
    Delivery.insert_many(rows).execute()


def claim_due(limit: int, lease_s: float) -> list[Delivery]:
    """Up to `limit` due deliveries (with their webhook), each moved `lease_s` into the future so
    that no other sender takes it while this one tries; oldest first."""
    now = utcnow()
    due = list(
        Delivery.select(Delivery, Webhook)
        .join(Webhook)
        .where((Delivery.state == DeliveryState.PENDING) & (Delivery.next_attempt_at <= now))
        .order_by(Delivery.next_attempt_at)
        .limit(limit)
    )
    claimed = []
    for delivery in due:
        taken = Delivery.update(next_attempt_at=now + timedelta(seconds=lease_s)).where(
            (Delivery.id == delivery.id)
            & (Delivery.state == DeliveryState.PENDING)
            & (Delivery.next_attempt_at == delivery.next_attempt_at)
        )
        if taken.execute():
            claimed.append(delivery)
    return claimed


def record_attempt(
    delivery: Delivery, status_code: int | None, error: str | None, retry_delays_s: Sequence[float]
) -> str:
    """Log the attempt and decide what follows: `delivered` on a 2xx, else `pending` with the next
    retry due, or `failed` once every retry is spent. The new state ("" if the webhook is gone)."""
    attempt = delivery.attempts + 1
    now = utcnow()
    if status_code is not None and 200 <= status_code < 300:
        state, next_at = DeliveryState.DELIVERED, now
    elif attempt > len(retry_delays_s):
        state, next_at = DeliveryState.FAILED, now
    else:
        state, next_at = DeliveryState.PENDING, now + timedelta(seconds=retry_delays_s[attempt - 1])
    with db.atomic():
        updated = Delivery.update(attempts=attempt, state=state, next_attempt_at=next_at).where(
            Delivery.id == delivery.id
        )
        if not updated.execute():  # the webhook was deleted meanwhile, and its deliveries with it
            return ""
        DeliveryAttempt.create(
            delivery=delivery.id,
            attempt=attempt,
            status_code=status_code,
            error=error[:ERROR_LENGTH] if error else None,
        )
    return state


def recent_attempts(webhook_id: uuid.UUID) -> list[tuple[DeliveryAttempt, Delivery]]:
    """The webhook's latest attempts, newest first."""
    rows = (
        DeliveryAttempt.select(DeliveryAttempt, Delivery)
        .join(Delivery)
        .where(Delivery.webhook == webhook_id)
        .order_by(DeliveryAttempt.created_at.desc(), DeliveryAttempt.id.desc())
        .limit(ATTEMPTS_LISTED)
    )
    return [(row, row.delivery) for row in rows]


def prune_finished(older_than_s: float) -> int:
    """Forget deliveries that ended (delivered or failed) longer ago than `older_than_s`."""
    cutoff = utcnow() - timedelta(seconds=older_than_s)
    return (
        Delivery.delete()
        .where((Delivery.state != DeliveryState.PENDING) & (Delivery.next_attempt_at < cutoff))
        .execute()
    )
