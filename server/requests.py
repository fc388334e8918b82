"""The request class: multipart bodies are read fast and their file parts go to data/tmp.

Werkzeug spools file parts through a small buffer into the file returned here; placing it beside
`data/videos` lets the finished upload be published by a hard link instead of a copy. A body of
known length is read through `BodyStream` (straight from the socket under gunicorn).
"""

from __future__ import annotations

import io
from typing import IO

from flask import Request, current_app

from server.body import READ_SIZE, BodyStream


class StreamingRequest(Request):
    def _get_file_stream(
        self,
        total_content_length: int | None,
        content_type: str | None,
        filename: str | None = None,
        content_length: int | None = None,
    ) -> IO[bytes]:
        return current_app.extensions["video_manager"].blobs.temp_file()

    def _get_stream_for_parsing(self) -> IO[bytes]:
        if self.content_length is None or getattr(self, "_cached_data", None) is not None:
            return super()._get_stream_for_parsing()
        return io.BufferedReader(BodyStream(self), buffer_size=READ_SIZE)
