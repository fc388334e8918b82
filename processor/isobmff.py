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


FIRST_SAMPLES = 64  # read of the first video samples' times: more than any decoder reorders


def hides_frames(path: Path) -> bool | None:
    """Whether the video track's edit list starts after its first shown frame (a copy cut made
    elsewhere keeps the GOP before its first frame and hides it): the first edit's media time
    against the composition times of the first samples. An edit that only takes out the
    decode delay of B-frames hides nothing. None when the boxes cannot be read."""
    with open(path, "rb") as handle:
        video = _video_track(handle, path.stat().st_size)
        if video is None:
            return None
        edits, times = video
    if not edits:
        return False
    media_time = next((start for start in edits if start >= 0), 0)
    return bool(times) and min(times) < media_time


def _video_track(handle: BinaryIO, size: int) -> tuple[list[int], list[int]] | None:
    """(the edit list's media start times, the first samples' composition times) of the first
    video track, in its media time scale."""
    moov = next(((body, end) for kind, body, end in boxes(handle, 0, size) if kind == b"moov"), None)
    if moov is None:
        return None
    for kind, body, end in boxes(handle, *moov):
        if kind != b"trak":
            continue
        inner = {name: (start, stop) for name, start, stop in boxes(handle, body, end)}
        media = inner.get(b"mdia")
        if media is None:
            continue
        parts = {name: (start, stop) for name, start, stop in boxes(handle, *media)}
        if b"hdlr" not in parts or _read(handle, parts[b"hdlr"][0] + 8, 4) != b"vide" or b"minf" not in parts:
            continue
        table = next((span for name, *span in boxes(handle, *parts[b"minf"]) if name == b"stbl"), None)
        if table is None:
            return None
        tables = {name: (start, stop) for name, start, stop in boxes(handle, *table)}
        edits = _edits(handle, inner[b"edts"]) if b"edts" in inner else []
        return edits, _composition_times(handle, tables)
    return None


def _read(handle: BinaryIO, position: int, count: int) -> bytes:
    handle.seek(position)
    return handle.read(count)


def _edits(handle: BinaryIO, edts: tuple[int, int]) -> list[int]:
    """The media start time of each entry of `elst` (-1: an empty edit)."""
    for name, body, _end in boxes(handle, *edts):
        if name != b"elst":
            continue
        version = _read(handle, body, 1)[0]
        (count,) = struct.unpack(">I", _read(handle, body + 4, 4))
        layout = struct.Struct(">Qqhh" if version == 1 else ">Iihh")
        entries = _read(handle, body + 8, layout.size * min(count, 16))
        return [
            layout.unpack_from(entries, index * layout.size)[1]
            for index in range(len(entries) // layout.size)
        ]
    return []


def _composition_times(handle: BinaryIO, tables: dict[bytes, tuple[int, int]]) -> list[int]:
    """Decode time plus composition offset of the first FIRST_SAMPLES samples."""
    if b"stts" not in tables:
        return []
    decode, moment = [], 0
    for count, delta in _pairs(handle, tables[b"stts"][0], signed=False):
        for _ in range(min(count, FIRST_SAMPLES - len(decode))):
            decode.append(moment)
            moment += delta
        if len(decode) >= FIRST_SAMPLES:
            break
    offsets: list[int] = []
    if b"ctts" in tables:
        signed = _read(handle, tables[b"ctts"][0], 1)[0] == 1
        for count, offset in _pairs(handle, tables[b"ctts"][0], signed=signed):
            offsets += [offset] * min(count, FIRST_SAMPLES - len(offsets))
            if len(offsets) >= FIRST_SAMPLES:
                break
    offsets += [0] * (len(decode) - len(offsets))
    return [time + offset for time, offset in zip(decode, offsets, strict=False)]


def _pairs(handle: BinaryIO, body: int, *, signed: bool) -> Iterator[tuple[int, int]]:
    """The (count, value) entries of an stts or ctts box (at most FIRST_SAMPLES of them)."""
    (count,) = struct.unpack(">I", _read(handle, body + 4, 4))
    entries = _read(handle, body + 8, 8 * min(count, FIRST_SAMPLES))
    yield from struct.iter_unpack(">Ii" if signed else ">II", entries)


def find_box(handle: BinaryIO, start: int, end: int, path: list[bytes]) -> tuple[int, int] | None:
    """(body, end) of the box at `path` (types from the outside in), the first of each type."""
    for kind, body, stop in boxes(handle, start, end):
        if kind == path[0]:
            return (body, stop) if len(path) == 1 else find_box(handle, body, stop, path[1:])
    return None


SAMPLE_ENTRY_HEADER = 78  # a visual sample entry's fields before its child boxes (ISO 14496-12)


def avc_profile(init: Path) -> str | None:
    """`PPCCLL` (profile, constraint flags, level in hex) of an fMP4 init segment's H.264
    track, as the RFC 6381 `avc1.` codec name wants it; None if it has no `avcC`."""
    with open(init, "rb") as handle:
        stsd = find_box(
            handle, 0, init.stat().st_size, [b"moov", b"trak", b"mdia", b"minf", b"stbl", b"stsd"]
        )
        if stsd is None:
            return None
        entry = find_box(handle, stsd[0] + 8, stsd[1], [b"avc1"]) or find_box(
            handle, stsd[0] + 8, stsd[1], [b"avc3"]
        )
        if entry is None:
            return None
        config = find_box(handle, entry[0] + SAMPLE_ENTRY_HEADER, entry[1], [b"avcC"])
        if config is None:
            return None
        return _read(handle, config[0] + 1, 3).hex()


def first_sample_end(segment: Path) -> int | None:
    """How many bytes of an fMP4 segment (one `moof` + `mdat`) hold its first sample, the
    segment's keyframe: the range an I-frame playlist names."""
    with open(segment, "rb") as handle:
        size = segment.stat().st_size
        moof, mdat_body = None, None
        for kind, body, stop in boxes(handle, 0, size):
            if kind == b"moof" and moof is None:
                moof = (body, stop)
            elif kind == b"mdat" and moof is not None:
                mdat_body = body
                break
        trun = find_box(handle, moof[0], moof[1], [b"traf", b"trun"]) if moof else None
        tfhd = find_box(handle, moof[0], moof[1], [b"traf", b"tfhd"]) if moof else None
        if trun is None or tfhd is None or mdat_body is None:
            return None
        flags = int.from_bytes(_read(handle, trun[0] + 1, 3), "big")
        if flags & 0x200:  # per-sample sizes
            position = trun[0] + 8 + (4 if flags & 0x1 else 0) + (4 if flags & 0x4 else 0)
            position += 4 if flags & 0x100 else 0
            (first,) = struct.unpack(">I", _read(handle, position, 4))
        else:
            first = _default_sample_size(handle, tfhd)
        return mdat_body + first if first else None


def _default_sample_size(handle: BinaryIO, tfhd: tuple[int, int]) -> int:
    flags = int.from_bytes(_read(handle, tfhd[0] + 1, 3), "big")
    position = tfhd[0] + 8
    for bit, width in ((0x1, 8), (0x2, 4), (0x8, 4)):
        position += width if flags & bit else 0
    return struct.unpack(">I", _read(handle, position, 4))[0] if flags & 0x10 else 0
