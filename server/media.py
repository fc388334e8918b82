"""Seeing a video before cutting it: the poster and thumbnails at any time, the storyboard for
scrubbing, and the URLs the owner's player plays (the adaptive ladder is server.streams').

Pictures are made by ffmpeg under the usual input rules and limits: the poster at ingest (by
the worker; on demand here if it is not there yet), thumbnails on demand (a few at a time per
process, kept for the next request), the storyboard by the worker (at ingest for short videos,
else on the first request: 202 until it is ready).
"""

from __future__ import annotations

import re
import threading
import uuid
from datetime import timedelta

from apiflask import APIBlueprint
from flask import Response, request, send_file
from pydantic import BaseModel, Field

from processor import stills
from processor.queue import STORYBOARD
from processor.renditions import POSTER, SPRITE
from processor.runner import FfmpegError
from server.auth import current_user, token_auth
from server.errors import ApiError, fail, not_found
from server.queueing import queue_render
from server.services import services
from server.shares import PUBLIC_CACHING, live_share
from server.streams import ladder_of, master_ready, start_ladder
from server.urls import external_url
from server.videos import owned_video, require_ready, send_video
from storage.models import Video, VideoStatus, utcnow
from storage.representation import iso_utc
from storage.signing import PLAYBACK_LIFETIME_S

bp = APIBlueprint("media", __name__, tag="Viewing")
RENDERING = threading.BoundedSemaphore(2)  # thumbnails made at once by one server process
OWNER_CACHING = "private, max-age=86400"  # a video never changes, nor its frame at a time
STORYBOARD_RETRY_S = 2
FIRST_SEGMENT_WAIT_S = 8.0  # a player's first playlist request waits this long for a segment
SEGMENT_NAME = re.compile(r"hls-(?:init\.mp4|\d{5}\.m4s)")


class ThumbnailQuery(BaseModel):
    time: float | None = Field(None, ge=0, description="Seconds; omitted: the poster")
    width: int | None = Field(
        None, ge=stills.MIN_THUMB_WIDTH, le=stills.MAX_THUMB_WIDTH, description="Pixels (height follows)"
    )


@bp.get("/api/videos/<uuid:video_id>/thumbnail.jpg")
@bp.auth_required(token_auth)
@bp.input(ThumbnailQuery, location="query", arg_name="query")
@bp.doc(summary="The poster, or the frame at `time` seconds (JPEG; ETag, cached)")
def thumbnail(video_id: uuid.UUID, query: ThumbnailQuery):
    response = _picture(require_ready(owned_video(video_id)), query)
    response.headers["Cache-Control"] = OWNER_CACHING
    return response


@bp.get("/s/<token>/thumbnail.jpg")
@bp.input(ThumbnailQuery, location="query", arg_name="query")
@bp.doc(summary="The shared video's poster, or its frame at `time` seconds", security=[])
def shared_thumbnail(token: str, query: ThumbnailQuery):
    response = _picture(live_share(token).video, query)
    response.headers["Cache-Control"] = PUBLIC_CACHING
    return response


def _picture(video: Video, query: ThumbnailQuery) -> Response:
    renderer = services().renderer
    if query.time is not None and video.duration is not None and query.time > video.duration:
        fail(400, "out_of_range", f"time {query.time:g} is beyond the video's duration {video.duration:g}.")
    try:
        if query.time is None and query.width is None:
            path = renderer.media.get(video.id, POSTER) or _rendering(renderer.poster, video)
        else:
            width = query.width or stills.POSTER_WIDTH
            path = _rendering(renderer.thumbnail, video, query.time or 0.0, width)
    except FfmpegError as exc:
        fail(422, "unreadable_video", f"No picture could be made of this video ({exc.code}).")
    return send_file(path, mimetype="image/jpeg", conditional=True, etag=True, max_age=None)


def _rendering(make, *args):
    with RENDERING:
        return make(*args)


class PlaybackOut(BaseModel):
    url: str = Field(description="Plays the video in a `<video>` element, no token header needed")
    hls_url: str | None = Field(
        description="The adaptive ladder's master playlist (hls.js, Safari), once a rung is ready; "
        "asking for playback starts the ladder"
    )
    expires_at: str


