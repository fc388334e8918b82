"""Appending a request's body to an upload and finishing it: the steps tus 1.0.0 and the IETF
draft share (same store, same locks and release requests, same probe, same video id)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator
from typing import IO

from flask import Response, request

from processor.probe import PendingProbe
from server import admission
from server.body import READ_SIZE, BodyReader
from server.errors import ApiError
from server.events import video_created
from server.services import services
from server.tus.protocol import Checksum, TusHeaderError, format_expires, parse_checksum
from server.urls import external_url
from storage.models import Upload, UploadState, Video
from storage.quota import room_left
from storage.uploads import SizeExceededError, UploadStore
from video_manager import metrics
from video_manager.errors import ClientError

PROBE_LEAD_BYTES = 128 * 1024 * 1024  # about the probe's start-up at loopback speed, seconds on a WAN


class UploadInterruptedError(ClientError, RuntimeError):
    """The body stopped early (client gone, or a newer request took the lock)."""

    code, status = "upload_interrupted", 400


def store() -> UploadStore:
    return services().uploads


def within_quota(upload: Upload, size: int) -> None:
    """An upload of deferred length that would cross the quota is refused and removed whole."""
    try:
        admission.check_quota(size, besides=upload.id)
    except ApiError:
        _remove(upload)
        raise


def _remove(upload: Upload) -> None:
    store().terminate(upload)
    metrics.UPLOADS.labels("terminated").inc()


def receive(upload: Upload, offset: int, reader: BodyReader) -> int:
    """Append this request's body at `offset` under the held lock; return the new offset.

    A body of known length, without a checksum, streams straight into the store: whatever
    arrives counts, even if the client drops. A body that must be checked first (a checksum in
    a header or a trailer) or whose length is unknown (it may overrun) waits in a temp file
    until it is whole and right, so a chunk that fails commits nothing, on any storage backend.
    """
    uploads = store()
    uploads.check_patch(upload, offset, request.content_length)
    reader.limit = uploads.room(upload, offset)
    quota = services().config.limits.user_quota_bytes
    room_in_quota = room_left(upload.owner_id, quota, besides=upload.id) if upload.length is None else None
    if room_in_quota is not None and room_in_quota - offset < reader.limit:
        reader.limit = max(0, room_in_quota - offset)  # a chunked body stops at the quota
    with ProbeNearTheEnd(upload, offset) as probe:
        if request.content_length is not None and not _checksum_requested():
            new_offset = uploads.append(upload, offset, probe.watching(reader.chunks()))
        else:
            try:
                new_offset = _append_checked(upload, offset, reader)
            except SizeExceededError:
                if room_in_quota is not None and reader.limit < uploads.room(upload, offset):
                    _remove(upload)  # past the quota: removed whole, as `within_quota` does
                    admission.over_quota(quota)
                raise
        metrics.BYTES_RECEIVED.labels("tus").inc(new_offset - offset)
        if reader.released.is_set():
            raise UploadInterruptedError(
                "a newer request for this upload took over; the bytes received are kept"
            )
        if uploads.is_complete(upload, new_offset):
            finish(upload, probe.pending)
    return new_offset


class ProbeNearTheEnd(contextlib.ExitStack):
    """Starts the probe of an upload whose last bytes this body brings once no more than
    PROBE_LEAD_BYTES are left to come (see `Prober.start`): the answer then waits for the probe
    itself, not for its start-up, and a body that takes hours holds no waiting child meanwhile
    (nor does a short body that is cut off, the common case of a resumable upload)."""

    def __init__(self, upload: Upload, offset: int) -> None:
        super().__init__()
        body = request.content_length or 0
        finishes = upload.length is not None and offset + body == upload.length and upload.concat != "partial"
        # A shorter body arrives before the child could start anyway: its probe starts at the end.
        self.start_at = body - PROBE_LEAD_BYTES if finishes and body > PROBE_LEAD_BYTES else None
        self.pending: PendingProbe | None = None

    def watching(self, chunks: Iterable[bytes]) -> Iterator[bytes]:
        received = 0
        for chunk in chunks:
            received += len(chunk)
            if self.pending is None and self.start_at is not None and received >= self.start_at:
                prober = services().ingestor.prober
                self.pending = self.enter_context(prober.start(remote=store().data.remote))
            yield chunk


def _checksum_requested() -> bool:
    trailer = "upload-checksum" in request.headers.get("Trailer", "").lower()
    return "Upload-Checksum" in request.headers or trailer


def _append_checked(upload: Upload, offset: int, reader: BodyReader) -> int:
    with services().blobs.scratch.temp_file() as spool:
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


def finish(upload: Upload, probe: PendingProbe | None = None) -> None:
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
            uploads.data, upload.id, size=upload.length, owner_id=upload.owner_id, name=upload.name,
            probe=probe,
        )  # fmt: skip
        video_created(video)
    uploads.mark_complete(upload)
    uploads.discard_data(upload)


def finish_if_received(upload: Upload, offset: int) -> None:
    """A server killed between storing the last byte and `finish` leaves an upload whose bytes
    are all in. Clients that come back see offset == length on HEAD and call the upload done
    without another PATCH (tus-js-client, tuspy, Uppy), so the HEAD (under the upload's lock)
    finishes it; `finish` is safe to run again."""
    if upload.state != UploadState.COMPLETE and store().is_complete(upload, offset):
        finish(upload)


def location(upload: Upload) -> str:
    return external_url("tus.head", upload_id=upload.id)


def expires_header(upload: Upload) -> dict[str, str]:
    if upload.state != "receiving":
        return {}
    return {"Upload-Expires": format_expires(upload.expires_at)}


def bodiless(status: int, headers: dict[str, str]) -> Response:
    """Bodiless tus answer: status and headers only, no Content-Type."""
    response = Response(status=status, headers=headers)
    del response.headers["Content-Type"]
    return response
