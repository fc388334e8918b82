"""The request class: multipart file parts stream straight into our data/tmp, not into memory.

Werkzeug spools file parts through a small buffer into the file returned here; placing it beside
`data/videos` lets the finished upload be published by a hard link instead of a copy.
"""

from __future__ import annotations

from typing import IO

from flask import Request, current_app


class StreamingRequest(Request):
    def _get_file_stream(
        self,
        total_content_length: int | None,
        content_type: str | None,
        filename: str | None = None,
        content_length: int | None = None,
    ) -> IO[bytes]:
        return current_app.extensions["video_manager"].blobs.temp_file()
