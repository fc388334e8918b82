"""The movie header read directly gives the duration the probe gives, for the files our stream
copies write (MP4 with B-frames and an edit list, ProRes in MOV, a 64-bit-sized box)."""

from __future__ import annotations

import struct
import subprocess

import pytest

from processor import isobmff
from processor.ffmpeg import Encoding
from processor.ffmpeg import Source as FfmpegSource
from processor.probe import Prober
from processor.smart_cut import SmartCutter
from tests.media import make_video
from video_manager import binaries


def copy_cut(source, output, start: float, end: float):
    subprocess.run([
        binaries.ffmpeg_path(), "-v", "error", "-y", "-ss", str(start), "-i", str(source),
        "-to", str(end - start), "-map", "0", "-c", "copy", "-avoid_negative_ts", "make_zero",
        "-movflags", "+faststart", str(output),
    ], check=True)  # fmt: skip
    return output


@pytest.mark.parametrize(
    ("name", "options"),
    [
        ("bframes.mp4", {"encoder_args": ("-preset", "superfast", "-bf", "3")}),
        ("prores.mov", {"video_codec": "prores_ks", "pix_fmt": "yuv422p10le", "audio_codec": "pcm_s16le"}),
        ("index-last.mp4", {"index_first": False}),
    ],
)
def test_the_movie_header_says_what_the_probe_says(tmp_path, name, options):
    source = make_video(tmp_path / name, seconds=4, size="160x120", gop=15, **options)
    cut = copy_cut(source, tmp_path / f"cut-{name}", 1.3, 3.1)
    probe = Prober(binaries.ffprobe_path(), timeout_s=30)
    for path in (source, cut):
        assert isobmff.presentation_duration(path) == pytest.approx(probe.probe(path).duration, abs=0.001)


def test_a_box_with_a_64_bit_size_and_garbage_after_it(tmp_path):
    mvhd = struct.pack(">I4sB3xQQIQ", struct.calcsize(">I4sB3xQQIQ"), b"mvhd", 1, 0, 0, 1000, 2500)
    moov = struct.pack(">I4sQ", 1, b"moov", 16 + len(mvhd)) + mvhd
    path = tmp_path / "odd.mp4"
    path.write_bytes(struct.pack(">I4s", 16, b"ftyp") + b"isom\0\0\0\0" + moov + b"\xff" * 7)
    assert isobmff.presentation_duration(path) == 2.5
    assert isobmff.index_at_end(path) is False
    path.write_bytes(b"not a box at all")
    assert isobmff.presentation_duration(path) is None


@pytest.mark.parametrize(
    ("name", "options"),
    [
        ("plain.mp4", {}),
        ("bframes.mp4", {"encoder_args": ("-preset", "superfast", "-bf", "3")}),  # an edit for the delay
        ("prores.mov", {"video_codec": "prores_ks", "pix_fmt": "yuv422p10le", "audio_codec": "pcm_s16le"}),
    ],
)
def test_the_edit_list_read_directly_hides_frames_where_the_pyav_child_counts_them(tmp_path, name, options):
    """What a copy merge asks of each MP4/MOV input, read from the boxes, equals the child's
    answer (which decodes the packets' discard flags): a source and an edit-list-only copy cut
    made elsewhere (`-ss 1.3 -c copy`, hiding 1.0 to 1.28 s of H.264) and one without that
    edit list."""
    source = make_video(tmp_path / name, seconds=4, size="160x120", gop=15, **options)
    hiding = tmp_path / f"hiding-{name}"
    subprocess.run([binaries.ffmpeg_path(), "-v", "error", "-y", "-ss", "1.3", "-i", str(source),
                    "-c", "copy", str(hiding)], check=True)  # fmt: skip
    cutter = SmartCutter(binaries.ffmpeg_path(), Encoding(), 60, 2048)
    answers = {}
    for path in (source, hiding, copy_cut(source, tmp_path / f"zeroed-{name}", 1.3, 3.1)):
        child = cutter.hides_frames(FfmpegSource(path, Prober(None).probe(path)))
        assert isobmff.hides_frames(path) == child, path.name
        answers[path.name] = child
    # every ProRes frame is a keyframe: its copy cut starts on its first shown frame
    assert answers[hiding.name] is (name != "prores.mov") and answers[source.name] is False
