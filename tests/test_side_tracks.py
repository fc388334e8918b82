"""Subtitles and chapters through a cut, one function at a time: the SRT and FFMETADATA we write,
the mux command, and the PyAV child's window on a generated file (the whole path through a
trim is in tests/test_real_media.py)."""

from __future__ import annotations

import subprocess
from fractions import Fraction
from pathlib import Path

import pytest

from processor import containers, ffmpeg, side_tracks
from processor.jobs import _carry_side_tracks
from processor.probe import Prober
from tests.test_processing_units import source
from video_manager import binaries

SUBTITLES = (
    "1\n00:00:00,200 --> 00:00:01,200\nhello\n\n2\n00:00:01,500 --> 00:00:01,900\nagain\n\n"
    "3\n00:00:03,000 --> 00:00:04,500\nthird {\\i1}line{\\i0}\\Nand more\n"
)
CHAPTERS = (
    ";FFMETADATA1\n[CHAPTER]\nTIMEBASE=1/1000\nSTART=0\nEND=1000\ntitle=one\n"
    "[CHAPTER]\nTIMEBASE=1/1000\nSTART=1000\nEND=2500\ntitle=two\n"
    "[CHAPTER]\nTIMEBASE=1/1000\nSTART=2500\nEND=5000\ntitle=three\n"
)


def test_srt_numbers_the_cues_and_writes_their_times_to_the_millisecond():
    written = side_tracks.srt([(0.0, 0.7, "hello"), (3661.25, 3662.0006, "two\nlines")])
    assert written == (
        "1\n00:00:00,000 --> 00:00:00,700\nhello\n\n2\n01:01:01,250 --> 01:01:02,001\ntwo\nlines\n"
    )


def test_chapter_titles_are_escaped_in_ffmetadata():
    chapters = [side_tracks.Chapter(0.0, 1.5, "a=b; #c\\d\ne")]
    assert side_tracks.ffmetadata(chapters) == (
        ";FFMETADATA1\n[CHAPTER]\nTIMEBASE=1/1000\nSTART=0\nEND=1500\ntitle=a\\=b\\; \\#c\\\\d\\\ne\n"
    )


def test_the_mux_copies_the_result_adds_each_track_with_its_language_and_replaces_chapters():
    command = ffmpeg.with_side_tracks(
        "ffmpeg", Path("cut.mp4"), containers.MP4, [Path("a.srt"), Path("b.srt")],
        [("fra", None), (None, "commentary")], Path("chapters.txt"), Path("out.mp4"), "01:00:00:13",
    )  # fmt: skip
    inputs = [command[index + 1] for index, word in enumerate(command) if word == "-i"]
    assert inputs == ["cut.mp4", "a.srt", "b.srt", "chapters.txt"]
    forced = [command[index + 1] for index, word in enumerate(command) if word == "-f"]
    assert forced == ["mov", "srt", "srt", "ffmetadata", "mp4"]  # no input is guessed
    assert command.count("-protocol_whitelist") == 4
    maps = [command[index + 1] for index, word in enumerate(command) if word == "-map"]
    assert maps == ["0:v", "0:a?", "1:s", "2:s"]
    assert command[command.index("-map_chapters") + 1] == "3"
    assert command[command.index("-c:s") + 1] == "mov_text" and command[command.index("-c") + 1] == "copy"
    labels = [command[index + 1] for index, word in enumerate(command) if word.startswith("-metadata:s:s:")]
    assert labels == ["language=fra", "language=und", "title=commentary"]
    assert command[command.index("-timecode") + 1] == "01:00:00:13"
    without = ffmpeg.with_side_tracks("ffmpeg", Path("c.mkv"), containers.MATROSKA, [Path("a.srt")],
                                      [("eng", None)], None, Path("o.mkv"))  # fmt: skip
    assert without[without.index("-map_chapters") + 1] == "-1"  # the cut's own are not kept
    assert without[without.index("-c:s") + 1] == "srt" and "-timecode" not in without


