"""Webhooks in the database: who listens to which events, the deliveries owed, what each attempt got."""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta

from peewee import fn

from storage.database import db
from storage.models import Delivery, DeliveryAttempt, DeliveryState, Webhook, WebhookStatus, utcnow

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
    """The owner's webhooks that asked for this type of event (a disabled one keeps its events
    for when it is enabled again)."""
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


def claim_due(limit: int, lease_s: float, in_flight: Mapping[uuid.UUID, int], per_webhook: int
              ) -> list[Delivery]:  # fmt: skip
    """Up to `limit` due deliveries (with their webhook), oldest first, at most `per_webhook` of any
    one webhook less what it has `in_flight` already; disabled and backed-off
    webhooks have none due. Each is moved `lease_s` into the future, so that no other sender
    takes it while this one tries."""
    now = utcnow()
    ranked = (
        Delivery.select(
            Delivery.id,
            fn.ROW_NUMBER()
            .over(partition_by=[Delivery.webhook], order_by=[Delivery.next_attempt_at])
            .alias("rank"),
        )
        .join(Webhook)
        .where(
            (Delivery.state == DeliveryState.PENDING)
            & (Delivery.next_attempt_at <= now)
            & (Webhook.status == WebhookStatus.ACTIVE)
            & (Webhook.paused_until.is_null() | (Webhook.paused_until <= now))
        )
        .alias("ranked")
    )
    due = (
        Delivery.select(Delivery, Webhook)
        .join(Webhook)
        .switch(Delivery)
        .join(ranked, on=(Delivery.id == ranked.c.id))
        .where(ranked.c.rank <= per_webhook)
        .order_by(Delivery.next_attempt_at)
    )
    claimed: list[Delivery] = []
    taken_per_webhook: dict[uuid.UUID, int] = {}
    for delivery in due:
        hook = delivery.webhook_id
        if taken_per_webhook.get(hook, 0) + in_flight.get(hook, 0) >= per_webhook:
            continue
        taken = Delivery.update(next_attempt_at=now + timedelta(seconds=lease_s)).where(
            (Delivery.id == delivery.id)
            & (Delivery.state == DeliveryState.PENDING)
            & (Delivery.next_attempt_at == delivery.next_attempt_at)
        )
        if taken.execute():
            claimed.append(delivery)
            taken_per_webhook[hook] = taken_per_webhook.get(hook, 0) + 1
            if len(claimed) == limit:
                break
    return claimed


def record_attempt(
    delivery: Delivery,
    status_code: int | None,
    error: str | None,
    retry_delays_s: Sequence[float],
    started_at: datetime,
) -> str:
    """Log the attempt and decide what follows: `delivered` on a 2xx, else `pending` with the next
    retry due, or `failed` once every retry is spent. The new state ("" if the webhook is gone).

    The webhook's health follows too: an answer clears its failures; a failure backs the whole
    webhook off along the same schedule (counted once for attempts that started before the
    backoff), and one more failure than the schedule has retries disables it."""
    attempt = delivery.attempts + 1
    now = utcnow()
    succeeded = status_code is not None and 200 <= status_code < 300
    if succeeded:
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
        if succeeded:
            Webhook.update(failures=0, paused_until=None).where(Webhook.id == delivery.webhook_id).execute()
        else:
            _back_off(delivery.webhook_id, retry_delays_s, started_at, now)
    return state


def _back_off(webhook_id: uuid.UUID, retry_delays_s: Sequence[float], started_at: datetime, now: datetime
              ) -> None:  # fmt: skip
    hook = Webhook.get_or_none(Webhook.id == webhook_id)
    if hook is None or (hook.paused_until is not None and hook.paused_until > started_at):
        return  # another attempt of the same round already counted this failure
    failures = hook.failures + 1
    if failures > len(retry_delays_s):
        Webhook.update(failures=failures, status=WebhookStatus.DISABLED).where(
            Webhook.id == webhook_id
        ).execute()
        return
    pause = timedelta(seconds=retry_delays_s[failures - 1]) if retry_delays_s else timedelta(0)
    Webhook.update(failures=failures, paused_until=now + pause).where(Webhook.id == webhook_id).execute()


def enable(hook: Webhook) -> Webhook:
    """Turn a webhook back on: its pending deliveries go out again, its failures forgotten."""
    Webhook.update(status=WebhookStatus.ACTIVE, failures=0, paused_until=None).where(
        Webhook.id == hook.id
    ).execute()
    return Webhook.get_by_id(hook.id)


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
