"""Share links: create, list and revoke (owner only), and the public, ranged download at /s/<token>."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from apiflask import APIBlueprint
from pydantic import AwareDatetime, BaseModel, Field

from server.auth import current_user, token_auth
from server.errors import fail, not_found
from server.schemas import iso_utc
from server.services import services
from server.signing import InvalidShareToken
from server.urls import base_url
from server.videos import owned_video, require_ready, send_video
from storage.models import Share, Video, utcnow

bp = APIBlueprint("shares", __name__, tag="Share links")


class ShareIn(BaseModel):
    expiry_time: float | AwareDatetime | datetime = Field(
        description="Seconds from now, or an ISO-8601 datetime (UTC when no offset is given)"
    )


class ShareOut(BaseModel):
    id: str
    url: str
    expires_at: str
    created_at: str
    revoked: bool


class ShareListOut(BaseModel):
    results: list[ShareOut]


def share_out(share: Share) -> dict:
    token = services().signer.token(share.id, share.expires_at)
    return {
        "id": str(share.id),
        "url": f"{base_url()}/s/{token}",
        "expires_at": iso_utc(share.expires_at),
        "created_at": iso_utc(share.created_at),
        "revoked": share.revoked_at is not None,
    }


@bp.post("/api/videos/<uuid:video_id>/share/")
@bp.auth_required(token_auth)
@bp.input(ShareIn, arg_name="body")
@bp.output(ShareOut, status_code=201)
@bp.doc(summary="Create a signed, expiring link that plays the video without a token")
def create(video_id: uuid.UUID, body: ShareIn):
    video = require_ready(owned_video(video_id))
    now = utcnow()
    expires_at = _expiry(body.expiry_time, now)
    limit = services().config.shares.max_expiry_s
    if expires_at <= now:
        fail(400, "invalid_expiry", "expiry_time must be in the future (seconds > 0).")
    if expires_at > now + timedelta(seconds=limit):
        fail(400, "invalid_expiry", f"expiry_time may be at most {limit} seconds from now.")
    share = Share.create(video=video, owner=current_user().id, expires_at=_whole_second_after(expires_at))
    return share_out(share)


@bp.get("/api/videos/<uuid:video_id>/shares/")
@bp.auth_required(token_auth)
@bp.output(ShareListOut)
@bp.doc(summary="The video's share links, newest first")
def list_for_video(video_id: uuid.UUID):
    video = owned_video(video_id)
    shares = Share.select().where(Share.video == video.id).order_by(Share.created_at.desc())
    return {"results": [share_out(share) for share in shares]}


@bp.delete("/api/shares/<uuid:share_id>/")
@bp.auth_required(token_auth)
@bp.output({}, status_code=204)
@bp.doc(summary="Revoke a share link; it stops working at once")
def revoke(share_id: uuid.UUID):
    share = Share.get_or_none((Share.id == share_id) & (Share.owner == current_user().id))
    if share is None:
        not_found("share link")
    if share.revoked_at is None:
        share.revoked_at = utcnow()
        share.save(only=[Share.revoked_at])
    return ""


@bp.route("/s/<token>", methods=["GET", "HEAD"])
@bp.doc(summary="Public download of a shared video (no token; Range supported)", security=[])
def public(token: str):
    try:
        share_id, expires_at = services().signer.verify(token)
    except InvalidShareToken:
        not_found("share link")
    share = Share.select(Share, Video).join(Video).where(Share.id == share_id).first()
    if share is None:
        not_found("share link")
    if share.revoked_at is not None:
        fail(410, "link_revoked", "This link has been revoked.")
    if min(share.expires_at, expires_at) <= utcnow():
        fail(410, "link_expired", "This link has expired.")
    response = send_video(share.video, as_attachment=False)
    response.headers["Cache-Control"] = "private, max-age=0, must-revalidate"
    return response


def _whole_second_after(moment: datetime) -> datetime:
    """Tokens carry whole seconds; rounding up never cuts a link's life short."""
    whole = moment.replace(microsecond=0)
    return whole if whole == moment else whole + timedelta(seconds=1)


def _expiry(value: float | datetime, now: datetime) -> datetime:
    if isinstance(value, datetime):
        if value.tzinfo is not None:
            value = value.astimezone(UTC).replace(tzinfo=None)
        return value
    return now + timedelta(seconds=value)
