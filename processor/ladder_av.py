"""`python -m processor.ladder_av frames` (JSON in on stdin, JSON out): a file's video frame times
and keyframes, read from its packets (nothing is decoded but the first frame, for its
rotation). Run as a limited child process: it demuxes an uploaded file, and checks every chunk
a worker encodes against the plan.
"""

from __future__ import annotations

import sys

import av

from processor.av_child import child_main
from processor.containers import OPEN_OPTIONS, REMOTE_OPEN_OPTIONS


def frames(request: dict) -> dict:
    """`pts` in presentation order on `time_base`, which of them are keyframes, the end of the
    last frame, and `origin`: the first frame's time on the clock ffmpeg's `-ss` seeks by (from
    the file's start time)."""
    options = dict(REMOTE_OPEN_OPTIONS if request.get("remote") else OPEN_OPTIONS)
    with av.open(request["source"], format=request.get("demuxer"), options=options) as container:
        stream = container.streams.video[0]
        packets = []
        for packet in container.demux(stream):
            stamp = packet.pts if packet.pts is not None else packet.dts
            if stamp is not None and packet.size:
                packets.append((stamp, bool(packet.is_keyframe), packet.duration or 0))
        if not packets:
            raise ValueError("the video track has no frames")
        packets.sort()
        start = container.start_time if container.start_time is not None else 0
        rotation = _rotation(request["source"], request.get("demuxer"), options)
    time_base = stream.time_base
    pts = [stamp for stamp, _key, _duration in packets]
    last = packets[-1][2] or (pts[-1] - pts[-2] if len(pts) > 1 else 0)
    return {
        "time_base": [time_base.numerator, time_base.denominator],
        "pts": pts,
        "keyframes": [index for index, (_stamp, key, _duration) in enumerate(packets) if key],
        "end_pts": pts[-1] + last,
        "origin": float(pts[0] * time_base) - start / av.time_base,
        "rotation": rotation,
    }


def _rotation(path: str, demuxer: str | None, options: dict) -> int:
    """Degrees clockwise a player turns the picture (its display matrix), from the first frame."""
    with av.open(path, format=demuxer, options=options) as container:
        for frame in container.decode(video=0):
            return round(-frame.rotation) % 360
    return 0


COMMANDS = {"frames": frames}

if __name__ == "__main__":
    sys.exit(child_main(COMMANDS))
