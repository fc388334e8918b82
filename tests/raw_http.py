"""HTTP/1.1 over a plain socket, for what Python's clients hide: interim (1xx) responses, and
requests cut off in the middle of their body."""

from __future__ import annotations

import socket
from dataclasses import dataclass, field


@dataclass
class RawResponse:
    status: int
    headers: dict[str, str] = field(default_factory=dict)  # names in lower case
    body: bytes = b""


def request_head(method: str, path: str, headers: dict[str, str]) -> bytes:
    lines = [f"{method} {path} HTTP/1.1", "Host: 127.0.0.1", "Connection: close"]
    lines += [f"{name}: {value}" for name, value in headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def exchange(
    port: int, method: str, path: str, headers: dict[str, str], body: bytes = b""
) -> list[RawResponse]:
    """Send one request; every response to it, interim ones first, the final one last."""
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        sock.sendall(request_head(method, path, {**headers, "Content-Length": str(len(body))}) + body)
        return read_responses(sock, method)


def read_responses(sock: socket.socket, method: str) -> list[RawResponse]:
    buffer = b""
    responses: list[RawResponse] = []
    while True:
        while b"\r\n\r\n" not in buffer:
            piece = sock.recv(65536)
            if not piece:
                raise ConnectionError(f"connection closed after {len(responses)} responses")
            buffer += piece
        head, buffer = buffer.split(b"\r\n\r\n", 1)
        status_line, *header_lines = head.decode("latin-1").split("\r\n")
        response = RawResponse(int(status_line.split(" ", 2)[1]))
        for line in header_lines:
            name, _, value = line.partition(":")
            response.headers[name.strip().lower()] = value.strip()
        responses.append(response)
        if 100 <= response.status < 200:
            continue
        length = 0 if method == "HEAD" else int(response.headers.get("content-length", "0"))
        while len(buffer) < length:
            buffer += sock.recv(65536)
        response.body = buffer[:length]
        return responses
