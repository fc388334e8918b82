"""`python -m processor.probe_av FILE|- [--remote]`: ffprobe's JSON report (the fields we read), made by
PyAV; with `-` the path is the first line of input (the child starts before the file is whole).

Run as a child process by processor.probe when there is no ffprobe, so a hostile file that
hangs or bloats the demuxer costs a killable process, not a server thread.
"""

from __future__ import annotations

import json
import sys

import av
from av.stream import Disposition

from processor.containers import OPEN_OPTIONS, REMOTE_OPEN_OPTIONS


def report(path: str, *, remote: bool = False) -> dict:
    with av.open(path, options=dict(REMOTE_OPEN_OPTIONS if remote else OPEN_OPTIONS)) as container:
        streams = [_stream(stream) for stream in container.streams]
        duration = container.duration / av.time_base if container.duration else None
        start = container.start_time / av.time_base if container.start_time else 0.0
        described = {"format_name": container.format.name, "duration": duration, "start_time": start}
        chapters = [{"id": chapter["id"]} for chapter in container.chapters()]  # counted, not read
        return {"format": described, "streams": streams, "chapters": chapters}


# FFmpeg's names of the transfer characteristics (libavutil/pixfmt.h), as ffprobe prints them;
# 2 (unspecified) is left out.
TRANSFER_NAMES = {
    1: "bt709", 4: "gamma22", 5: "gamma28", 6: "smpte170m", 7: "smpte240m", 8: "linear",
    13: "iec61966-2-1", 14: "bt2020-10", 15: "bt2020-12", 16: "smpte2084", 18: "arib-std-b67",
}  # fmt: skip


def _stream(stream) -> dict:
    """One stream as ffprobe describes it. Tracks without a decoder (a camera's timecode, GoPro
    telemetry) have no codec context: they are described by their type alone."""
    context = stream.codec_context
    described = {
        "codec_type": stream.type,
        # The codec's own name (`av1`), never the decoder's (`libdav1d`).
        "codec_name": context.codec.canonical_name if context is not None else "none",
        "duration": float(stream.duration * stream.time_base) if stream.duration else None,
        "disposition": {"attached_pic": int(bool(stream.disposition & Disposition.attached_pic))},
    }
    if "timecode" in stream.metadata:
        described["tags"] = {"timecode": stream.metadata["timecode"]}
    if context is None:
        return described
    if stream.type == "video":
        rate = stream.average_rate or stream.base_rate
        described.update(
            width=context.width,
            height=context.height,
            pix_fmt=context.pix_fmt,
            avg_frame_rate=f"{rate.numerator}/{rate.denominator}" if rate else "0/0",
            color_transfer=TRANSFER_NAMES.get(context.color_trc),
        )
    elif stream.type == "audio":
        described.update(sample_rate=context.sample_rate, channels=context.layout.nb_channels)
    return described


def main() -> int:
    path = sys.stdin.readline().rstrip("\n") if sys.argv[1] == "-" else sys.argv[1]
    try:
        print(json.dumps(report(path, remote="--remote" in sys.argv[2:])))
    except Exception as exc:  # a hostile file may upset PyAV in any way: it is then not a video
        # FFmpeg's own sentence, as ffprobe prints it; anything else with its type's name.
        reason = getattr(exc, "strerror", None) or f"{type(exc).__name__}: {exc}"
        print(reason.replace(path, "input"), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
