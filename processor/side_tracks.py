"""Subtitles, chapters and timecode through a cut: a trim keeps the text subtitle cues and the
chapters of its window, moved to where its result starts, and a camera's timecode moved on to
its first frame.

ffmpeg cannot be trusted with them in the cut itself (a stream copy of a subtitle track keeps the
cue before the window at a negative time and shifts the whole result by it; `-copyts` leaves
them unshifted; a copied timecode still names the source's first frame), so they are read cue by
cue (processor.side_tracks_av), cut to the window, written as SRT and FFMETADATA files and muxed
into the finished result by stream copy, with its timecode.
"""

from __future__ import annotations

import contextlib
import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

from processor import containers, ffmpeg
from processor.av_child import AvChildFailed, run_av_child


@dataclass(frozen=True)
class TextTrack:
    language: str | None
    title: str | None
    cues: list[tuple[float, float, str]]  # start, end (seconds in the result), text


@dataclass(frozen=True)
class Chapter:
    start: float
    end: float
    title: str


@dataclass(frozen=True)
class SideTracks:
    """What a result holds of its source's subtitles and chapters, and where in the source it
    starts (`zero`, seconds from the file's start: its timecode moves on by that much)."""

    tracks: list[TextTrack]
    chapters: list[Chapter]
    zero: float = 0.0

    @classmethod
    def from_json(cls, answer: dict) -> SideTracks:
        return cls(
            tracks=[
                TextTrack(track["language"], track["title"], [tuple(cue) for cue in track["cues"]])
                for track in answer["tracks"]
            ],
            chapters=[Chapter(**chapter) for chapter in answer["chapters"]],
            zero=answer["zero"],
        )


def joined(parts: list[tuple[float, SideTracks]]) -> SideTracks:
    """A merge's text: each input's (from its start, at its offset in the result) one after
    another; the n-th subtitle track of each input goes into the result's n-th track, labelled
    as the first input that has one labels it."""
    tracks: list[TextTrack] = []
    chapters: list[Chapter] = []
    for offset, text in parts:
        for number, track in enumerate(text.tracks):
            moved = [(start + offset, end + offset, words) for start, end, words in track.cues]
            if number < len(tracks):
                tracks[number].cues.extend(moved)
            else:
                tracks.append(TextTrack(track.language, track.title, moved))
        chapters += [Chapter(c.start + offset, c.end + offset, c.title) for c in text.chapters]
    return SideTracks(tracks, chapters)  # from the first input's start


def read_window(
    source: ffmpeg.Source, *, until: float, zero: float | None = None, keyframe_for: float | None = None,
    timeout_s: float, memory_limit_mb: int,
) -> SideTracks:  # fmt: skip
    """The window's cues and chapters; seconds count from the file's start (see side_tracks_av)."""
    request = {
        "source": str(source.path), "demuxer": source.media.demuxer, "remote": source.remote,
        "until": repr(until), "zero": repr(zero),
        "keyframe_for": None if keyframe_for is None else repr(keyframe_for),  # 1.2, not 1.19999...
    }  # fmt: skip
    try:
        answer = run_av_child("processor.side_tracks_av", "window", request, timeout_s=timeout_s,
                              memory_limit_mb=memory_limit_mb)  # fmt: skip
    except AvChildFailed as exc:
        raise SideTracksUnreadable(exc.reason) from exc
    return SideTracks.from_json(answer)


class SideTracksUnreadable(Exception):
    """The source's subtitles or chapters could not be read; the result goes without them."""


def srt(cues: list[tuple[float, float, str]]) -> str:
    """SubRip text of the cues (the one text format every muxer's subtitle encoder reads)."""
    blocks = [
        f"{number}\n{_clock(start)} --> {_clock(end)}\n{text}\n"
        for number, (start, end, text) in enumerate(cues, start=1)
    ]
    return "\n".join(blocks)


def _clock(seconds: float) -> str:
    millis = round(seconds * 1000)
    return (
        f"{millis // 3_600_000:02d}:{millis // 60_000 % 60:02d}:{millis // 1000 % 60:02d},{millis % 1000:03d}"
    )


def ffmetadata(chapters: list[Chapter]) -> str:
    """FFmpeg's metadata file with the chapters, in milliseconds."""
    lines = [";FFMETADATA1"]
    for chapter in chapters:
        lines += ["[CHAPTER]", "TIMEBASE=1/1000", f"START={round(chapter.start * 1000)}",
                  f"END={round(chapter.end * 1000)}", f"title={_escaped(chapter.title)}"]  # fmt: skip
    return "\n".join(lines) + "\n"


def _escaped(value: str) -> str:
    """FFMETADATA's escaping: `=`, `;`, `#`, backslash and line breaks take a backslash."""
    for special in ("\\", "=", ";", "#", "\n"):
        value = value.replace(special, "\\" + special)
    return value


def shifted_timecode(timecode: str, frames: int, rate: Fraction) -> str:
    """`timecode` (HH:MM:SS:FF, or drop-frame HH:MM:SS;FF at 29.97 and 59.94) moved on by
    `frames` at `rate`, as a camera would have counted on to that frame."""
    nominal = max(1, round(rate))
    drop = nominal // 15 if timecode[8] in ";." and rate.denominator == 1001 else 0
    hours, minutes, seconds, count = (int(part) for part in re.split("[:;.]", timecode))
    total_minutes = hours * 60 + minutes
    number = (total_minutes * 60 + seconds) * nominal + count - drop * (total_minutes - total_minutes // 10)
    number = (number + frames) % (24 * 3600 * nominal - drop * 9 * 144)
    if drop:  # count the skipped labels back in: two (four) at each minute but every tenth
        per_ten, per_minute = nominal * 600 - drop * 9, nominal * 60 - drop
        tens, rest = divmod(number, per_ten)
        number += drop * 9 * tens + (drop * ((rest - drop) // per_minute) if rest > drop else 0)
    frame = number % nominal
    whole = number // nominal
    separator = ";" if drop else ":"
    return f"{whole // 3600 % 24:02d}:{whole // 60 % 60:02d}:{whole % 60:02d}{separator}{frame:02d}"


def carry(
    ffmpeg_path: str, text: SideTracks, result: Path, muxer: containers.Muxer,
    staged: Callable[[str], contextlib.AbstractContextManager[Path]], run: Callable[[list[str]], None],
    timecode: str | None = None,
) -> None:  # fmt: skip
    """Mux `text` and `timecode` into the finished `result` (stream copy, into a file of its own,
    then moved over it: the result is never half-written). Its chapters and timecode replace any
    the cut itself copied; a track with no cue in the window is left out (an empty SRT file is
    no track)."""
    tracks = [track for track in text.tracks if track.cues]
    with contextlib.ExitStack() as stack:
        subtitle_files = []
        for track in tracks:
            path = stack.enter_context(staged(".srt"))
            path.write_text(srt(track.cues), encoding="utf-8")
            subtitle_files.append(path)
        chapters_file = None
        if text.chapters:
            chapters_file = stack.enter_context(staged(".txt"))
            chapters_file.write_text(ffmetadata(text.chapters), encoding="utf-8")
        joined = stack.enter_context(staged(muxer.suffix))
        run(
            ffmpeg.with_side_tracks(
                ffmpeg_path, result, muxer, subtitle_files, [(t.language, t.title) for t in tracks],
                chapters_file, joined, timecode,
            )
        )  # fmt: skip
        os.replace(joined, result)
