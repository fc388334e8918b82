"""ffprobe/ffmpeg read-outs the processing tests compare: stream durations and packet hashes."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import binaries


def streams(path: Path) -> list[dict]:
    report = subprocess.run(
        [binaries.ffprobe_path(), "-v", "error", "-print_format", "json", "-show_streams", str(path)],
        capture_output=True, check=True,
    )  # fmt: skip
    return json.loads(report.stdout)["streams"]


def stream_duration(path: Path, kind: str) -> float:
    stream = next(s for s in streams(path) if s["codec_type"] == kind)
    return float(stream["duration"])


def video_packets(path: Path) -> list[tuple[bool, str, str]]:
    """(keyframe?, size, md5 of the payload) of every video packet, as stored in the file."""
    out = subprocess.run(
        [binaries.ffprobe_path(), "-v", "error", "-select_streams", "v:0", "-show_packets", "-show_data_hash",
         "md5", "-show_entries", "packet=flags,size,data_hash", "-of", "csv=p=0", str(path)],
        capture_output=True, check=True, text=True,
    ).stdout  # fmt: skip
    packets = []
    for line in out.splitlines():
        size, flags, digest = line.split(",")[:3]
        packets.append((flags.startswith("K"), size, digest))
    return packets


def copied_without_reencode(output: list, sources: list) -> bool:
    """Same packets in the same order. Keyframes may carry parameter sets (SPS/PPS) the muxer
    repeats where one input ends and the next begins; every other packet is byte-identical."""
    if [p[0] for p in output] != [p[0] for p in sources]:
        return False
    return all(out == src for out, src in zip(output, sources, strict=True) if not src[0])


def first_video_packet_is_keyframe(path: Path) -> bool:
    out = subprocess.run(
        [binaries.ffprobe_path(), "-v", "error", "-select_streams", "v:0", "-show_entries", "packet=flags",
         "-read_intervals", "%+#1", "-of", "csv=p=0", str(path)],
        capture_output=True, check=True, text=True,
    ).stdout  # fmt: skip
    return out.strip().splitlines()[0].startswith("K")


def is_contiguous_sublist(part: list, whole: list) -> bool:
    return any(whole[i : i + len(part)] == part for i in range(len(whole) - len(part) + 1))
