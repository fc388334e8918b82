"""The request class: multipart bodies are read fast and their file parts go to data/tmp, and
only uploads may have big bodies.

Werkzeug spools file parts through a small buffer into the file returned here; placing it beside
`data/videos` lets the finished upload be published by a hard link instead of a copy. A body of
known length is read through `BodyStream` (straight from the socket under gunicorn).

Every other body (JSON for logins, trims, merges, shares, webhooks) is at most BODY_LIMIT: a
bigger one is 413 before anything else happens, authentication included (`refuse_big_bodies`),
and a chunked one is cut off at the limit while it is read (Werkzeug's limited stream).
"""

from __future__ import annotations

import io
from typing import IO

from flask import Request, current_app, request
from werkzeug.exceptions import RequestEntityTooLarge

from server.body import READ_SIZE, BodyStream

UPLOAD_ENDPOINTS = frozenset({"videos.upload", "tus.create", "tus.patch"})
BODY_LIMIT = 256 * 1024


class StreamingRequest(Request):
    @property
    def body_limit(self) -> int | None:
        """The most this request's body may be."""
        return super().max_content_length if self.endpoint in UPLOAD_ENDPOINTS else BODY_LIMIT

    @property
    def max_content_length(self) -> int | None:
        """Uploads: `limits.max_upload_bytes`. Anything else: one byte past BODY_LIMIT, so that a
        chunked body over the limit is read that far and seen to be over it (`get_data`)."""
        if self.endpoint in UPLOAD_ENDPOINTS:
            return super().max_content_length
        return BODY_LIMIT + 1

    @max_content_length.setter
    def max_content_length(self, value: int | None) -> None:
        Request.max_content_length.fset(self, value)

    def _get_file_stream(
        self,
        total_content_length: int | None,
        content_type: str | None,
        filename: str | None = None,
        content_length: int | None = None,
    ) -> IO[bytes]:
        return current_app.extensions["video_manager"].blobs.scratch.temp_file()

    def get_data(self, cache: bool = True, as_text: bool = False, parse_form_data: bool = False):  # type: ignore[override]
        data = super().get_data(cache=cache, as_text=False, parse_form_data=parse_form_data)
        if self.endpoint not in UPLOAD_ENDPOINTS and len(data) > BODY_LIMIT:
            raise RequestEntityTooLarge()
        return (
            data.decode(self.charset if hasattr(self, "charset") else "utf-8", "replace") if as_text else data
        )

    def _get_stream_for_parsing(self) -> IO[bytes]:
        if self.content_length is None or getattr(self, "_cached_data", None) is not None:
            return super()._get_stream_for_parsing()
        return io.BufferedReader(BodyStream(self), buffer_size=READ_SIZE)


def refuse_big_bodies() -> None:
    """Before any other work: a declared body over the request's limit is 413 at once (the
    sentence is `server.errors`'s, as for a chunked body cut off while it is read)."""
    limit = request.body_limit
    if limit is not None and request.content_length is not None and request.content_length > limit:
        raise RequestEntityTooLarge()
