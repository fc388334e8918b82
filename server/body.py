"""Reading a request body in 1 MiB pieces, noticing a dropped client, an overrun and a lock release.

Used for tus PATCH bodies and, through `BodyStream`, for multipart uploads. A client that goes
away mid-body is normal for resumable uploads: whatever arrived is kept and the next HEAD
reports it. When another request asks for the upload's lock, the socket's read side is shut down
so a read blocked on a half-open connection returns at once (as in tusd).
"""

from __future__ import annotations

import contextlib
import io
import logging
import socket
import threading
import time
from collections.abc import Iterator

from flask import Request
from werkzeug.exceptions import ClientDisconnected

READ_SIZE = 1024 * 1024
DRAIN_LIMIT = 64 * 1024 * 1024
DRAIN_TIME_S = 5.0
log = logging.getLogger(__name__)


def drain_unread_body(request: Request) -> None:
    """Read and drop what is left of a refused request's body (bounded in bytes and time).

    A client still sending its chunk when we refuse it (409, 423, 413) would otherwise meet a
    closed socket and report a broken pipe instead of our answer. gunicorn's body object knows
    how much is left, even after the socket fast path read part of it.
    """
    stream = request.environ.get("wsgi.input")
    if stream is None or not request.content_length:
        return
    sock: socket.socket | None = request.environ.get("gunicorn.socket")
    previous = sock.gettimeout() if sock is not None else None
    deadline = time.monotonic() + DRAIN_TIME_S
    drained = 0
    try:
        if sock is not None:
            sock.settimeout(DRAIN_TIME_S)
        while drained < DRAIN_LIMIT and time.monotonic() < deadline:
            piece = stream.read(min(READ_SIZE, DRAIN_LIMIT - drained))
            if not piece:
                return
            drained += len(piece)
    except (OSError, ValueError) as exc:  # the client went away, or the body was malformed
        log.debug("drain ended: %s", type(exc).__name__)
    finally:
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.settimeout(previous)


class BodyReader:
    def __init__(self, request: Request, limit: int = 0) -> None:
        self.stream = request.stream
        self.content_length = request.content_length
        self.limit = limit  # set once the upload's remaining room is known
        self.received = 0
        self.dropped = False
        self.overrun = False
        self.released = threading.Event()
        self._socket: socket.socket | None = request.environ.get("gunicorn.socket")
        self._raw = _gunicorn_length_body(request.environ) if self.content_length is not None else None

    def release(self) -> None:
        """Called from the lock's watcher thread: stop reading and let the newer request in."""
        self.released.set()
        if self._socket is not None:
            with contextlib.suppress(OSError):
                self._socket.shutdown(socket.SHUT_RD)

    @property
    def interrupted(self) -> bool:
        return self.dropped or self.released.is_set()

    def chunks(self) -> Iterator[bytes]:
        """The body in pieces; a piece is only valid until the next one is requested."""
        if self._raw is not None:
            return self._socket_chunks(*self._raw)
        return self._stream_chunks()

    def _stream_chunks(self) -> Iterator[bytes]:
        while not self.released.is_set():
            want = min(READ_SIZE, self.limit - self.received + 1)  # one extra byte reveals an overrun
            try:
                chunk = self.stream.read(want)
            except Exception as exc:  # any failure to read the body means the client is gone
                log.debug("body read ended: %s", type(exc).__name__)
                self.dropped = True
                return
            if not chunk:
                if self.content_length is not None and self.received < self.content_length:
                    self.dropped = True
                return
            if self.received + len(chunk) > self.limit:
                self.overrun = True
                return
            self.received += len(chunk)
            yield chunk

    def _socket_chunks(self, length_reader, unreader, sock: socket.socket) -> Iterator[memoryview]:
        """Fast path under gunicorn: recv_into one reused buffer, straight from the socket.

        gunicorn's own reader copies every byte several times through BytesIO buffers; a body
        of known length can instead be taken from the socket directly, after the bytes gunicorn
        already buffered. Its length counter is kept in step so the connection stays consistent.
        """
        buffered = unreader.take_buffered()
        if len(buffered) > length_reader.length:
            unreader.unread(buffered[length_reader.length :])
            buffered = buffered[: length_reader.length]
        if buffered:
            length_reader.length -= len(buffered)
            self.received += len(buffered)
            yield memoryview(buffered)
        view = memoryview(bytearray(READ_SIZE))
        while length_reader.length > 0 and not self.released.is_set():
            try:
                count = sock.recv_into(view, min(READ_SIZE, length_reader.length))
            except OSError:
                count = 0
            if count == 0:
                self.dropped = True
                return
            length_reader.length -= count
            self.received += count
            yield view[:count]

    def trailer(self, name: str) -> str | None:
        """An HTTP trailer of a chunked body (gunicorn keeps them on its request object)."""
        reader = getattr(self.stream, "reader", None) or getattr(
            getattr(self.stream, "_stream", None), "reader", None
        )
        trailers = getattr(getattr(reader, "req", None), "trailers", None) or []
        for key, value in trailers:
            if key.lower() == name.lower():
                return value
        return None


class BodyStream(io.RawIOBase):
    """A whole body of known length as a file, for parsers that call `read` (werkzeug's
    multipart parser): it gets the socket fast path of `BodyReader` instead of gunicorn's reader,
    which is several times slower. A body cut short raises `ClientDisconnected` (400), as
    werkzeug's own stream does."""

    def __init__(self, request: Request) -> None:
        self._reader = BodyReader(request, limit=request.content_length or 0)
        self._chunks = self._reader.chunks()
        self._pending = memoryview(b"")

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        while not self._pending:
            chunk = next(self._chunks, None)
            if chunk is None:
                if self._reader.dropped:
                    raise ClientDisconnected()
                return 0
            self._pending = memoryview(chunk)
        count = min(len(buffer), len(self._pending))
        buffer[:count] = self._pending[:count]
        self._pending = self._pending[count:]
        return count


def _gunicorn_length_body(environ: dict) -> tuple | None:
    """gunicorn's (LengthReader, SocketUnreader, socket) for this body, if nothing was read yet."""
    body = environ.get("wsgi.input")
    length_reader = getattr(body, "reader", None)
    unreader = getattr(length_reader, "unreader", None)
    sock = getattr(unreader, "sock", None)
    if (
        sock is None
        or type(length_reader).__name__ != "LengthReader"
        or not hasattr(unreader, "take_buffered")
        or body.buf.tell()
    ):
        return None
    return length_reader, unreader, sock
