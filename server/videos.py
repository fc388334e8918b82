"""Videos: plain upload, list, detail, delete and ranged download of the caller's own videos."""

from __future__ import annotations

import uuid
from pathlib import Path
from urllib.parse import quote

from apiflask import APIBlueprint
from flask import Response, redirect, request, send_file
from werkzeug.http import parse_range_header, quote_header_value

from server import admission
from server.auth import current_user, owned, token_auth
from server.errors import fail, not_found
from server.events import announce, video_created
from server.schemas import VideoListOut, VideoOut
from server.services import services
from server.tus.protocol import metadata_name
from server.urls import representer
from storage.database import write_transaction
from storage.files import sharded
from storage.models import Video, VideoStatus
from storage.names import display_name
from video_manager import metrics
from video_manager.errors import InvalidVideoError

bp = APIBlueprint("videos", __name__, tag="Videos")
PRESIGNED_LIFETIME_S = 300


def require_ready(video: Video) -> Video:
    """Only ready videos can be processed or shared (a rejected upload has no file)."""
    if video.status != VideoStatus.READY:
        fail(400, "video_not_ready", f"Video {video.id} is {video.status}, not ready.")
    return video


def owned_video(video_id: uuid.UUID) -> Video:
    """The caller's video, or 404 whether it is missing or someone else's."""
    return owned(Video, video_id, "video")


@bp.post("/api/videos/upload/")
@bp.auth_required(token_auth)
@bp.output(VideoOut, status_code=201)
@bp.doc(summary="Upload a video as multipart field `file`")
def upload():
    """The body streams to a temp file; it becomes a video only once the probe accepts it."""
    part = request.files.get("file")
    if part is None:
        fail(400, "missing_file", "Send the video as multipart/form-data field `file`.")
    try:
        staged = Path(part.stream.name)
        metadata = admission.admit(
            "plain", part.filename or "", staged.stat().st_size, {"filename": part.filename or ""}
        )
        with admission.holding_quota(staged.stat().st_size):
            video = services().ingestor.ingest(
                staged,
                video_id=uuid.uuid4(),
                owner_id=current_user().id,
                name=display_name(metadata_name(metadata)),
                source="upload",
            )
    except InvalidVideoError as exc:
        fail(422, "invalid_video", f"The file is not a video we can read ({exc}).")
    finally:
        part.close()
    metrics.BYTES_RECEIVED.labels("plain").inc(video.size)
    video_created(video)
    return representer().video(video)


@bp.get("/api/videos/")
@bp.auth_required(token_auth)
@bp.output(VideoListOut)
@bp.doc(summary="The caller's videos, newest first")
def list_videos():
    videos = Video.select().where(Video.owner == current_user().id).order_by(Video.created_at.desc())
    return {"results": [representer().video(v) for v in videos]}


@bp.get("/api/videos/<uuid:video_id>/")
@bp.auth_required(token_auth)
@bp.output(VideoOut)
@bp.doc(summary="One video")
def get_video(video_id: uuid.UUID):
    return representer().video(owned_video(video_id))


@bp.delete("/api/videos/<uuid:video_id>/")
@bp.auth_required(token_auth)
@bp.output({}, status_code=204)
@bp.doc(summary="Delete a video, its file and its share links")
def delete_video(video_id: uuid.UUID):
    video = owned_video(video_id)
    with write_transaction():
        announce("video.deleted", video.owner_id, video)
        video.delete_instance(recursive=True)
    services().blobs.delete_video(video.id)
    services().renderer.delete_all(video.id)
    return ""


@bp.get("/api/videos/<uuid:video_id>/download/")
@bp.auth_required(token_auth)
@bp.doc(summary="The video's bytes; honours Range (206/416)")
def download(video_id: uuid.UUID):
    return send_video(owned_video(video_id), as_attachment=True)


def send_video(video: Video, *, as_attachment: bool):
    """Range, If-Range, ETag and HEAD through Werkzeug; gunicorn streams the file with sendfile().

    With `server.x_accel_redirect` set, nginx sends the file from its internal location instead
    (and handles Range itself); with `server.x_sendfile`, Flask hands the path to the proxy.
    """
    svc = services()
    if video.status != VideoStatus.READY:
        not_found("video file")
    _ignore_unsupported_range()
    path = svc.blobs.local_file(video.id)
    if path is None:
        return _send_object(video, as_attachment)
    if not path.is_file():
        not_found("video file")
    if svc.config.server.x_accel_redirect:
        response = Response(status=200, mimetype=video.content_type)
        relative = sharded(Path(), video.id).as_posix()
        response.headers["X-Accel-Redirect"] = svc.config.server.x_accel_redirect.rstrip("/") + "/" + relative
        response.headers["Content-Disposition"] = content_disposition(video.name, as_attachment)
        return response
    response = send_file(
        path,
        mimetype=video.content_type,
        as_attachment=as_attachment,
        download_name=video.name,
        conditional=True,
        etag=True,
        max_age=None,
    )
    response.headers["Accept-Ranges"] = "bytes"
    return response


def _send_object(video: Video, as_attachment: bool) -> Response:
    """From object storage: a 302 to a short-lived presigned URL (`s3.presigned_downloads`), or
    the bytes streamed through us with the one range asked for."""
    svc = services()
    blobs = svc.blobs
    disposition = content_disposition(video.name, as_attachment)
    url = svc.config.s3.presigned_downloads and blobs.presigned_url(
        video.id, expires_s=PRESIGNED_LIFETIME_S, disposition=disposition, content_type=video.content_type
    )
    if url:
        return redirect(url, 302)
    size = blobs.size(video.id)
    if size is None:
        not_found("video file")
    start, end, status = 0, size - 1, 200
    if request.range is not None:
        span = request.range.range_for_length(size)
        if span is None:
            fail(
                416,
                "range_not_satisfiable",
                f"The video has {size} bytes.",
                {"Content-Range": f"bytes */{size}"},
            )
        start, end, status = span[0], span[1] - 1, 206
    sending = request.method != "HEAD" and end >= start
    response = Response(
        blobs.read(video.id, start, end) if sending else (),
        status=status,
        mimetype=video.content_type,
        direct_passthrough=True,
    )
    response.headers["Content-Length"] = str(max(0, end - start + 1))
    response.headers["Accept-Ranges"] = "bytes"
    response.headers["Content-Disposition"] = disposition
    if status == 206:
        response.headers["Content-Range"] = f"bytes {start}-{end}/{size}"
    return response


def _ignore_unsupported_range() -> None:
    """RFC 9110 §14.2: a Range we do not serve (another unit, several ranges, nonsense) is
    ignored and the whole body sent, rather than refused with 416."""
    header = request.environ.get("HTTP_RANGE")
    if header is None:
        return
    parsed = parse_range_header(header)
    if parsed is None or parsed.units != "bytes" or len(parsed.ranges) != 1:
        del request.environ["HTTP_RANGE"]


def content_disposition(name: str, as_attachment: bool) -> str:
    kind = "attachment" if as_attachment else "inline"
    ascii_name = name.encode("ascii", "ignore").decode() or "video"
    return f"{kind}; filename={quote_header_value(ascii_name)}; filename*=UTF-8''{quote(name)}"