@bp.get("/api/videos/<uuid:video_id>/playback/")
@bp.auth_required(token_auth)
@bp.output(PlaybackOut)
@bp.doc(summary="A URL that plays the video for a few hours (a `<video>` cannot send a token)")
def playback(video_id: uuid.UUID):
    video = require_ready(owned_video(video_id))
    access = services().signer.playback_token(video.id)
    hls_url = None
    try:
        started = start_ladder(video)
    except ApiError:  # too many renders of this user's pending: the file plays meanwhile
        started = True
    if started and master_ready(ladder_of(video)) is not None:
        hls_url = external_url("streams.owner_playlist", video_id=video.id, access=access)
    return {
        "url": external_url("media.stream", video_id=video.id, access=access),
        "hls_url": hls_url,
        "expires_at": iso_utc(utcnow() + timedelta(seconds=PLAYBACK_LIFETIME_S)),
    }


@bp.get("/api/videos/<uuid:video_id>/stream/")
@bp.doc(summary="The video for playing: a faststart copy when the upload has its index at the end")
@token_auth.login_required(optional=True)
def stream(video_id: uuid.UUID):
    """With the token header, or the `access` parameter of a playback URL."""
    if current_user() is not None:
        video = require_ready(owned_video(video_id))
    elif services().signer.allows_playback(request.args.get("access", ""), video_id):
        video = Video.get_or_none((Video.id == video_id) & (Video.status == VideoStatus.READY))
        if video is None:
            not_found("video")
    else:
        fail(401, "unauthorized", "Send `Authorization: Token <key>`, or use a URL from playback/.")
    copy = services().renderer.faststart_if_made(video)
    if copy is None:
        response = send_video(video, as_attachment=False)
    else:
        response = send_file(copy, mimetype="video/mp4", conditional=True, etag=True, max_age=None)
        response.headers["Accept-Ranges"] = "bytes"
    response.headers["Cache-Control"] = "private, max-age=0, must-revalidate"
    return response


@bp.get("/api/videos/<uuid:video_id>/storyboard.vtt")
@bp.auth_required(token_auth)
@bp.doc(
    summary="WebVTT cues pointing into the storyboard sprite, for scrubbing previews",
    responses={202: "Being made: ask again after Retry-After seconds"},
)
def storyboard(video_id: uuid.UUID):
    video = require_ready(owned_video(video_id))
    board = services().renderer.storyboard_if_made(video)
    if board is None:
        queue_render(STORYBOARD, video)
        response = Response(
            '{"status": "pending", "detail": "The storyboard is being made; ask again shortly."}',
            status=202,
            mimetype="application/json",
        )
        response.headers["Retry-After"] = str(STORYBOARD_RETRY_S)
        return response
    sprite = external_url("media.storyboard_sprite", video_id=video.id)
    response = Response(storyboard_vtt(board, video.duration or 0.0, sprite), mimetype="text/vtt")
    response.headers["Cache-Control"] = OWNER_CACHING
    return response


@bp.get("/api/videos/<uuid:video_id>/storyboard.jpg")
@bp.auth_required(token_auth)
@bp.doc(summary="The storyboard sprite (tiles named by storyboard.vtt)")
def storyboard_sprite(video_id: uuid.UUID):
    video = require_ready(owned_video(video_id))
    path = services().renderer.media.get(video.id, SPRITE)
    if path is None:
        not_found("storyboard (ask for storyboard.vtt first)")
    response = send_file(path, mimetype="image/jpeg", conditional=True, etag=True, max_age=None)
    response.headers["Cache-Control"] = OWNER_CACHING
    return response


def storyboard_vtt(board: stills.Storyboard, duration: float, sprite_url: str) -> str:
    cues = ["WEBVTT", ""]
    for index in range(board.count):
        start = index * board.interval
        end = min(duration, start + board.interval)
        if end <= start:
            break
        x, y, width, height = board.tile(index)
        cues += [f"{_clock(start)} --> {_clock(end)}", f"{sprite_url}#xywh={x},{y},{width},{height}", ""]
    return "\n".join(cues)


def _clock(seconds: float) -> str:
    minutes, millis = divmod(round(seconds * 1000), 60_000)
    return f"{minutes // 60:02d}:{minutes % 60:02d}:{millis // 1000:02d}.{millis % 1000:03d}"
