"""An MP4/MOV file's top-level boxes and its movie header, read directly: no decoder, no child
process. Enough to tell where the index is and how long a file we wrote ourselves plays."""

from __future__ import annotations

import struct
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

HEADER = struct.Struct(">I4s")


def boxes(handle: BinaryIO, start: int, end: int) -> Iterator[tuple[bytes, int, int]]:
    """(type, where its body starts, where it ends) of each box between `start` and `end`."""
    position = start
    while position + HEADER.size <= end:
        handle.seek(position)
        size, kind = HEADER.unpack(handle.read(HEADER.size))
        body = position + HEADER.size
        if size == 1:  # a 64-bit size follows
            (size,) = struct.unpack(">Q", handle.read(8))
            body += 8
        elif size == 0:  # to the end of the file
            size = end - position
        if size < body - position or position + size > end:
            return  # not a box: stop rather than read garbage
        yield kind, body, position + size
        position += size


def index_at_end(path: Path) -> bool:
    """Whether the `moov` box comes after the `mdat`: a browser must then fetch the end of the
    file before it can play."""
    with open(path, "rb") as handle:
        for kind, _body, _end in boxes(handle, 0, path.stat().st_size):
            if kind in (b"moov", b"mdat"):
                return kind == b"mdat"
    return False


def presentation_duration(path: Path) -> float | None:
    """Seconds the movie header (`moov/mvhd`) says the file plays, edit lists applied as
    players apply them; None without a readable header."""
    with open(path, "rb") as handle:
        for kind, body, end in boxes(handle, 0, path.stat().st_size):
            if kind != b"moov":
                continue
            for inner, inner_body, _inner_end in boxes(handle, body, end):
                if inner == b"mvhd":
                    handle.seek(inner_body)
                    version = handle.read(1)[0]
                    handle.seek(3, 1)  # flags
                    layout = ">QQIQ" if version == 1 else ">IIII"
                    _created, _modified, timescale, duration = struct.unpack(
                        layout, handle.read(struct.calcsize(layout))
                    )
                    return duration / timescale if timescale else None
            return None
    return None
