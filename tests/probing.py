"""Read-outs the processing tests compare (stream durations, packet hashes), made with PyAV so
they need no ffprobe binary."""

from __future__ import annotations

import hashlib
from pathlib import Path

import av


def stream_duration(path: Path, kind: str) -> float:
    with av.open(str(path)) as container:
        stream = next(s for s in container.streams if s.type == kind)
        return float(stream.duration * stream.time_base)


def video_packets(path: Path) -> list[tuple[bool, int, str]]:
    """(keyframe?, size, md5 of the payload) of every video packet, as stored in the file."""
    with av.open(str(path)) as container:
        return [
            (packet.is_keyframe, packet.size, hashlib.md5(bytes(packet)).hexdigest())
            for packet in container.demux(video=0)
            if packet.size
        ]


def copied_without_reencode(output: list, sources: list) -> bool:
    """Same packets in the same order. Keyframes may carry parameter sets (SPS/PPS) the muxer
    repeats where one input ends and the next begins; every other packet is byte-identical."""
    if [p[0] for p in output] != [p[0] for p in sources]:
        return False
    return all(out == src for out, src in zip(output, sources, strict=True) if not src[0])


def first_video_packet_is_keyframe(path: Path) -> bool:
    with av.open(str(path)) as container:
        return next(p for p in container.demux(video=0) if p.size).is_keyframe


def is_contiguous_sublist(part: list, whole: list) -> bool:
    return any(whole[i : i + len(part)] == part for i in range(len(whole) - len(part) + 1))
