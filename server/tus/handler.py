"""The tus 1.0.0 endpoint at /api/videos/chunked_upload/ with every extension.

This module speaks HTTP; storage.uploads keeps the bytes and a storage.locks locker serialises
requests (across processes, or across hosts with the Redis locker).
Store, lock and protocol errors carry their own code and status (video_manager.errors).
"""

from __future__ import annotations

import uuid

from apiflask import APIBlueprint
from flask import Response, current_app, request

from server import admission
from server.auth import current_user, token_auth
from server.body import BodyReader, drain_unread_body
from server.errors import ApiError, fail
from server.tus import chunk_form, ietf
from server.tus.protocol import (
    CHECKSUM_ALGORITHMS,
    EXTENSIONS,
    OFFSET_CONTENT_TYPE,
    TUS_VERSION,
    TusHeaderError,
    format_metadata,
    metadata_name,
    parse_checksum,
    parse_concat,
    parse_length,
    parse_metadata,
)
from server.tus.receiving import (
    bodiless,
    expires_header,
    finish,
    finish_if_received,
    location,
    receive,
    store,
    within_quota,
)
from storage.names import display_name
from video_manager import metrics
from video_manager.errors import ClientError

ENDPOINT = "/api/videos/chunked_upload/"
bp = APIBlueprint("tus", __name__, tag="tus resumable upload")


@bp.errorhandler(ClientError)
def _refused(exc: ClientError):
    """Every store, lock and protocol error, answered with its own code and status."""
    drain_unread_body(request)
    return current_app.error_callback(ApiError(exc.status, exc.code, exc.sentence()))


@bp.before_request
def _require_tus_version() -> None:
    """Every request but OPTIONS carries Tus-Resumable (the seed's multipart form is the exception)."""
    if request.method == "OPTIONS" or ietf.is_draft_request():
        return
    if request.method == "POST" and "Tus-Resumable" not in request.headers:
        return
    if request.headers.get("Tus-Resumable") != TUS_VERSION:
        fail(
            412, "unsupported_version", f"Tus-Resumable must be {TUS_VERSION}.", {"Tus-Version": TUS_VERSION}
        )


@bp.after_request
def _tus_resumable(response: Response) -> Response:
    if not ietf.is_draft_request():
        response.headers["Tus-Resumable"] = TUS_VERSION
    return response


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
            "Upload-Limit": f"min-size=0,max-size={store().max_size}",  # the IETF draft's limits
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
    if ietf.is_draft_request():
        return ietf.create()
    if "Tus-Resumable" not in request.headers:
        return chunk_form.receive_chunk()
    owner_id = current_user().id
    concat = parse_concat(request.headers.get("Upload-Concat"), ENDPOINT)
    metadata_header = request.headers.get("Upload-Metadata", "")
    name = display_name(metadata_name(parse_metadata(metadata_header)))

    if concat is not None and concat.kind == "final":
        with admission.holding_quota(store().concatenated_length(owner_id, list(concat.parts))):
            upload = store().concatenate(
                owner_id,
                list(concat.parts),
                metadata=metadata_header,
                name=name,
                concat_header=request.headers["Upload-Concat"],
            )
        metrics.UPLOADS.labels("created").inc()
        finish(upload)
        return bodiless(201, {"Location": location(upload)})

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
    with admission.holding_quota(length or 0):
        upload = store().create(
            owner_id, length=length, metadata=metadata_header, name=name, concat=concat.kind if concat else ""
        )
    metrics.UPLOADS.labels("created").inc()
    headers = {"Location": location(upload)}
    if request.mimetype == OFFSET_CONTENT_TYPE:
        reader = BodyReader(request)
        try:
            with store().locks.hold(str(upload.id), on_release_request=reader.release):
                headers["Upload-Offset"] = str(receive(upload, 0, reader))
        except OSError:  # a full disk: the client never learnt the upload's URL, so nothing stays
            store().terminate(upload)
            raise
    elif store().is_complete(upload, 0):
        finish(upload)
    return bodiless(201, {**headers, **expires_header(upload)})


@bp.route(ENDPOINT + "<uuid:upload_id>", methods=["HEAD"])
@bp.auth_required(token_auth)
@bp.doc(summary="Offset, length and metadata of an upload")
def head(upload_id: uuid.UUID):
    """Takes the lock like tusd, so a stale PATCH gives up and the offset is exact."""
    if ietf.is_draft_request():
        return ietf.head(upload_id)
    store().get(current_user().id, upload_id)
    with store().locks.hold(str(upload_id)):
        upload = store().get(current_user().id, upload_id)
        offset = store().offset(upload)
        finish_if_received(upload, offset)
        headers = {"Upload-Offset": str(offset), "Cache-Control": "no-store"}
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
    return bodiless(200, {**headers, **expires_header(upload)})


@bp.patch(ENDPOINT + "<uuid:upload_id>")
@bp.auth_required(token_auth)
@bp.doc(summary="Append bytes at Upload-Offset (checksum and checksum-trailer supported)")
def patch(upload_id: uuid.UUID):
    if ietf.is_draft_request():
        return ietf.append(upload_id)
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
            within_quota(upload, offset + (request.content_length or 0))
        new_offset = receive(upload, offset, reader)
    return bodiless(204, {"Upload-Offset": str(new_offset), **expires_header(upload)})


@bp.delete(ENDPOINT + "<uuid:upload_id>")
@bp.auth_required(token_auth)
@bp.doc(summary="Terminate an upload and delete its bytes")
def terminate(upload_id: uuid.UUID):
    store().get(current_user().id, upload_id)
    with store().locks.hold(str(upload_id)):
        store().terminate(store().get(current_user().id, upload_id))
    store().locks.forget(str(upload_id))
    metrics.UPLOADS.labels("terminated").inc()
    return bodiless(204, {})
