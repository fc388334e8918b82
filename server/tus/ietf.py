"""Resumable Uploads for HTTP (the IETF draft, draft-ietf-httpbis-resumable-upload) at the tus
endpoint, beside tus 1.0.0.

A request with `Upload-Draft-Interop-Version` and without `Tus-Resumable` is a draft request;
`Tus-Resumable` always means tus 1.0.0, so the two never mix. A draft upload is an upload like
any other: same rows and bytes, same id (the video's), owner, locks and release requests, quota,
admission hook, expiry and probe. Interop versions served (docs/uploads.md says how they differ):

- 3 (draft -01): `Upload-Incomplete` (the inverse) instead of `Upload-Complete`;
- 4 (-02) and 5 (-03): `Upload-Complete`; append bodies of any media type;
- 6 (-04, -05): append bodies must be `application/partial-upload`;
- 7 (-06 to -08): `Upload-Limit` says `max-age` (it said `expires`); problem types;
- 8 (-09 on, the current one): as 7 on the wire.

The creation request gets a `104 (Upload Resumption Supported)` interim response with the
upload's `Location` before its body is read, where the server can send one (server.interim).
"""

from __future__ import annotations

import json
import uuid

from flask import Response, request
from werkzeug.http import parse_options_header

from server import admission
from server.auth import current_user
from server.body import BodyReader
from server.errors import fail
from server.interim import send_interim
from server.tus.protocol import TusHeaderError, format_metadata, metadata_name, parse_length, parse_metadata
from server.tus.receiving import bodiless, finish, finish_if_received, location, receive, store, within_quota
from storage.models import Upload, UploadState, utcnow
from storage.names import display_name
from video_manager import metrics

VERSIONS = ("3", "4", "5", "6", "7", "8")
CURRENT = "8"
PARTIAL_UPLOAD = "application/partial-upload"
PROBLEM_TYPES = "https://iana.org/assignments/http-problem-types#"
HEADERS = ["Upload-Draft-Interop-Version", "Upload-Complete", "Upload-Incomplete", "Upload-Limit"]


class InconsistentLengthError(ValueError):
    """The request's length indications disagree with each other or with the upload's."""


def is_draft_request() -> bool:
    return "Upload-Draft-Interop-Version" in request.headers and "Tus-Resumable" not in request.headers


def interop_version() -> str:
    value = request.headers["Upload-Draft-Interop-Version"].strip()
    if value not in VERSIONS:
        fail(400, "unsupported_interop_version",
             f"Upload-Draft-Interop-Version {value[:20]!r} is not served; versions 3 to 8 are.")  # fmt: skip
    return value


# -- the routes, as the tus handler hands draft requests over ---------------------------------


def create() -> Response:
    version = interop_version()
    complete = _requested_completion(version)
    declared = parse_length("Upload-Length", request.headers.get("Upload-Length"), required=False)
    length = declared
    if complete and request.content_length is not None:
        if declared is not None and declared != request.content_length:
            return _inconsistent(version)
        length = request.content_length
    metadata = _metadata()
    admitted = admission.admit("tus", metadata.get("filename", ""), length, metadata)
    with admission.holding_quota(length or 0):
        upload = store().create(
            current_user().id, length=length, metadata=format_metadata(admitted),
            name=display_name(metadata_name(admitted)),
        )  # fmt: skip
    metrics.UPLOADS.labels("created").inc()
    send_interim(request.environ, 104, {"Location": location(upload), **_state(version, upload)})
    reader = BodyReader(request)
    try:
        with store().locks.hold(str(upload.id), on_release_request=reader.release):
            offset = _append(upload, 0, reader, complete)
    except InconsistentLengthError:
        return _inconsistent(version)
    except OSError:  # a full disk: nothing of it stays
        store().terminate(upload)
        raise
    return bodiless(201, _answer(version, upload, offset, Location=location(upload)))


def head(upload_id: uuid.UUID) -> Response:
    version = interop_version()
    store().get(current_user().id, upload_id)
    with store().locks.hold(str(upload_id)):
        upload = store().get(current_user().id, upload_id)
        offset = store().offset(upload)
        finish_if_received(upload, offset)
    return bodiless(204, {**_answer(version, upload, offset), "Cache-Control": "no-store"})


