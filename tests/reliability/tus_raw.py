"""Raw tus requests for fault tests: sockets that stop mid-body, plain helpers for the rest."""

from __future__ import annotations

import socket
import time

import requests

ENDPOINT = "/api/videos/chunked_upload/"
V = {"Tus-Resumable": "1.0.0"}


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Token {token}"}


def create(base_url: str, token: str, length: int, name: str = "clip.mp4") -> str:
    import base64

    metadata = "filename " + base64.b64encode(name.encode()).decode()
    response = requests.post(
        base_url + ENDPOINT,
        headers={**auth(token), **V, "Upload-Length": str(length), "Upload-Metadata": metadata},
        timeout=30,
    )
    assert response.status_code == 201, response.text
    return response.headers["Location"]


def offset(url: str, token: str) -> int:
    response = requests.head(url, headers={**auth(token), **V}, timeout=30)
    assert response.status_code == 200, response.status_code
    return int(response.headers["Upload-Offset"])


def patch(url: str, token: str, at: int, body: bytes) -> requests.Response:
    headers = {
        **auth(token),
        **V,
        "Upload-Offset": str(at),
        "Content-Type": "application/offset+octet-stream",
    }
    return requests.patch(url, data=body, timeout=60, headers=headers)


def open_patch(port: int, url: str, token: str, at: int, declared: int) -> socket.socket:
    """Start a PATCH that promises `declared` bytes; the caller sends some and then cuts."""
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
    time.sleep(0.05)
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
