"""The tus 1.0.0 endpoint at /api/videos/chunked_upload/ with every extension.

This module speaks HTTP; storage.uploads keeps the bytes and a storage.locks locker serialises
requests (across processes, or across hosts with the Redis locker).
Store and protocol errors map to status codes through one table (ERRORS).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import IO

from apiflask import APIBlueprint
from flask import Response, current_app, request

from server import admission
from server.auth import current_user, token_auth
from server.body import READ_SIZE, BodyReader, drain_unread_body
from server.errors import ApiError, fail
from server.events import announce, video_event
from server.queueing import prepare_for_viewing
from server.services import services
from server.tus import chunk_form
from server.tus.protocol import (
    CHECKSUM_ALGORITHMS,
    EXTENSIONS,
    OFFSET_CONTENT_TYPE,
    TUS_VERSION,
    Checksum,
    ChecksumAlgorithmError,
    ChecksumMismatchError,
    TusHeaderError,
    format_expires,
    format_metadata,
    metadata_name,
    parse_checksum,
    parse_concat,
    parse_length,
    parse_metadata,
)
from server.urls import external_url
from storage.locks import LockUnavailableError, UploadLockedError
from storage.models import Upload, Video, VideoStatus
from storage.names import display_name
from storage.uploads import (
    ConcatError,
    FinalUploadModifiedError,
    InvalidLengthError,
    OffsetMismatchError,
    SizeExceededError,
    UploadError,
    UploadExpiredError,
    UploadNotFoundError,
    UploadStore,
)
from video_manager import metrics

ENDPOINT = "/api/videos/chunked_upload/"
bp = APIBlueprint("tus", __name__, tag="tus resumable upload")


class UploadInterruptedError(RuntimeError):
    """The body stopped early (client gone, or a newer request took the lock)."""


ERRORS: dict[type[Exception], tuple[int, str]] = {
    UploadNotFoundError: (404, "not_found"),
    UploadExpiredError: (410, "upload_expired"),
    OffsetMismatchError: (409, "offset_mismatch"),
    SizeExceededError: (413, "too_large"),
    InvalidLengthError: (400, "invalid_length"),
    FinalUploadModifiedError: (403, "final_upload"),
    ConcatError: (400, "invalid_concat"),
    UploadLockedError: (423, "upload_locked"),
    LockUnavailableError: (503, "lock_unavailable"),
    TusHeaderError: (400, "invalid_header"),
    ChecksumAlgorithmError: (400, "unsupported_checksum"),
    ChecksumMismatchError: (460, "checksum_mismatch"),
    UploadInterruptedError: (400, "upload_interrupted"),
}
DETAILS = {
    UploadNotFoundError: "No such upload.",
    UploadExpiredError: "The upload has expired; start a new one.",
}


@bp.errorhandler(UploadError)
@bp.errorhandler(UploadLockedError)
@bp.errorhandler(LockUnavailableError)
@bp.errorhandler(TusHeaderError)
@bp.errorhandler(ChecksumAlgorithmError)
@bp.errorhandler(ChecksumMismatchError)
@bp.errorhandler(UploadInterruptedError)
def _tus_error(exc: Exception):
    status, code = ERRORS[type(exc)]
    drain_unread_body(request)
    return current_app.error_callback(ApiError(status, code, DETAILS.get(type(exc)) or _sentence(str(exc))))


def _sentence(text: str) -> str:
    return (text[:1].upper() + text[1:] + ".") if text else "The request was refused."


@bp.before_request
def _require_tus_version() -> None:
    """Every request but OPTIONS carries Tus-Resumable (the seed's multipart form is the exception)."""
    if request.method == "OPTIONS" or (request.method == "POST" and "Tus-Resumable" not in request.headers):
        return
    if request.headers.get("Tus-Resumable") != TUS_VERSION:
        fail(
            412, "unsupported_version", f"Tus-Resumable must be {TUS_VERSION}.", {"Tus-Version": TUS_VERSION}
        )


@bp.after_request
def _tus_resumable(response: Response) -> Response:
    response.headers["Tus-Resumable"] = TUS_VERSION
    return response


def store() -> UploadStore:
    return services().uploads


@bp.route(ENDPOINT, methods=["OPTIONS"])
@bp.route(ENDPOINT + "<uuid:upload_id>", methods=["OPTIONS"])
@bp.doc(summary="tus capabilities: version, extensions, max size, checksum algorithms")
def options(upload_id: uuid.UUID | None = None):
    return (
        "",
        204,
        {
            "Tus-Version": TUS_VERSION,
            "Tus-Extension": ",".join(EXTENSIONS),
            "Tus-Max-Size": str(store().max_size),
            "Tus-Checksum-Algorithm": ",".join(CHECKSUM_ALGORITHMS),
        },
    )


@bp.post(ENDPOINT)
@bp.auth_required(token_auth)
@bp.doc(
    summary="Create a tus upload (creation, creation-with-upload, defer-length, concatenation)",
    description="Without a Tus-Resumable header, a multipart POST is the seed API's chunk form: "
    "fields chunk_number, total_chunks, file_id, file_name, chunk.",
    responses={201: "Created; Location names the upload"},
)
def create():
    if "Tus-Resumable" not in request.headers:
        return chunk_form.receive_chunk()
    owner_id = current_user().id
    concat = parse_concat(request.headers.get("Upload-Concat"), ENDPOINT)
    metadata_header = request.headers.get("Upload-Metadata", "")
    name = display_name(metadata_name(parse_metadata(metadata_header)))

    if concat is not None and concat.kind == "final":
        upload = store().concatenate(
            owner_id,
            list(concat.parts),
            metadata=metadata_header,
            name=name,
            concat_header=request.headers["Upload-Concat"],
        )
        metrics.UPLOADS.labels("created").inc()
        _finish(upload)
        return _reply(201, {"Location": _location(upload)})

    length = parse_length("Upload-Length", request.headers.get("Upload-Length"), required=False)
    deferred = request.headers.get("Upload-Defer-Length")
    if deferred is not None and deferred.strip() != "1":
        raise TusHeaderError("Upload-Defer-Length must be 1")
    if (length is None) == (deferred is None):
        raise TusHeaderError("send exactly one of Upload-Length and Upload-Defer-Length: 1")
    metadata = parse_metadata(metadata_header)
    admitted = admission.admit("tus", name, length, metadata)
    if admitted != metadata:
        metadata_header = format_metadata(admitted)
        name = display_name(metadata_name(admitted))
    upload = store().create(
        owner_id, length=length, metadata=metadata_header, name=name, concat=concat.kind if concat else ""
    )
    metrics.UPLOADS.labels("created").inc()
    headers = {"Location": _location(upload)}
    if request.mimetype == OFFSET_CONTENT_TYPE:
        reader = BodyReader(request)
        try:
            with store().locks.hold(str(upload.id), on_release_request=reader.release):
                headers["Upload-Offset"] = str(_receive(upload, 0, reader))
        except OSError:  # a full disk: the client never learnt the upload's URL, so nothing stays
            store().terminate(upload)
            raise
    elif store().is_complete(upload, 0):
        _finish(upload)
    return _reply(201, {**headers, **_expires(upload)})


@bp.route(ENDPOINT + "<uuid:upload_id>", methods=["HEAD"])
@bp.auth_required(token_auth)
@bp.doc(summary="Offset, length and metadata of an upload")
def head(upload_id: uuid.UUID):
    """Takes the lock like tusd, so a stale PATCH gives up and the offset is exact."""
    store().get(current_user().id, upload_id)
    with store().locks.hold(str(upload_id)):
        upload = store().get(current_user().id, upload_id)
        headers = {"Upload-Offset": str(store().offset(upload)), "Cache-Control": "no-store"}
    if upload.length is None:
        headers["Upload-Defer-Length"] = "1"
    else:
        headers["Upload-Length"] = str(upload.length)
    if upload.metadata:
        headers["Upload-Metadata"] = upload.metadata
    if upload.concat == "partial":
        headers["Upload-Concat"] = "partial"
    elif upload.concat == "final":
        headers["Upload-Concat"] = upload.concat_header
    return _reply(200, {**headers, **_expires(upload)})


@bp.patch(ENDPOINT + "<uuid:upload_id>")
@bp.auth_required(token_auth)
@bp.doc(summary="Append bytes at Upload-Offset (checksum and checksum-trailer supported)")
def patch(upload_id: uuid.UUID):
    if request.mimetype != OFFSET_CONTENT_TYPE:
        fail(415, "unsupported_media_type", f"PATCH bodies must be {OFFSET_CONTENT_TYPE}.")
    offset = parse_length("Upload-Offset", request.headers.get("Upload-Offset"))
    declared = parse_length("Upload-Length", request.headers.get("Upload-Length"), required=False)
    parse_checksum(request.headers.get("Upload-Checksum"))  # reject unknown algorithms before reading
    store().get(current_user().id, upload_id)
    reader = BodyReader(request)
    with store().locks.hold(str(upload_id), on_release_request=reader.release):
        upload = store().get(current_user().id, upload_id)
        if declared is not None:
            admission.check_quota(declared, besides=upload.id)
            store().declare_length(upload, declared)
        elif upload.length is None:
            _within_quota(upload, offset + (request.content_length or 0))
        new_offset = _receive(upload, offset, reader)
    return _reply(204, {"Upload-Offset": str(new_offset), **_expires(upload)})


@bp.delete(ENDPOINT + "<uuid:upload_id>")
@bp.auth_required(token_auth)
@bp.doc(summary="Terminate an upload and delete its bytes")
def terminate(upload_id: uuid.UUID):
    store().get(current_user().id, upload_id)
    with store().locks.hold(str(upload_id)):
        store().terminate(store().get(current_user().id, upload_id))
    store().locks.forget(str(upload_id))
    metrics.UPLOADS.labels("terminated").inc()
    return _reply(204, {})


# -- shared steps ----------------------------------------------------------------------------


def _within_quota(upload: Upload, size: int) -> None:
    """An upload of deferred length that would cross the quota is refused and removed whole."""
    try:
        admission.check_quota(size, besides=upload.id)
    except ApiError:
        store().terminate(upload)
        metrics.UPLOADS.labels("terminated").inc()
        raise


def _receive(upload: Upload, offset: int, reader: BodyReader) -> int:
    """Append this request's body at `offset` under the held lock; return the new offset.

    A body of known length, without a checksum, streams straight into the store: whatever
    arrives counts, even if the client drops. A body that must be checked first (a checksum in
    a header or a trailer) or whose length is unknown (it may overrun) waits in a temp file
    until it is whole and right, so a chunk that fails commits nothing, on any storage backend.
    """
    uploads = store()
    uploads.check_patch(upload, offset, request.content_length)
    reader.limit = uploads.room(upload, offset)
    if request.content_length is not None and not _checksum_requested():
        new_offset = uploads.append(upload, offset, reader.chunks())
    else:
        new_offset = _append_checked(upload, offset, reader)
    metrics.BYTES_RECEIVED.labels("tus").inc(new_offset - offset)
    if reader.released.is_set():
        raise UploadInterruptedError("a newer request for this upload took over; the bytes received are kept")
    if uploads.is_complete(upload, new_offset):
        _finish(upload)
    return new_offset


def _checksum_requested() -> bool:
    trailer = "upload-checksum" in request.headers.get("Trailer", "").lower()
    return "Upload-Checksum" in request.headers or trailer


def _append_checked(upload: Upload, offset: int, reader: BodyReader) -> int:
    with services().blobs.temp_file() as spool:
        for chunk in reader.chunks():
            spool.write(chunk)
        if reader.overrun:
            raise SizeExceededError("the body is longer than the upload's remaining length")
        checksum = _requested_checksum(reader)
        if checksum is not None:
            if reader.interrupted:
                raise UploadInterruptedError("the body ended early; the chunk was discarded")
            hasher = checksum.new_hasher()
            for piece in _pieces(spool):
                hasher.update(piece)
            checksum.verify(hasher)
        return store().append(upload, offset, _pieces(spool))


def _pieces(spool: IO[bytes]) -> Iterator[bytes]:
    spool.seek(0)
    return iter(lambda: spool.read(READ_SIZE), b"")


def _requested_checksum(reader: BodyReader) -> Checksum | None:
    header = request.headers.get("Upload-Checksum")
    if header is None and "upload-checksum" in request.headers.get("Trailer", "").lower():
        header = reader.trailer("Upload-Checksum")
        if header is None and not reader.interrupted:
            raise TusHeaderError("the Upload-Checksum trailer announced by the client did not arrive")
    return parse_checksum(header)


def _finish(upload: Upload) -> None:
    """The last byte is in: probe it and turn it into the video with the same id.

    The video is recorded before the upload is marked complete, so a crash in between leaves an
    upload the client can finish again (an empty PATCH), and that second pass finds the video.
    """
    uploads = store()
    metrics.UPLOADS.labels("finished").inc()
    if upload.concat == "partial":  # partial uploads only wait to be concatenated
        uploads.finish(upload)
        uploads.mark_complete(upload)
        return
    if not Video.select().where(Video.id == upload.id).exists():
        uploads.finish(upload)
        video = services().ingestor.ingest_upload(
            uploads.data, upload.id, size=upload.length, owner_id=upload.owner_id, name=upload.name
        )
        announce(video_event(video), video.owner_id, video)
        if video.status == VideoStatus.READY:
            prepare_for_viewing(video)
    uploads.mark_complete(upload)
    uploads.discard_data(upload)


def _reply(status: int, headers: dict[str, str]) -> Response:
    """Bodiless tus answer: status and headers only, no Content-Type."""
    response = Response(status=status, headers=headers)
    del response.headers["Content-Type"]
    return response


def _location(upload: Upload) -> str:
    return external_url("tus.head", upload_id=upload.id)


def _expires(upload: Upload) -> dict[str, str]:
    if upload.state != "receiving":
        return {}
    return {"Upload-Expires": format_expires(upload.expires_at)}
