"""Unit tests of single functions: command builders, progress parsing, time parsing, job runs."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from processor import containers, encoders, ffmpeg, streaming
from processor.jobs import JobContext, _run_task
from processor.probe import MediaInfo
from processor.runner import FfmpegError, parse_progress_line, run_ffmpeg, scrub
from server.tasks import parse_seconds
from storage.database import db
from storage.models import Task, User, Video
from tests.media import make_video
from video_manager import binaries


def source(path: str = "/data/videos/ab/x", remote: bool = False, **overrides) -> ffmpeg.Source:
    values = dict(
        duration=3.0, width=320, height=240, video_codec="h264", audio_codec="aac", pix_fmt="yuv420p",
        frame_rate="30/1", sample_rate=48000, audio_channels=1, format_name="mp4", content_type="video/mp4",
    )  # fmt: skip
    where = path if remote else Path(path)
    return ffmpeg.Source(path=where, media=MediaInfo(**{**values, **overrides}), remote=remote)


def test_fast_trim_is_stream_copy():
    command = ffmpeg.trim_fast("ffmpeg", source(), 1.25, 3.5, Path("out.mp4"))
    assert command[command.index("-ss") + 1] == "1.250"
    assert command[command.index("-t") + 1] == "2.250"
    assert command[command.index("-c") + 1] == "copy"
    assert "make_zero" in command and "libx264" not in command
    assert command.index("-ss") < command.index("-i")  # input seeking


@pytest.mark.parametrize(
    ("video_codec", "audio_codec", "muxer"),
    [
        ("h264", "aac", "mp4"), ("hevc", None, "mp4"), ("av1", "opus", "mp4"), ("vp9", "opus", "mp4"),
        ("mjpeg", "pcm_s16le", "mp4"), ("prores", "pcm_s24le", "mov"), ("dnxhd", "aac", "mov"),
        ("h264", "pcm_f32be", "mov"), ("ffv1", "flac", "matroska"), ("vp8", "vorbis", "matroska"),
    ],
)  # fmt: skip
def test_a_stream_copy_goes_into_a_container_that_holds_it(video_codec, audio_codec, muxer):
    copied = source(video_codec=video_codec, audio_codec=audio_codec)
    command = ffmpeg.trim_fast("ffmpeg", copied, 0, 1, Path("o"))
    assert command[-3:-1] == ["-f", muxer]
    assert command[command.index("-map", command.index("0:v:0")) + 1] == "0:a?"  # every audio track


def test_precise_trim_reencodes_with_configured_quality():
    command = ffmpeg.trim_precise(
        "ffmpeg", source(), ffmpeg.Window(1, 2), Path("o.mp4"), ffmpeg.Encoding(crf=20, preset="fast")
    )
    assert command[command.index("-c:v") + 1] == "libx264"
    assert command[command.index("-crf") + 1] == "20" and command[command.index("-preset") + 1] == "fast"
    assert "-c:a" in command
    silent = ffmpeg.trim_precise(
        "ffmpeg", source(audio_codec=None), ffmpeg.Window(1, 2), Path("o.mp4"), ffmpeg.Encoding()
    )
    assert "-c:a" not in silent


@pytest.mark.parametrize(
    ("video_codec", "pix_fmt", "encoder", "encoded_as"),
    [
        ("h264", "yuv420p", "libx264", "yuv420p"), ("h264", "yuv420p10le", "libx264", "yuv420p10le"),
        ("hevc", "yuv420p10le", "libx265", "yuv420p10le"), ("hevc", "yuv422p12le", "libx265", "yuv422p12le"),
        ("vp9", "yuv444p", "libvpx-vp9", "yuv444p"), ("av1", "yuv422p10le", "libsvtav1", "yuv420p10le"),
        ("av1", "yuv444p", "libsvtav1", "yuv420p"), ("mpeg2video", "yuv422p", "libx264", "yuv422p"),
        ("mpeg4", "nv12", "libx264", "yuv420p"), ("h264", "p010le", "libx264", "yuv420p10le"),
    ],
)  # fmt: skip
def test_a_re_encode_keeps_the_codec_family_and_the_nearest_pixel_format(video_codec, pix_fmt, encoder,
                                                                          encoded_as):  # fmt: skip
    command = ffmpeg.trim_precise("ffmpeg", source(video_codec=video_codec, pix_fmt=pix_fmt),
                                  ffmpeg.Window(1, 2), Path("o.mp4"), ffmpeg.Encoding())  # fmt: skip
    assert command[command.index("-c:v") + 1] == encoder
    assert command[command.index("-pix_fmt") + 1] == encoded_as
    assert "-noautorotate" in command  # the display matrix stays, as in a stream copy


@pytest.mark.parametrize("encoder", list(encoders.BY_CODEC.values()), ids=lambda encoder: encoder.name)
def test_every_pixel_format_we_hand_an_encoder_is_one_the_shipped_ffmpeg_takes(encoder):
    help_text = subprocess.run([binaries.ffmpeg_path(), "-hide_banner", "-h", f"encoder={encoder.name}"],
                               capture_output=True, text=True, check=True).stdout  # fmt: skip
    line = next(line for line in help_text.splitlines() if "Supported pixel formats" in line)
    supported = set(line.split(":", 1)[1].split())
    assert set(encoder.pixel_formats) | {encoder.high_depth_format} <= supported


def test_merge_choice():
    assert ffmpeg.can_concat_by_copy([source(), source("/b")])
    for different in [{"width": 640}, {"frame_rate": "25/1"}, {"audio_codec": None}, {"sample_rate": 44100},
                      {"pix_fmt": "yuv444p"}, {"video_codec": "hevc"}, {"audio_channels": 2}]:  # fmt: skip
        assert not ffmpeg.can_concat_by_copy([source(), source(**different)]), different


def test_concat_list_escapes_quotes():
    text = ffmpeg.concat_list([source("/a/it's.mp4"), source("/b/c.mp4")])
    assert text == "file '/a/it'\\''s.mp4'\nfile '/b/c.mp4'\n"


def test_normalising_merge_adds_silence_for_inputs_without_audio():
    command = ffmpeg.merge_normalised(
        "ffmpeg",
        [source(), source(audio_codec=None, width=641, height=361)],
        Path("o.mp4"),
        ffmpeg.Encoding(),
    )
    graph = command[command.index("-filter_complex") + 1]
    assert "anullsrc" in graph and "concat=n=2:v=1:a=1" in graph
    assert "scale=320:240" in graph and "fps=30/1" in graph
    no_audio = ffmpeg.merge_normalised(
        "ffmpeg", [source(audio_codec=None), source(audio_codec=None)], Path("o.mp4"), ffmpeg.Encoding()
    )
    assert "a=0" in no_audio[no_audio.index("-filter_complex") + 1] and "-c:a" not in no_audio


@pytest.mark.parametrize(
    ("line", "expected"),
    [("out_time_us=1500000", 0.5), ("out_time_ms=3000000", 1.0), ("out_time_us=N/A", None),
     ("progress=end", 1.0), ("progress=continue", None), ("frame=12", None), ("out_time_us=9000000", 1.0)],
)  # fmt: skip
def test_progress_lines(line, expected):
    assert parse_progress_line(line, 3.0) == expected


def test_scrub_removes_paths():
    assert scrub("/srv/data/videos/ab/123: Invalid data") == "<file>: Invalid data"


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        (5, 5.0),
        (1.2345, 1.234),
        ("2.5", 2.5),
        ("00:00:03.456", 3.456),
        ("1:02.5", 62.5),
        ("01:00:00", 3600.0),
    ],
)
def test_parse_seconds(value, seconds):
    assert parse_seconds(value) == pytest.approx(seconds, abs=0.001)


@pytest.mark.parametrize("value", [-1, "abc", "1:60", True, None, float("nan"), float("inf"), [], "1:2:3:4"])
def test_parse_seconds_rejects(value):
    with pytest.raises(ValueError):
        parse_seconds(value)


def test_runner_reports_failure_without_paths(tmp_path):
    missing = tmp_path / "secret" / "missing.mp4"
    with pytest.raises(FfmpegError) as caught:
        run_ffmpeg(
            ffmpeg.trim_fast(ffmpeg_path(), source(str(missing)), 0, 1, tmp_path / "o.mp4"),
            expected_duration=1, timeout_s=30, memory_limit_mb=1024,
        )  # fmt: skip
    assert caught.value.code == "ffmpeg_failed" and not caught.value.transient
    assert "secret" not in caught.value.detail


def test_runner_timeout_kills_ffmpeg(tmp_path):
    command = [ffmpeg_path(), "-v", "error", "-re", "-f", "lavfi", "-i", "testsrc", "-progress", "pipe:1",
               "-f", "null", "-"]  # fmt: skip
    with pytest.raises(FfmpegError) as caught:
        run_ffmpeg(command, expected_duration=60, timeout_s=1, memory_limit_mb=1024)
    assert caught.value.code == "ffmpeg_timeout"


def ffmpeg_path() -> str:
    from video_manager import binaries

    return binaries.ffmpeg_path()


def test_job_functions_run_without_redis(config, database, tmp_path):
    """`_run_task` drives a real trim through the database and disk; nothing here touches Redis."""
    clip = make_video(tmp_path / "clip.mp4", seconds=2)
    ctx = JobContext.from_config(config)
    requeued = []
    with db.connection_context():
        owner = User.create(username="jobs-unit", password_hash="x")
        staged = tmp_path / "staged.mp4"
        staged.write_bytes(clip.read_bytes())
        import uuid

        video = ctx.ingestor.ingest(
            staged, video_id=uuid.uuid4(), owner_id=owner.id, name="clip.mp4", source="upload"
        )
        ok = Task.create(
            owner=owner,
            kind="trim",
            params=json.dumps({"video_id": str(video.id), "start": 0.5, "end": 1.5, "mode": "fast"}),
        )
        bad = Task.create(
            owner=owner,
            kind="trim",
            params=json.dumps({"video_id": str(uuid.uuid4()), "start": 0, "end": 1, "mode": "fast"}),
        )
        new_id = _run_task(ctx, str(ok.id), requeue=lambda *args: requeued.append(args))
        assert Task.get_by_id(ok.id).status == "finished" and new_id
        # What the copy was recorded as, without probing it, is what a probe finds in it.
        result, probed = Video.get_by_id(new_id), ctx.ingestor.prober.probe(ctx.blobs.local_file(new_id))
        assert result.duration == pytest.approx(probed.duration, abs=0.001)
        assert (result.video_codec, result.audio_codec, result.width, result.height, result.pix_fmt) == (
            probed.video_codec,
            probed.audio_codec,
            probed.width,
            probed.height,
            probed.pix_fmt,
        )
        assert _run_task(ctx, str(ok.id), requeue=lambda *args: requeued.append(args)) is None  # not queued
        _run_task(ctx, str(bad.id), requeue=lambda *args: requeued.append(args))
        failed = Task.get_by_id(bad.id)
        assert failed.status == "failed" and failed.error_code == "invalid_input"
        assert requeued == []  # bad input is never retried


def test_inputs_read_only_our_bytes_through_an_accepted_demuxer():
    local = ffmpeg.trim_fast("ffmpeg", source(), 1, 2, Path("o.mp4"))
    assert local[local.index("-protocol_whitelist") + 1] == "file"
    assert local[local.index("-f") + 1] == "mov" and "-request_size" not in local
    presigned = source("https://bucket/videos/x?X-Amz-Signature=s", remote=True)
    remote = ffmpeg.trim_fast("ffmpeg", presigned, 1, 2, Path("o.mp4"))
    assert remote[remote.index("-protocol_whitelist") + 1] == "file,http,https,tcp,tls"
    assert remote[remote.index("-f") + 1] == "mov"
    assert remote[remote.index("-request_size") + 1] == "1048576"  # ranges, never the whole object
    merged = ffmpeg.merge_copy("ffmpeg", Path("list.txt"), Path("o.mp4"), containers.MP4, remote=True)
    assert merged[merged.index("-format_whitelist") + 1].startswith("concat,mov,")
    assert "-request_size" not in merged  # the list file itself is local


def test_a_faststart_copy_goes_into_a_container_that_holds_the_streams():
    """A camera's ProRes MOV with its index at the end is copied into MOV, not MP4, which cannot
    hold ProRes (the copy failed, and the video played only once fully fetched)."""
    prores = streaming.faststart("ffmpeg", source(video_codec="prores", audio_codec="pcm_s16le"), Path("o"))
    assert prores[-3:-1] == ["-f", "mov"] and "+faststart" in prores
    assert streaming.faststart("ffmpeg", source(), Path("o"))[-3:-1] == ["-f", "mp4"]