@pytest.fixture(scope="module")
def subtitled(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("text")
    (folder / "subs.srt").write_text(SUBTITLES)
    (folder / "chapters.txt").write_text(CHAPTERS)
    path = folder / "subtitled.mp4"
    subprocess.run(
        [binaries.ffmpeg_path(), "-v", "error", "-y", "-f", "lavfi", "-i", "testsrc=size=160x120:rate=25",
         "-i", str(folder / "subs.srt"), "-i", str(folder / "chapters.txt"), "-map", "0", "-map", "1",
         "-map_chapters", "2", "-c:v", "libx264", "-preset", "ultrafast", "-g", "25", "-c:s", "mov_text",
         "-metadata:s:s:0", "language=fra", "-t", "5", str(path)],
        check=True,
    )  # fmt: skip
    return path


def read(path: Path, **where) -> side_tracks.SideTracks:
    media = Prober(None).probe(path)
    assert (media.subtitle_tracks, media.chapters) == (1, 3)  # counted at probing
    return side_tracks.read_window(ffmpeg.Source(path, media), **where, timeout_s=60, memory_limit_mb=2048)


def test_a_frame_exact_window_keeps_the_cues_and_chapters_inside_it_cut_at_its_edges(subtitled):
    text = read(subtitled, zero=1.3, until=3.3)
    (track,) = text.tracks
    assert track.language == "fra"
    assert [(round(s, 3), round(e, 3), t) for s, e, t in track.cues] == [
        (0.2, 0.6, "again"),
        (1.7, 2.0, "third line\nand more"),  # cut at the window's end; ASS markup gone
    ]
    assert [(round(c.start, 3), round(c.end, 3), c.title) for c in text.chapters] == [
        (0.0, 1.2, "two"),
        (1.2, 2.0, "three"),
    ]


def test_a_fast_trims_window_starts_on_the_keyframe_before_its_start(subtitled):
    text = read(subtitled, keyframe_for=1.3, until=3.3)  # keyframes each second: it starts at 1.0
    assert [(round(s, 3), round(e, 3), t) for s, e, t in text.tracks[0].cues] == [
        (0.0, 0.2, "hello"),  # shown from 0.2 s to 1.2 s: its end is in the window
        (0.5, 0.9, "again"),
        (2.0, 2.3, "third line\nand more"),
    ]
    assert [c.title for c in text.chapters] == ["two", "three"]  # `one` ends where it starts


def test_a_source_without_side_tracks_costs_no_child(monkeypatch, tmp_path):
    def refuse(*_args, **_kwargs):
        raise AssertionError("read a source that has no subtitles, chapters or timecode")

    monkeypatch.setattr(side_tracks, "read_window", refuse)
    carried = _carry_side_tracks(None, source(), tmp_path / "o.mp4", containers.MP4, {"zero": 0, "until": 1})
    assert carried == {"subtitle_tracks": 0, "chapters": 0, "timecode": None}


def test_a_merges_text_is_each_inputs_at_its_offset_track_by_track():
    first = side_tracks.SideTracks(
        [side_tracks.TextTrack("fra", None, [(0.2, 1.0, "a")])], [side_tracks.Chapter(0, 2, "one")]
    )
    second = side_tracks.SideTracks(
        [
            side_tracks.TextTrack("eng", "x", [(0.5, 1.0, "b")]),
            side_tracks.TextTrack("deu", None, [(0, 1, "c")]),
        ],
        [side_tracks.Chapter(0, 1, "two")],
    )
    merged = side_tracks.joined([(0.0, first), (2.0, side_tracks.SideTracks([], [])), (3.0, second)])
    assert merged.tracks == [
        side_tracks.TextTrack("fra", None, [(0.2, 1.0, "a"), (3.5, 4.0, "b")]),
        side_tracks.TextTrack("deu", None, [(3.0, 4.0, "c")]),
    ]
    assert merged.chapters == [side_tracks.Chapter(0, 2, "one"), side_tracks.Chapter(3.0, 4.0, "two")]


@pytest.mark.parametrize(
    ("timecode", "frames", "rate", "moved"),
    [
        ("01:00:00:00", 30, Fraction(25), "01:00:01:05"),
        ("23:59:59:24", 2, Fraction(25), "00:00:00:01"),  # past midnight
        ("00:00:59;29", 1, Fraction(30000, 1001), "00:01:00;02"),  # drop-frame skips ;00 and ;01
        ("00:09:59;29", 1, Fraction(30000, 1001), "00:10:00;00"),  # but not at every tenth minute
        ("00:00:00;00", 17982, Fraction(30000, 1001), "00:10:00;00"),  # ten drop-frame minutes
        ("10:00:00;00", 2, Fraction(60000, 1001), "10:00:00;02"),
        ("00:00:59;59", 1, Fraction(60000, 1001), "00:01:00;04"),
        ("01:02:03:04", 0, Fraction(24000, 1001), "01:02:03:04"),
    ],
)
def test_a_timecode_moves_on_as_a_camera_counts(timecode, frames, rate, moved):
    assert side_tracks.shifted_timecode(timecode, frames, rate) == moved
