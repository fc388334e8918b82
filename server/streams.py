"""The adaptive ladder over HTTP: the master playlist of a share (and of the owner's player),
each rendition's playlists and segments, and the MP4 renditions for download.

The ladder is made by the workers (processor.ladder_jobs) on the first request for it (or at
upload with `renditions.on_upload`). The master playlist lists the rungs that are ready, lowest
first, so a share plays as soon as one rung and the audio are; until then 503
`rendition_pending` with Retry-After. A rendition's files are served only once its row is ready:
nothing half-made is ever listed.
"""

from __future__ import annotations

import re
import time
import uuid

from apiflask import APIBlueprint
from flask import Response, request, send_file
from pydantic import BaseModel, Field

from processor import hls, streaming
from processor.queue import LADDER
from server.auth import token_auth
from server.errors import fail, not_found
from server.queueing import queue_render
from server.services import services
from server.shares import PUBLIC_CACHING, live_share
from server.urls import external_url
from server.videos import owned_video, require_ready
from storage.database import db
from storage.models import Rendition, RenditionChunk, RenditionStatus, Video, VideoStatus

bp = APIBlueprint("streams", __name__, tag="Adaptive streaming")
FIRST_RENDITION_WAIT_S = 8.0  # a player's first master playlist request waits this long for a rung
RENDITION_FILE = re.compile(r"hls-(\d+|audio)(?:\.m3u8|-iframes\.m3u8|-init\.mp4|-\d{5}\.m4s)")
OWNER_CACHING = "private, max-age=0, must-revalidate"


def ladder_of(video: Video) -> list[Rendition]:
    return list(Rendition.select().where(Rendition.video == video.id).order_by(Rendition.height))


def start_ladder(video: Video) -> bool:
    """Queue the ladder's planning if it was never planned; whether there is (or will be) one."""
    if not services().config.renditions.enabled:
        return False
    if not Rendition.select().where(Rendition.video == video.id).exists():
        queue_render(LADDER, video)
    return True


def master_ready(rows: list[Rendition]) -> list[Rendition] | None:
    """Of a ladder's rows, those a master playlist lists now, or None while it has nothing to
    play yet."""
    ready = [row for row in rows if row.status == RenditionStatus.READY]
    videos = [row for row in ready if row.height != Rendition.AUDIO_HEIGHT]
    audio_waited = any(
        row.height == Rendition.AUDIO_HEIGHT and row.status != RenditionStatus.READY for row in rows
    )
    audio_failed = any(
        row.height == Rendition.AUDIO_HEIGHT and row.status == RenditionStatus.FAILED for row in rows
    )
    if not videos or (audio_waited and not audio_failed):
        return None
    return ready


def _await_master(video: Video) -> list[Rendition]:
    if not start_ladder(video):
        fail(404, "not_found", "Adaptive streaming is turned off on this server (renditions.enabled).")
    deadline = time.monotonic() + FIRST_RENDITION_WAIT_S
    while True:
        rows = ladder_of(video)
        ready = master_ready(rows)
        if ready is not None:
            return ready
        if rows and all(
            row.status == RenditionStatus.FAILED for row in rows if row.height != Rendition.AUDIO_HEIGHT
        ):
            fail(422, "unreadable_video", "No rendition of this video could be made.")
        if time.monotonic() >= deadline:
            fail(
                503,
                "rendition_pending",
                "The stream is being prepared; try again shortly.",
                {"Retry-After": "2"},
            )
        db.close()  # not held while waiting
        time.sleep(0.25)


def master_playlist(rows: list[Rendition]) -> str:
    audio = next((row for row in rows if row.height == Rendition.AUDIO_HEIGHT), None)
    variants = [
        hls.Variant(
            playlist=streaming.rung_names(row.height)[0],
            iframes=streaming.iframes_name(row.height),
            width=row.width,
            height=row.height,
            frame_rate=row.frame_rate,
            codecs=row.codecs,
            peak_bps=row.peak_bps,
            average_bps=row.average_bps,
        )
        for row in rows
        if row.height != Rendition.AUDIO_HEIGHT
    ]
    measured = (
        hls.AudioRendition(streaming.rung_names(Rendition.AUDIO_HEIGHT)[0], audio.peak_bps, audio.average_bps)
        if audio
        else None
    )
    return hls.master_playlist(variants, measured)


def _playlist_response(text: str, caching: str) -> Response:
    response = Response(text, mimetype="application/vnd.apple.mpegurl")
    response.headers["Cache-Control"] = caching
    return response


def _rendition_file(video: Video, name: str, caching: str) -> Response:
    """A file of a ready rendition (playlists, init and media segments)."""
    matched = RENDITION_FILE.fullmatch(name)
    if matched is None:
        not_found("segment")
    height = Rendition.AUDIO_HEIGHT if matched.group(1) == "audio" else int(matched.group(1))
    ready = Rendition.select().where(
        (Rendition.video == video.id)
        & (Rendition.height == height)
        & (Rendition.status == RenditionStatus.READY)
    )
    path = services().renderer.media.get(video.id, name) if ready.exists() else None
    if path is None:
        not_found("segment")
    if name.endswith(".m3u8"):
        mimetype = "application/vnd.apple.mpegurl"
    else:
        mimetype = "video/iso.segment" if name.endswith(".m4s") else "video/mp4"
    response = send_file(path, mimetype=mimetype, conditional=True, etag=True, max_age=None)
    response.headers["Cache-Control"] = caching
    return response


