"""Interim (1xx) responses, which WSGI has no way to send.

Under gunicorn the request's socket is in the environ (`gunicorn.socket`), and nothing of the
final response has been written while the handler runs, so an interim response can be written
on the socket first. Elsewhere (another WSGI server, the test client, HTTP/1.0) it is skipped:
the final response carries the same information.
"""

from __future__ import annotations

import logging
import socket

log = logging.getLogger(__name__)
REASONS = {104: "Upload Resumption Supported"}


def send_interim(environ: dict, status: int, headers: dict[str, str]) -> bool:
    """Write `status` with `headers` before the final response; whether it was sent."""
    sock: socket.socket | None = environ.get("gunicorn.socket")
    if sock is None or environ.get("SERVER_PROTOCOL") != "HTTP/1.1" or not 100 < status < 200:
        return False
    lines = [f"HTTP/1.1 {status} {REASONS.get(status, 'Informational')}"]
    for name, value in headers.items():
        if "\r" in value or "\n" in value:
            raise ValueError(f"header {name} carries a line break")
        lines.append(f"{name}: {value}")
    try:
        sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))
    except OSError as exc:  # the client went away; the final response will fail the same way
        log.debug("interim response not sent: %s", type(exc).__name__)
        return False
    return True
