"""Share links: create, list and revoke (owner only), and the public, ranged download at /s/<token>."""

from __future__ import annotations

import math
import uuid
from datetime import UTC, datetime, timedelta
from typing import Annotated

from apiflask import APIBlueprint
from flask import render_template, request, url_for
from pydantic import BaseModel, BeforeValidator, Field

from server.auth import current_user, owned, token_auth
from server.errors import ApiError, fail, not_found
from server.events import announce
from server.schemas import ShareListOut, ShareOut
from server.services import services
from server.urls import external_url, representer
from server.videos import owned_video, require_ready, send_video
from storage.database import write_transaction
from storage.models import Share, Video, utcnow
from storage.signing import InvalidShareToken

bp = APIBlueprint("shares", __name__, tag="Share links")
PUBLIC_CACHING = "private, max-age=0, must-revalidate"  # a link may be revoked at any moment


def parse_expiry(value: object) -> float | datetime:
    """Seconds from now (a finite number, not a boolean), or an ISO-8601 datetime as naive UTC."""
    if isinstance(value, bool):
        raise ValueError("must be seconds (a number) or an ISO-8601 datetime, not a boolean")
    if isinstance(value, int | float):
        try:
            seconds = float(value)
        except OverflowError:
            raise ValueError("is too large") from None
        if not math.isfinite(seconds):
            raise ValueError("must be a finite number of seconds")
        return seconds
    if isinstance(value, str):
        try:
            moment = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        except ValueError:
            raise ValueError(f"{value!r} is not seconds or an ISO-8601 datetime") from None
        try:
            return moment.astimezone(UTC).replace(tzinfo=None) if moment.tzinfo else moment
        except OverflowError:
            raise ValueError(f"{value!r} is outside the range of dates") from None
    raise ValueError("must be seconds (a number) or an ISO-8601 datetime")


class ShareIn(BaseModel):
    expiry_time: Annotated[float | datetime, BeforeValidator(parse_expiry)] = Field(
        description="Seconds from now, or an ISO-8601 datetime (UTC when no offset is given)",
        json_schema_extra={"anyOf": [{"type": "number"}, {"type": "string", "format": "date-time"}]},
    )


@bp.post("/api/videos/<uuid:video_id>/share/")
@bp.auth_required(token_auth)
@bp.input(ShareIn, arg_name="body")
@bp.output(ShareOut, status_code=201)
@bp.doc(summary="Create a signed, expiring link that plays the video without a token")
def create(video_id: uuid.UUID, body: ShareIn):
    video = require_ready(owned_video(video_id))
    now = utcnow()
    limit = services().config.shares.max_expiry_s
    expires_at = _expiry(body.expiry_time, now, limit)
    with write_transaction():
        share = Share.create(video=video, owner=current_user().id, expires_at=_whole_second_after(expires_at))
        announce("share.created", share.owner_id, share)
    return representer().share(share)


@bp.get("/api/videos/<uuid:video_id>/shares/")
@bp.auth_required(token_auth)
@bp.output(ShareListOut)
@bp.doc(summary="The video's share links, newest first")
def list_for_video(video_id: uuid.UUID):
    video = owned_video(video_id)
    shares = Share.select().where(Share.video == video.id).order_by(Share.created_at.desc())
    return {"results": [representer().share(share) for share in shares]}


@bp.delete("/api/shares/<uuid:share_id>/")
@bp.auth_required(token_auth)
@bp.output({}, status_code=204)
@bp.doc(summary="Revoke a share link; it stops working at once")
def revoke(share_id: uuid.UUID):
    share = owned(Share, share_id, "share link")
    if share.revoked_at is None:
        with write_transaction():
            share.revoked_at = utcnow()
            share.save(only=[Share.revoked_at])
            announce("share.revoked", share.owner_id, share)
    return ""


@bp.route("/s/<token>", methods=["GET", "HEAD"])
@bp.doc(
    summary="A shared video: a page with a player for browsers (Accept: text/html), else its bytes "
    "(no token; Range supported; `?download=1` as an attachment)",
    security=[],
)
def public(token: str):
    if wants_page():
        return _page(token)
    download = request.args.get("download") == "1"
    response = send_video(live_share(token).video, as_attachment=download)
    response.headers["Cache-Control"] = PUBLIC_CACHING
    return response


def wants_page() -> bool:
    """A browser navigating to the link (it asks for text/html by name, above anything else),
    not a `<video>` element, curl or an API client (`*/*`, `video/*`, JSON)."""
    accept = request.accept_mimetypes
    named = {value for value, _quality in accept}
    return (
        "text/html" in named
        and accept.best_match(["text/html", "video/mp4", "application/json"]) == "text/html"
    )


def _page(token: str):
    """The recipient's page: the video's name, poster and player, a download button, and the
    tags chat apps unfurl a link with. Nothing of the owner is shown."""
    try:
        share = live_share(token)
    except ApiError as gone:
        if gone.status_code != 410:
            raise
        page = render_template("share_gone.html", detail=gone.message)
        return page, 410, {"Content-Type": "text/html; charset=utf-8", "Cache-Control": PUBLIC_CACHING}
    video = share.video
    page = render_template(
        "share.html",
        name=video.name,
        content_type=video.content_type,
        poster_url=external_url("media.shared_thumbnail", token=token),
        playlist_url=external_url("streams.shared_playlist", token=token),
        video_url=external_url("shares.public", token=token),
        download_url=external_url("shares.public", token=token, download=1),
        hls_js_url=url_for("web.vendor", library="hls.js", filename="hls.min.js"),
    )
    headers = {"Content-Type": "text/html; charset=utf-8", "Cache-Control": PUBLIC_CACHING, "Vary": "Accept"}
    return page, 200, headers


def live_share(token: str) -> Share:
    """The share (with its video) a public URL names: 404 unknown or tampered, 410 revoked or
    expired. Everything under /s/<token> goes through here."""
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
    return share


def _whole_second_after(moment: datetime) -> datetime:
    """Tokens carry whole seconds; rounding up never cuts a link's life short."""
    whole = moment.replace(microsecond=0)
    return whole if whole == moment else whole + timedelta(seconds=1)


def _expiry(value: float | datetime, now: datetime, limit_s: int) -> datetime:
    """The moment the link dies; 400 unless it lies within (now, now + limit_s] (checked before
    any date arithmetic that could overflow)."""
    seconds = value if isinstance(value, float) else (value - now).total_seconds()
    if seconds <= 0:
        fail(400, "invalid_expiry", "expiry_time must be in the future (seconds > 0).")
    if seconds > limit_s:
        fail(400, "invalid_expiry", f"expiry_time may be at most {limit_s} seconds from now.")
    return value if isinstance(value, datetime) else now + timedelta(seconds=seconds)