def append(upload_id: uuid.UUID) -> Response:
    version = interop_version()
    if int(version) >= 6 and request.mimetype != PARTIAL_UPLOAD:
        fail(415, "unsupported_media_type", f"Append bodies must be {PARTIAL_UPLOAD}.")
    offset = parse_length("Upload-Offset", request.headers.get("Upload-Offset"))
    complete = _requested_completion(version)
    declared = parse_length("Upload-Length", request.headers.get("Upload-Length"), required=False)
    store().get(current_user().id, upload_id)
    reader = BodyReader(request)
    with store().locks.hold(str(upload_id), on_release_request=reader.release):
        upload = store().get(current_user().id, upload_id)
        current = store().offset(upload)
        if upload.state == UploadState.COMPLETE and offset == current and not request.content_length:
            return bodiless(204, _answer(version, upload, current))  # the final answer, again
        if offset != current or upload.state == UploadState.COMPLETE:
            return _mismatch(version, upload, current, offset)
        try:
            _declare(upload, offset, declared, complete)
            new_offset = _append(upload, offset, reader, complete)
        except InconsistentLengthError:
            return _inconsistent(version)
    return bodiless(204, _answer(version, upload, new_offset))


# -- steps ----------------------------------------------------------------------------------------


def _requested_completion(version: str) -> bool:
    name = "Upload-Incomplete" if version == "3" else "Upload-Complete"
    value = request.headers.get(name, "").strip()
    if value not in ("?0", "?1"):
        raise TusHeaderError(f"{name} must be ?0 or ?1")
    return (value == "?1") != (version == "3")


def _declare(upload: Upload, offset: int, declared: int | None, complete: bool) -> None:
    """Record what the request says of the length; every indication must agree."""
    indications = {declared} - {None}
    if complete and request.content_length is not None:
        indications.add(offset + request.content_length)
    if len(indications | ({upload.length} - {None})) > 1:
        raise InconsistentLengthError
    if indications:
        (length,) = indications
        admission.check_quota(length, besides=upload.id)
        store().declare_length(upload, length)
    elif upload.length is None:
        within_quota(upload, offset + (request.content_length or 0))


def _append(upload: Upload, offset: int, reader: BodyReader, complete: bool) -> int:
    """The body at `offset` (an empty one too); with completion asked for and the whole body in,
    the length is what arrived and the upload is finished."""
    has_body = bool(request.content_length) or "chunked" in request.headers.get("Transfer-Encoding", "")
    if has_body:
        offset = receive(upload, offset, reader)
    if not complete or reader.interrupted or upload.state == UploadState.COMPLETE:
        return offset
    if upload.length is None:
        store().declare_length(upload, offset)
    if offset != upload.length:
        raise InconsistentLengthError
    finish(upload)
    return offset


def _metadata() -> dict[str, str]:
    """The file's name from Content-Disposition (RFC 6266, as the draft suggests), else from a
    tus Upload-Metadata header (tus-js-client sends one in draft mode too)."""
    metadata = parse_metadata(request.headers.get("Upload-Metadata"))
    _kind, options = parse_options_header(request.headers.get("Content-Disposition", ""))
    if options.get("filename"):
        metadata["filename"] = options["filename"]
    return metadata


def _state(version: str, upload: Upload) -> dict[str, str]:
    limits = [f"max-size={store().max_size}"]
    if upload.state == UploadState.RECEIVING:
        remaining = max(0, int((upload.expires_at - utcnow()).total_seconds()))
        limits.append(f"{'max-age' if int(version) >= 7 else 'expires'}={remaining}")
    return {"Upload-Draft-Interop-Version": version, "Upload-Limit": ",".join(limits)}


def _answer(version: str, upload: Upload, offset: int, **extra: str) -> dict[str, str]:
    headers = {"Upload-Offset": str(offset), **_completion(version, upload.state == UploadState.COMPLETE)}
    if upload.length is not None:
        headers["Upload-Length"] = str(upload.length)
    return {**headers, **_state(version, upload), **extra}


def _completion(version: str, complete: bool) -> dict[str, str]:
    if version == "3":
        return {"Upload-Incomplete": "?0" if complete else "?1"}
    return {"Upload-Complete": "?1" if complete else "?0"}


def _problem(
    status: int, kind: str, title: str, code: str, detail: str, headers: dict, **members
) -> Response:
    """A problem details object (RFC 9457) that is also our usual `{"error", "detail"}`."""
    body = {"type": PROBLEM_TYPES + kind, "title": title, **members, "error": code, "detail": detail}
    return Response(json.dumps(body), status=status, headers=headers, mimetype="application/problem+json")


def _mismatch(version: str, upload: Upload, expected: int, provided: int) -> Response:
    return _problem(
        409, "mismatching-upload-offset", "offset from request does not match offset of resource",
        "offset_mismatch", f"Upload-Offset {provided} does not match the upload's offset {expected}.",
        {"Upload-Offset": str(expected), **_completion(version, False), **_state(version, upload)},
        **{"expected-offset": expected, "provided-offset": provided},
    )  # fmt: skip


def _inconsistent(version: str) -> Response:
    return _problem(
        400, "inconsistent-upload-length", "inconsistent length values for upload", "inconsistent_length",
        "The request's length (Upload-Length, or Content-Length with completion) disagrees with the"
        " upload's.",
        {**_completion(version, False), "Upload-Draft-Interop-Version": version},
    )  # fmt: skip
