"""`python -m processor.side_tracks_av window` (JSON in on stdin, JSON out): the text subtitle
cues and the chapters that fall in a window of a source, moved to start where the cut's result
starts, read with PyAV in a limited child process (processor.av_child) like every other reading
of an upload.

The request gives seconds from the file's start, as a player shows them: `until`, where the
result ends, and either `zero`, where it starts (a precise trim's first frame), or `keyframe_for`,
a fast trim's start, whose result starts on the keyframe at or before it. A cue or chapter that
straddles an edge is cut to the window; the answer's times count from the result's start.
"""

from __future__ import annotations

import re
import sys
from fractions import Fraction

import av

from processor.av_child import child_main
from processor.containers import OPEN_OPTIONS, REMOTE_OPEN_OPTIONS, TEXT_SUBTITLE_CODECS

# Cues are looked for from this long before the window: one that started earlier and still
# shows in it would be missed (a cue rarely lasts a minute), and a long file is not read whole.
CUE_LEAD_S = 60
ASS_OVERRIDES = re.compile(r"\{[^}]*\}")


def window(request: dict) -> dict:
    options = dict(REMOTE_OPEN_OPTIONS if request["remote"] else OPEN_OPTIONS)
    with av.open(request["source"], format=request["demuxer"], options=options) as container:
        origin = Fraction(container.start_time or 0, av.time_base)  # the file's first timestamp
        until = Fraction(request["until"]) + origin
        if request.get("keyframe_for") is not None:
            zero = _keyframe_at_or_before(container, Fraction(request["keyframe_for"]) + origin)
        else:
            zero = Fraction(request["zero"]) + origin
        chapters = _chapters(container, zero, until)
        tracks = _tracks(container, zero, until)
    return {"zero": float(zero - origin), "tracks": tracks, "chapters": chapters}


def _keyframe_at_or_before(container, moment: Fraction) -> Fraction:
    """Where a stream copy that starts at `moment` starts: ffmpeg's input seek goes to the same
    keyframe."""
    video = container.streams.video[0]
    container.seek(int(moment / video.time_base), stream=video, backward=True, any_frame=False)
    for packet in container.demux(video):
        if packet.pts is not None:
            return min(moment, packet.pts * video.time_base)
    return moment


def _clip(start: Fraction, end: Fraction, zero: Fraction, until: Fraction) -> tuple[float, float] | None:
    """[start, end) cut to the window and counted from its start; None when nothing is in it."""
    if end <= zero or start >= until:
        return None
    return float(max(start, zero) - zero), float(min(end, until) - zero)


def _chapters(container, zero: Fraction, until: Fraction) -> list[dict]:
    kept = []
    for chapter in container.chapters():
        base = chapter["time_base"]
        span = _clip(chapter["start"] * base, chapter["end"] * base, zero, until)
        if span:
            kept.append({"start": span[0], "end": span[1], "title": chapter["metadata"].get("title", "")})
    return kept


def _tracks(container, zero: Fraction, until: Fraction) -> list[dict]:
    streams = [
        stream
        for stream in container.streams.subtitles
        if stream.codec_context is not None and stream.codec_context.codec.name in TEXT_SUBTITLE_CODECS
    ]
    if not streams:
        return []
    cues: dict[int, list] = {stream.index: [] for stream in streams}
    # From before the window (and back from where finding a fast trim's keyframe left it).
    container.seek(max(0, int((zero - CUE_LEAD_S) * av.time_base)), backward=True)
    for packet in container.demux(*streams):
        if packet.pts is None or not packet.size:
            continue
        start = packet.pts * packet.time_base
        if start >= until:
            break  # packets come in time order: the window's cues are all read
        end = start + (packet.duration or 0) * packet.time_base
        span = _clip(start, end, zero, until)
        text = "\n".join(_plain(subtitle) for subtitle in packet.decode()).strip()
        if span and text:
            cues[packet.stream.index].append([*span, text])
    return [
        {
            "language": stream.metadata.get("language"),
            "title": stream.metadata.get("title"),
            "cues": cues[stream.index],
        }
        for stream in streams
    ]


def _plain(subtitle) -> str:
    """A decoded cue's text without ASS markup (FFmpeg decodes every text format to ASS)."""
    text = subtitle.dialogue.decode(errors="replace")
    return ASS_OVERRIDES.sub("", text).replace("\\N", "\n").replace("\\n", "\n").replace("\\h", " ")


COMMANDS = {"window": window}

if __name__ == "__main__":
    sys.exit(child_main(COMMANDS))
