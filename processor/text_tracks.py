"""Subtitles and chapters through a cut: a trim keeps the text subtitle cues and the chapters of
its window, moved to where its result starts.

ffmpeg cannot be trusted with them in the cut itself (a stream copy of a subtitle track keeps the
cue before the window at a negative time and shifts the whole result by it; `-copyts` leaves
them unshifted), so they are read cue by cue (processor.text_tracks_av), cut to the window,
written as SRT and FFMETADATA files and muxed into the finished result by stream copy.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable
from dataclasses import dataclass
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
class WindowText:
    """What a result holds of its source's subtitles and chapters."""

    tracks: list[TextTrack]
    chapters: list[Chapter]

    @classmethod
    def from_json(cls, answer: dict) -> WindowText:
        return cls(
            tracks=[
                TextTrack(track["language"], track["title"], [tuple(cue) for cue in track["cues"]])
                for track in answer["tracks"]
            ],
            chapters=[Chapter(**chapter) for chapter in answer["chapters"]],
        )


def joined(parts: list[tuple[float, WindowText]]) -> WindowText:
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
    return WindowText(tracks, chapters)


def read_window(
    source: ffmpeg.Source, *, until: float, zero: float | None = None, keyframe_for: float | None = None,
    timeout_s: float, memory_limit_mb: int,
) -> WindowText:  # fmt: skip
    """The window's cues and chapters; seconds count from the file's start (see text_tracks_av)."""
    request = {
        "source": str(source.path), "demuxer": source.media.demuxer, "remote": source.remote,
        "until": repr(until), "zero": repr(zero), "keyframe_for": keyframe_for,
    }  # fmt: skip
    try:
        answer = run_av_child("processor.text_tracks_av", "window", request, timeout_s=timeout_s,
                              memory_limit_mb=memory_limit_mb)  # fmt: skip
    except AvChildFailed as exc:
        raise TextTracksUnreadable(exc.reason) from exc
    return WindowText.from_json(answer)


class TextTracksUnreadable(Exception):
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


def carry(
    ffmpeg_path: str, text: WindowText, result: Path, muxer: containers.Muxer,
    staged: Callable[[str], contextlib.AbstractContextManager[Path]], run: Callable[[list[str]], None],
) -> None:  # fmt: skip
    """Mux `text` into the finished `result` (stream copy, into a file of its own, then moved over
    it: the result is never half-written). Its chapters replace any the cut itself copied; a
    track with no cue in the window is left out (an empty SRT file is no track)."""
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
            ffmpeg.with_text_tracks(
                ffmpeg_path, result, muxer, subtitle_files, [(t.language, t.title) for t in tracks],
                chapters_file, joined,
            )
        )  # fmt: skip
        os.replace(joined, result)
