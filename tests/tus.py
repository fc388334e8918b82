"""The one set of tus request helpers every test uses: plain requests for whole calls, raw
sockets for bodies that stop midway (a client that drops, or one that dribbles)."""

from __future__ import annotations

import base64
import socket
import time

import requests

from tests.servers import auth

ENDPOINT = "/api/videos/chunked_upload/"
V = {"Tus-Resumable": "1.0.0"}
OCTETS = {"Content-Type": "application/offset+octet-stream"}


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def create(base_url: str, token: str, length: int | None = None, **headers: str) -> requests.Response:
    extra = {"Upload-Length": str(length)} if length is not None else {}
    return requests.post(base_url + ENDPOINT, headers={**auth(token), **V, **extra, **headers}, timeout=30)


def new_upload(base_url: str, token: str, length: int, name: str = "clip.mp4") -> str:
    """Create an upload and return its URL."""
    response = create(base_url, token, length, **{"Upload-Metadata": "filename " + b64(name)})
    assert response.status_code == 201, response.text
    return response.headers["Location"]


def patch(url: str, token: str, offset: int, body: bytes, **headers: str) -> requests.Response:
    return requests.patch(
        url,
        data=body,
        headers={**auth(token), **V, **OCTETS, "Upload-Offset": str(offset), **headers},
        timeout=60,
    )


def head(url: str, token: str) -> requests.Response:
    return requests.head(url, headers={**auth(token), **V}, timeout=30)


def offset(url: str, token: str) -> int:
    response = head(url, token)
    assert response.status_code == 200, response.status_code
    return int(response.headers["Upload-Offset"])


def open_patch(port: int, url: str, token: str, at: int, declared: int) -> socket.socket:
    """Start a PATCH that promises `declared` bytes; the caller sends some of them."""
    path = url.split(str(port), 1)[1]
    sock = socket.create_connection(("127.0.0.1", port))
    sock.sendall(
        (f"PATCH {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Token {token}\r\n"
         f"Tus-Resumable: 1.0.0\r\nContent-Type: application/offset+octet-stream\r\n"
         f"Upload-Offset: {at}\r\nContent-Length: {declared}\r\n\r\n").encode()
    )  # fmt: skip
    return sock


def cut_patch(port: int, url: str, token: str, at: int, body: bytes, declared: int) -> None:
    """Send `body` of a longer PATCH and close the connection, as a client that drops does."""
    sock = open_patch(port, url, token, at, declared)
    sock.sendall(body)
    sock.shutdown(socket.SHUT_WR)
    sock.close()


def settle_offset(url: str, token: str, at_most: int, timeout_s: float = 10) -> int:
    """HEAD until the server has stored what it got (it never reports more than was sent)."""
    deadline = time.monotonic() + timeout_s
    while True:
        current = offset(url, token)
        assert current <= at_most
        if current == at_most or time.monotonic() > deadline:
            return current
        time.sleep(0.02)
