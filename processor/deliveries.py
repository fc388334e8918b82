"""Webhook deliveries: a process of its own beside the worker, so a receiver that is down or slow
never holds a job (or a request).

It claims due deliveries from the database, sends each from a thread pool within a deadline for
the whole exchange, signs every attempt as Standard Webhooks says (`webhook-id` stays the same on
every attempt, `webhook-timestamp` is the attempt's), and records the answer: a 2xx ends it,
anything else is retried after `webhooks.retry_delays_s`. Several workers (hosts) may run it at
once: a claim is atomic.

One receiver never holds up another: each webhook has at most PER_WEBHOOK attempts in flight
(per process), a failing one is backed off as a whole (storage.webhooks), and the pool is far
larger than what one webhook may take.
"""

from __future__ import annotations

import logging
import signal
import time
import uuid
from collections import Counter
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import UTC, datetime

import urllib3
from standardwebhooks.webhooks import Webhook as Signer

from processor.outbound import UrlRefused, post, resolve
from storage import webhooks
from storage.database import db, open_database
from storage.models import Delivery, DeliveryState, utcnow
from video_manager import metrics
from video_manager.config import Config, WebhooksConfig
from video_manager.processes import die_with_parent_process

log = logging.getLogger(__name__)
SENDERS = 32  # attempts in flight at once per process
PER_WEBHOOK = 2  # of which for any one webhook
POLL_S = 0.25
LEASE_SLACK_S = 30.0  # beyond the attempt's timeout, before another sender may take it over
USER_AGENT = "video-manager-webhooks/1"


def signed_headers(secret: str, event_id: str, body: str, now: datetime) -> dict[str, str]:
    return {
        "webhook-id": event_id,
        "webhook-timestamp": str(int(now.timestamp())),
        "webhook-signature": Signer(secret).sign(event_id, now, body),
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
    }


def attempt(delivery: Delivery, config: WebhooksConfig) -> tuple[int | None, str | None]:
    """Send once: (the receiver's status code, None), or (None, why there was no answer)."""
    hook = delivery.webhook
    try:
        target = resolve(hook.url, allow_private=config.allow_private)
        headers = signed_headers(hook.secret, delivery.event_id, delivery.payload, datetime.now(UTC))
        return post(target, delivery.payload.encode(), headers, config.timeout_s), None
    except UrlRefused as exc:
        return None, exc.detail
    except (urllib3.exceptions.HTTPError, OSError) as exc:
        return None, _reason(exc)


def deliver(delivery: Delivery, config: WebhooksConfig) -> str:
    """One attempt, recorded; the delivery's state after it."""
    started_at = utcnow()
    status_code, error = attempt(delivery, config)
    with db.connection_context():
        state = webhooks.record_attempt(delivery, status_code, error, config.retry_delays_s, started_at)
    outcome = "retrying" if state == DeliveryState.PENDING else state or "gone"
    metrics.WEBHOOK_DELIVERIES.labels(outcome).inc()
    if state != DeliveryState.DELIVERED:
        log.info("webhook %s: %s %s → %s", delivery.webhook_id, delivery.event_type,
                 status_code or error, outcome)  # fmt: skip
    return state


def delivery_loop(config: Config) -> None:
    """The delivery process: claim what is due, keep up to SENDERS attempts in flight."""
    die_with_parent_process(signal.SIGTERM)  # a SIGKILLed worker leaves no helper behind
    logging.basicConfig(level=config.server.log_level.upper(), format="%(asctime)s %(name)s %(message)s")
    open_database(config.database_url)
    lease_s = config.webhooks.timeout_s + LEASE_SLACK_S
    in_flight: dict[Future, uuid.UUID] = {}  # attempt → its webhook
    with ThreadPoolExecutor(SENDERS, thread_name_prefix="webhook") as pool:
        while True:
            in_flight = {future: hook for future, hook in in_flight.items() if not future.done()}
            room = SENDERS - len(in_flight)
            if room > 0:
                try:
                    db.connect(reuse_if_open=True)  # one connection for the polling, not one a poll
                    due = webhooks.claim_due(room, lease_s, Counter(in_flight.values()), PER_WEBHOOK)
                except Exception:
                    log.exception("could not read due deliveries; will retry")
                    db.close()
                    due = []
                for delivery in due:
                    in_flight[pool.submit(_deliver_logged, delivery, config.webhooks)] = delivery.webhook_id
            time.sleep(POLL_S)


def _deliver_logged(delivery: Delivery, config: WebhooksConfig) -> None:
    try:
        deliver(delivery, config)
    except Exception:  # its lease runs out and it is tried again
        log.exception("delivery %s could not be recorded", delivery.id)


def _reason(exc: Exception) -> str:
    """Why no answer came, short and secret-free (the URL is its owner's own)."""
    if isinstance(exc, urllib3.exceptions.TimeoutError):
        return "timed out"
    return f"{type(exc).__name__}: {exc}"
