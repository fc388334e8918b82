"""The seed API's multipart chunk upload, kept at the tus URL for clients that still send it.

POST multipart with chunk_number (1-based), total_chunks, file_id, file_name, chunk, and no
Tus-Resumable header. Answers 202 with what is still missing, then 201 with the video once the
last chunk is in and the assembled file passed the probe.
"""

from __future__ import annotations

from pathlib import Path

from flask import request
from pydantic import BaseModel, Field, ValidationError

from server import admission
from server.auth import current_user
from server.errors import fail
from server.events import video_created
from server.services import services
from server.tus.protocol import TUS_VERSION, metadata_name
from server.urls import representer
from storage.chunks import ChunkFormError
from storage.models import ChunkedUpload, UploadState, Video
from storage.names import display_name
from video_manager import metrics
from video_manager.errors import InvalidVideoError


class ChunkFields(BaseModel):
    chunk_number: int = Field(ge=1)
    total_chunks: int = Field(ge=1, le=100_000)
    file_id: str = Field(min_length=1, max_length=255)
    file_name: str = Field(default="", max_length=1024)


def receive_chunk():
    if request.mimetype != "multipart/form-data":
        fail(
            412,
            "unsupported_version",
            f"Send Tus-Resumable: {TUS_VERSION}, or the multipart chunk form.",
            {"Tus-Version": TUS_VERSION},
        )
    try:
        fields = ChunkFields.model_validate(request.form.to_dict())
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        fail(400, "invalid_request", f"Invalid chunk form ({problems}).")
    part = request.files.get("chunk")
    if part is None:
        fail(400, "missing_file", "Send the chunk's bytes as multipart field `chunk`.")
    svc = services()
    chunks = svc.chunks
    name = fields.file_name
    try:
        if not chunks.exists(current_user().id, fields.file_id):  # the first chunk of a file
            name = metadata_name(admission.admit("chunk", name, None, {"filename": name})) or ""
        size = Path(part.stream.name).stat().st_size
        admission.check_quota(size)
        session = chunks.session(current_user().id, fields.file_id, display_name(name), fields.total_chunks)
        with svc.uploads.locks.hold(f"chunks-{session.id}"):
            session = ChunkedUpload.get_by_id(session.id)
            if session.state == UploadState.COMPLETE:
                return _progress(session, [], Video.get_or_none(Video.id == session.id)), 200
            with admission.holding_quota(size):
                chunks.save(session, fields.chunk_number, Path(part.stream.name))
            metrics.BYTES_RECEIVED.labels("chunk").inc(size)
            missing = chunks.missing(session)
            if missing:
                return _progress(session, missing, None), 202
            video = _assemble(session)
    except ChunkFormError as exc:
        fail(400, "invalid_chunk", f"{exc}.")
    finally:
        part.close()
    return _progress(session, [], video), 201


def _assemble(session: ChunkedUpload) -> Video:
    svc = services()
    size = svc.chunks.assemble(session)
    try:
        video = svc.ingestor.accept_upload(
            svc.chunks.data, session.id, size=size, owner_id=session.owner_id, name=session.name
        )
    except InvalidVideoError as exc:
        svc.chunks.remove(session)
        fail(422, "invalid_video", f"The assembled file is not a video we can read ({exc}).")
    video_created(video)
    svc.chunks.mark_complete(session)
    return video


def _progress(session: ChunkedUpload, missing: list[int], video: Video | None) -> dict:
    return {
        "file_id": session.client_file_id,
        "upload_id": str(session.id),
        "total_chunks": session.total_chunks,
        "received_chunks": session.total_chunks - len(missing),
        "missing_chunks": len(missing),
        "missing": missing[:1000],
        "video_id": str(video.id) if video else None,
        "video": representer().video(video) if video else None,
    }