# -- a share ------------------------------------------------------------------------------------


@bp.get("/s/<token>/hls.m3u8")
@bp.doc(
    summary="HLS master playlist of the shared video's adaptive ladder (made on first request)",
    security=[],
    responses={503: "Still being started: retry after Retry-After seconds"},
)
def shared_playlist(token: str):
    video = live_share(token).video
    return _playlist_response(master_playlist(_await_master(video)), "no-cache")  # grows as rungs finish


@bp.get("/s/<token>/<name>")
@bp.doc(summary="A playlist or segment of the shared video's ladder", security=[])
def shared_segment(token: str, name: str):
    return _rendition_file(live_share(token).video, name, PUBLIC_CACHING)


# -- the owner's player (a playback URL's access token in the path, so relative URIs work) --------


def _played(video_id: uuid.UUID, access: str) -> Video:
    if not services().signer.allows_playback(access, video_id):
        fail(
            401, "unauthorized", "This playback URL is not valid (or no longer); ask playback/ for a new one."
        )
    video = Video.get_or_none((Video.id == video_id) & (Video.status == VideoStatus.READY))
    if video is None:
        not_found("video")
    return video


@bp.get("/api/videos/<uuid:video_id>/hls/<access>/hls.m3u8")
@bp.doc(summary="The owner's player's master playlist (the `hls_url` of playback/)", security=[])
def owner_playlist(video_id: uuid.UUID, access: str):
    video = _played(video_id, access)
    return _playlist_response(master_playlist(_await_master(video)), "no-cache")


@bp.get("/api/videos/<uuid:video_id>/hls/<access>/<name>")
@bp.doc(summary="A playlist or segment of the owner's player's ladder", security=[])
def owner_segment(video_id: uuid.UUID, access: str, name: str):
    return _rendition_file(_played(video_id, access), name, OWNER_CACHING)


# -- MP4 renditions -----------------------------------------------------------------------------


class ChunkOut(BaseModel):
    index: int
    worker: str
    seconds: float
    attempts: int


class RenditionOut(BaseModel):
    height: int
    width: int
    bitrate: int = Field(description="Bits per second: measured once ready, else the rung's cap")
    status: str = Field(description="`queued`, `encoding`, `ready` or `failed`")
    url: str | None = Field(description="The MP4 rendition (faststart, Range), once ready")
    chunks: list[ChunkOut] = Field(description="Which worker encoded each chunk (none for a copied rung)")


class RenditionListOut(BaseModel):
    results: list[RenditionOut]


@bp.get("/api/videos/<uuid:video_id>/renditions/")
@bp.auth_required(token_auth)
@bp.output(RenditionListOut)
@bp.doc(summary="The video's ladder: each rung's size, bitrate and status (starts it if never made)")
def renditions(video_id: uuid.UUID):
    video = require_ready(owned_video(video_id))
    start_ladder(video)
    results = [
        {
            "height": row.height,
            "width": row.width,
            "bitrate": row.bitrate,
            "status": row.status,
            "url": external_url("streams.rendition_mp4", video_id=video.id, height=row.height)
            if row.status == RenditionStatus.READY
            else None,
            "chunks": [
                {"index": c.index, "worker": c.worker, "seconds": round(c.seconds, 3), "attempts": c.attempts}
                for c in row.chunks.order_by(RenditionChunk.index)
            ],
        }
        for row in reversed(ladder_of(video))
        if row.height != Rendition.AUDIO_HEIGHT
    ]
    return {"results": results}


@bp.get("/api/videos/<uuid:video_id>/renditions/<int:height>.mp4")
@bp.auth_required(token_auth)
@bp.doc(summary="One rung as an MP4 with the audio (faststart; Range)", responses={503: "Not made yet"})
def rendition_mp4(video_id: uuid.UUID, height: int):
    video = require_ready(owned_video(video_id))
    row = Rendition.get_or_none(
        (Rendition.video == video.id) & (Rendition.height == height) & (Rendition.height > 0)
    )
    if row is None:
        not_found("rendition")
    if row.status != RenditionStatus.READY:
        fail(503, "rendition_pending", f"The {height} rendition is {row.status}; try again shortly.",
             {"Retry-After": "5"})  # fmt: skip
    path = services().renderer.media.get(video.id, streaming.mp4_name(height))
    if path is None:
        not_found("rendition")
    stem = video.name.rsplit(".", 1)[0]
    response = send_file(path, mimetype="video/mp4", conditional=True, etag=True, max_age=None,
                         as_attachment=request.args.get("download") is not None,
                         download_name=f"{stem}-{height}p.mp4")  # fmt: skip
    response.headers["Accept-Ranges"] = "bytes"
    response.headers["Cache-Control"] = OWNER_CACHING
    return response
