"""Webhooks: a user's endpoints for events, and what each delivery attempt got (owner only)."""

from __future__ import annotations

import base64
import json
import secrets
import uuid
from typing import Literal

from apiflask import APIBlueprint
from pydantic import BaseModel, Field

from processor.outbound import UrlRefused, resolve
from server.auth import current_user, owned, token_auth
from server.errors import fail
from server.services import services
from storage import webhooks
from storage.models import Webhook
from storage.representation import iso_utc

bp = APIBlueprint("webhooks", __name__, tag="Webhooks")
MAX_WEBHOOKS_PER_USER = 20
SECRET_BYTES = 32

EventType = Literal[(*webhooks.EVENT_TYPES, webhooks.EVERY_EVENT)]


class WebhookIn(BaseModel):
    url: str = Field(max_length=2048, description="http(s) URL that receives a POST per event")
    events: list[EventType] = Field(
        default_factory=lambda: [webhooks.EVERY_EVENT],
        min_length=1,
        max_length=len(webhooks.EVENT_TYPES) + 1,
        description='The event types to send, or `"*"` for all (the default)',
    )


class WebhookOut(BaseModel):
    id: str
    url: str
    events: list[str]
    created_at: str
    status: str = Field(description="`active`, or `disabled` after failing through the whole retry schedule")


class WebhookCreatedOut(WebhookOut):
    secret: str = Field(description="Signs every delivery (Standard Webhooks); shown only now")


class WebhookListOut(BaseModel):
    results: list[WebhookOut]


class AttemptOut(BaseModel):
    event_id: str
    type: str
    attempt: int
    status_code: int | None = Field(description="The receiver's answer, or null when none came")
    error: str | None = Field(description="Why no answer came (refused, timed out, ...)")
    state: str = Field(description="The delivery now: pending (retries left), delivered or failed")
    attempted_at: str


class AttemptListOut(BaseModel):
    results: list[AttemptOut]


def webhook_out(hook: Webhook) -> dict:
    return {
        "id": str(hook.id),
        "url": hook.url,
        "events": json.loads(hook.events),
        "created_at": iso_utc(hook.created_at),
        "status": hook.status,
    }


@bp.post("/api/webhooks/")
@bp.auth_required(token_auth)
@bp.input(WebhookIn, arg_name="body")
@bp.output(WebhookCreatedOut, status_code=201)
@bp.doc(summary="Send events to a URL, signed with the secret in the answer (shown only once)")
def create(body: WebhookIn):
    owner = current_user().id
    if Webhook.select().where(Webhook.owner == owner).count() >= MAX_WEBHOOKS_PER_USER:
        fail(400, "too_many_webhooks", f"A user may have at most {MAX_WEBHOOKS_PER_USER} webhooks.")
    if Webhook.select().where((Webhook.owner == owner) & (Webhook.url == body.url)).exists():
        fail(409, "duplicate_webhook", "You already have a webhook for this URL; every event would go twice.")
    try:
        resolve(body.url, allow_private=services().config.webhooks.allow_private)
    except UrlRefused as exc:
        fail(400, exc.code, exc.detail)
    events = list(dict.fromkeys(body.events))
    secret = "whsec_" + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode()
    hook = Webhook.create(owner=owner, url=body.url, events=json.dumps(events), secret=secret)
    return {**webhook_out(hook), "secret": secret}


@bp.get("/api/webhooks/")
@bp.auth_required(token_auth)
@bp.output(WebhookListOut)
@bp.doc(summary="The caller's webhooks, oldest first")
def list_webhooks():
    hooks = Webhook.select().where(Webhook.owner == current_user().id).order_by(Webhook.created_at)
    return {"results": [webhook_out(hook) for hook in hooks]}


@bp.delete("/api/webhooks/<uuid:webhook_id>/")
@bp.auth_required(token_auth)
@bp.output({}, status_code=204)
@bp.doc(summary="Stop sending events to this webhook; deliveries still pending are dropped")
def delete(webhook_id: uuid.UUID):
    owned_webhook(webhook_id).delete_instance()  # its deliveries go with it (ON DELETE CASCADE)
    return ""


@bp.post("/api/webhooks/<uuid:webhook_id>/enable/")
@bp.auth_required(token_auth)
@bp.output(WebhookOut)
@bp.doc(summary="Turn a disabled webhook back on; the events it missed meanwhile are sent")
def enable(webhook_id: uuid.UUID):
    return webhook_out(webhooks.enable(owned_webhook(webhook_id)))


@bp.get("/api/webhooks/<uuid:webhook_id>/deliveries/")
@bp.auth_required(token_auth)
@bp.output(AttemptListOut)
@bp.doc(summary="The webhook's latest delivery attempts, newest first")
def deliveries(webhook_id: uuid.UUID):
    hook = owned_webhook(webhook_id)
    return {
        "results": [
            {
                "event_id": delivery.event_id,
                "type": delivery.event_type,
                "attempt": attempt.attempt,
                "status_code": attempt.status_code,
                "error": attempt.error,
                "state": delivery.state,
                "attempted_at": iso_utc(attempt.created_at),
            }
            for attempt, delivery in webhooks.recent_attempts(hook.id)
        ]
    }


def owned_webhook(webhook_id: uuid.UUID) -> Webhook:
    """The caller's webhook, or 404 whether it is missing or someone else's."""
    return owned(Webhook, webhook_id, "webhook")
