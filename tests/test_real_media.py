"""Files shaped like the ones phones, cameras, editors and screen recorders write: extra tracks
(subtitles, chapters, a timecode), ProRes in MOV, AV1 and VP9 in WebM, HDR HEVC turned by its
display matrix, two audio tracks, clocks that start late. Each is generated here with the shipped
ffmpeg, uploaded, cut, and the cut checked frame by frame and field by field against its source."""

from __future__ import annotations

import subprocess
from pathlib import Path

import av
import pytest
import requests

from tests.api import merge, stored, trim, upload, wait_task
from tests.cut_check import check_cut
from tests.media import make_video, turned_90
from tests.servers import auth
from video_manager import binaries

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

SUBTITLES = "1\n00:00:00,200 --> 00:00:01,200\nhello\n\n2\n00:00:01,500 --> 00:00:01,900\nagain\n"
CHAPTERS = (
    ";FFMETADATA1\n[CHAPTER]\nTIMEBASE=1/1000\nSTART=0\nEND=1000\ntitle=one\n"
    "[CHAPTER]\nTIMEBASE=1/1000\nSTART=1000\nEND=2000\ntitle=two\n"
)
PICTURE = ["-f", "lavfi", "-i", "testsrc=size=320x240:rate=25"]
RECORDED_AT = "2026-05-01T10:00:00.000000Z"
TONE = ["-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000"]
LOW_TONE = ["-f", "lavfi", "-i", "sine=frequency=220:sample_rate=48000"]


def generate(path: Path, *args: str) -> Path:
    subprocess.run([binaries.ffmpeg_path(), "-v", "error", "-y", *args, "-t", "2", str(path)], check=True)
    return path


@pytest.fixture(scope="module")
def corpus(media_dir) -> dict[str, Path]:
    (media_dir / "subs.srt").write_text(SUBTITLES)
    (media_dir / "chapters.txt").write_text(CHAPTERS)
    return {
        "mp4 with subtitles and chapters": generate(
            media_dir / "subtitled.mp4", *PICTURE, *TONE, "-i", str(media_dir / "subs.srt"),
            "-i", str(media_dir / "chapters.txt"), "-map", "0", "-map", "1", "-map", "2",
            "-map_chapters", "3", "-c:v", "libx264", "-preset", "ultrafast", "-g", "25", "-c:a", "aac",
            "-c:s", "mov_text",
        ),
        "prores mov with timecode": generate(
            media_dir / "camera.mov", *PICTURE, *TONE, "-c:v", "prores_ks", "-profile:v", "2",
            "-c:a", "pcm_s16le", "-timecode", "01:00:00:00", "-metadata", f"creation_time={RECORDED_AT}",
        ),
        "av1 webm": generate(
            media_dir / "av1.webm", *PICTURE, *TONE, "-c:v", "libsvtav1", "-preset", "12", "-g", "25",
            "-c:a", "libopus", "-svtav1-params", "verbosity=0",
        ),
        "obs mkv with two audio tracks": generate(
            media_dir / "obs.mkv", "-f", "lavfi", "-i", "testsrc=size=320x240:rate=60", *TONE, *LOW_TONE,
            "-map", "0", "-map", "1", "-map", "2", "-c:v", "libx264", "-preset", "ultrafast", "-g", "60",
            "-c:a", "aac", "-metadata:s:a:0", "language=eng", "-metadata:s:a:1", "language=deu",
        ),
    }  # fmt: skip


EXPECTED = {  # kind: (video_codec, audio_codec, the result's suffix, its audio tracks)
    "mp4 with subtitles and chapters": ("h264", "aac", ".mp4", 1),
    "prores mov with timecode": ("prores", "pcm_s16le", ".mov", 1),
    "av1 webm": ("av1", "opus", ".mp4", 1),
    "obs mkv with two audio tracks": ("h264", "aac", ".mp4", 2),
}


def decode_errors(path: Path) -> str:
    done = subprocess.run([binaries.ffmpeg_path(), "-v", "error", "-i", str(path), "-f", "null", "-"],
                          capture_output=True, text=True, check=False)  # fmt: skip
    return done.stderr.strip() if done.returncode == 0 else f"exit {done.returncode}: {done.stderr}"


@pytest.mark.parametrize("kind", list(EXPECTED))
def test_every_kind_uploads_with_its_codec_and_fast_trims_into_a_container_that_holds_it(
    live_server, live_worker, make_user, corpus, kind, tmp_path
):
    video_codec, audio_codec, suffix, audio_tracks = EXPECTED[kind]
    token = make_user()[2]
    video = upload(live_server, token, corpus[kind])
    assert (video["status"], video["video_codec"], video["audio_codec"]) == (
        "ready",
        video_codec,
        audio_codec,
    )
    done = wait_task(
        token, trim(live_server, token, video["id"], start_time=0, end_time=1.5, mode="fast").json()
    )
    assert done["status"] == "finished", done
    result = requests.get(f"{live_server.url}/api/videos/{done['result']['video_id']}/", headers=auth(token))
    assert result.json()["name"].endswith(suffix) and result.json()["video_codec"] == video_codec
    got = tmp_path / f"result{suffix}"
    got.write_bytes(requests.get(result.json()["download_url"], headers=auth(token), timeout=60).content)
    assert decode_errors(got) == ""
    with av.open(str(got)) as container:
        assert len(container.streams.audio) == audio_tracks
        languages = [stream.metadata.get("language") for stream in container.streams.audio]
    if audio_tracks == 2:
        assert languages == ["eng", "deu"]  # in order, with their tags


def subtitles_and_chapters(path: Path) -> tuple[list[tuple], list[tuple]]:
    """The cues (start, end, text) of a file's subtitle tracks and its chapters (start, end, title)."""
    with av.open(str(path)) as container:
        cues = [
            (float(packet.pts * packet.time_base), float((packet.pts + packet.duration) * packet.time_base),
             "".join(subtitle.dialogue.decode() for subtitle in packet.decode()))
            for packet in container.demux(subtitles=0) if packet.size
        ]  # fmt: skip
        chapters = [
            (float(c["start"] * c["time_base"]), float(c["end"] * c["time_base"]), c["metadata"]["title"])
            for c in container.chapters()
        ]
    return [cue for cue in cues if cue[2]], chapters  # mov_text fills the gaps with empty samples


TEXT_CASES = {  # the source: cues at 0.2-1.2 s and 1.5-1.9 s, chapters 0-1 s and 1-2 s, 25 fps
    # a stream copy starts on the keyframe at 1.0 s and runs to 1.9 s
    "fast": (1.2, 1.9, [(0.0, 0.2, "hello"), (0.5, 0.9, "again")], [(0.0, 0.9, "two")]),
    # frame-exact: from the frame at 0.52 s to the end of the one at 1.68 s
    "precise": (
        0.5,
        1.7,
        [(0.0, 0.68, "hello"), (0.98, 1.2, "again")],
        [(0.0, 0.48, "one"), (0.48, 1.2, "two")],
    ),
}


@pytest.mark.parametrize("mode", list(TEXT_CASES))
def test_a_trim_keeps_the_subtitle_cues_and_chapters_of_its_window_moved_to_its_start(
    live_server, live_worker, make_user, corpus, data_dir, mode
):
    start, end, cues, chapters = TEXT_CASES[mode]
    token = make_user()[2]
    video = upload(live_server, token, corpus["mp4 with subtitles and chapters"])
    done = wait_task(
        token, trim(live_server, token, video["id"], start_time=start, end_time=end, mode=mode).json()
    )
    assert done["status"] == "finished", done
    got = stored(data_dir, done["result"]["video_id"])
    assert decode_errors(got) == ""
    kept_cues, kept_chapters = subtitles_and_chapters(got)
    assert [text for *_times, text in kept_cues] == [text for *_times, text in cues]
    assert [title for *_times, title in kept_chapters] == [title for *_times, title in chapters]
    for kept, wanted in zip(kept_cues + kept_chapters, cues + chapters, strict=True):
        assert kept[:2] == pytest.approx(wanted[:2], abs=0.011), (kept, wanted)


def test_a_merge_keeps_each_inputs_subtitle_cues_and_chapters_at_its_place(
    live_server, live_worker, make_user, corpus, data_dir
):
    token = make_user()[2]
    video = upload(live_server, token, corpus["mp4 with subtitles and chapters"])
    done = wait_task(token, merge(live_server, token, [video["id"], video["id"]]).json())
    assert done["status"] == "finished", done
    got = stored(data_dir, done["result"]["video_id"])
    assert decode_errors(got) == ""
    cues, chapters = subtitles_and_chapters(got)
    offset = video["duration"]  # where the second copy starts
    assert [text for *_times, text in cues] == ["hello", "again"] * 2
    assert [title for *_times, title in chapters] == ["one", "two"] * 2
    wanted = [(0.2, 1.2), (1.5, 1.9), (0.2 + offset, 1.2 + offset), (1.5 + offset, 1.9 + offset)]
    wanted += [(0, 1), (1, 2), (offset, 1 + offset), (1 + offset, 2 + offset)]
    for kept, times in zip(cues + chapters, wanted, strict=True):
        assert kept[:2] == pytest.approx(times, abs=0.011), (kept, times)


def timecodes_and_creation_time(path: Path) -> tuple[set[str], str | None]:
    with av.open(str(path)) as container:
        found = {stream.metadata["timecode"] for stream in container.streams if "timecode" in stream.metadata}
        return found, container.metadata.get("creation_time")


@pytest.mark.parametrize(
    ("mode", "start", "timecode"),
    [
        ("fast", 1.2, "01:00:01:05"),  # every ProRes frame is a keyframe: it starts at 1.2 s, frame 30
        ("precise", 0.5, "01:00:00:13"),  # the first frame at or after 0.5 s, at 0.52 s: frame 13
    ],
)
def test_a_trim_of_a_camera_file_moves_its_timecode_to_its_first_frame_and_keeps_its_creation_time(
    live_server, live_worker, make_user, corpus, data_dir, mode, start, timecode
):
    source = corpus["prores mov with timecode"]
    assert timecodes_and_creation_time(source) == ({"01:00:00:00"}, RECORDED_AT)
    token = make_user()[2]
    video = upload(live_server, token, source)
    done = wait_task(
        token, trim(live_server, token, video["id"], start_time=start, end_time=1.7, mode=mode).json()
    )
    assert done["status"] == "finished", done
    got = stored(data_dir, done["result"]["video_id"])
    assert decode_errors(got) == ""
    assert timecodes_and_creation_time(got) == ({timecode}, RECORDED_AT)
    with av.open(str(got)) as container:
        assert [stream.type for stream in container.streams] == ["video", "audio", "data"]  # one tmcd track


OFFSET_SOURCES = {  # MPEG-TS clocks start near 1.4 s: a trim's times count from the file's start
    "broadcast 720p50 ts": ("broadcast.ts", {"size": "1280x720", "rate": 50, "gop": 50}, "smart"),
    "avchd 1080i mts with ac-3": (
        "camcorder.mts",
        {"size": "1920x1080", "rate": 25, "gop": 12, "audio_codec": "ac3",
         "encoder_args": ("-preset", "ultrafast", "-flags", "+ilme+ildct", "-x264-params", "tff=1")},
        "reencode",  # interlaced
    ),
    "matroska starting at 5 s": ("offset.mkv", {"gop": 25, "start_offset": 5}, "smart"),
    "flv starting at 5 s": ("offset.flv", {"gop": 25, "start_offset": 5}, "reencode"),
    "broadcast hevc 50 fps ts": (
        "broadcast-hevc.ts", {"size": "640x360", "rate": 50, "gop": 50, "video_codec": "libx265"}, "smart"
    ),
    "hevc matroska starting at 5 s": (
        "offset-hevc.mkv", {"gop": 25, "start_offset": 5, "video_codec": "libx265"}, "smart"
    ),
}  # fmt: skip


@pytest.mark.parametrize("kind", list(OFFSET_SOURCES))
def test_a_precise_trim_of_a_source_with_a_start_offset_holds_exactly_the_window(
    live_server, live_worker, make_user, media_dir, data_dir, kind
):
    name, spec, method = OFFSET_SOURCES[kind]
    source = make_video(media_dir / name, seconds=10, pattern="testsrc2", beep=True, **spec)
    with av.open(str(source)) as container:
        assert container.start_time > av.time_base  # the offset under test is there
    token = make_user()[2]
    video = upload(live_server, token, source)
    assert video["status"] == "ready", video
    assert abs(video["duration"] - 10) < 0.1, video  # from the first timestamp, not from zero
    done = wait_task(token, trim(live_server, token, video["id"], start_time=1.5, end_time=8.84).json(), 120)
    assert done["status"] == "finished" and done["result"]["method"] == method, done
    report = check_cut(source, stored(data_dir, done["result"]["video_id"]), 1.5, 8.84)
    assert report.frames == report.expected > 0, report
    assert (len(report.exact) > report.frames / 2) == (method == "smart"), report  # copied frames
    assert report.wrong == [] and report.timestamp_errors == 0 and report.decode_errors == 0, report
    assert abs(report.av_offset_ms) <= 1.0, report


INTRA_SOURCES = {  # every frame a keyframe: a frame-exact trim copies them, bit for bit
    "prores 422 hq 10-bit mov with pcm": (
        "camera-intra.mov",
        {"video_codec": "prores_ks", "pix_fmt": "yuv422p10le", "rate": "30000/1001"},
    ),
    "motion jpeg avi with pcm": ("webcam.avi", {"video_codec": "mjpeg", "pix_fmt": "yuvj420p", "rate": 25}),
}


def packets(path: Path) -> list[bytes]:
    with av.open(str(path)) as container:
        return [bytes(packet) for packet in container.demux(video=0) if packet.size]


@pytest.mark.parametrize("kind", list(INTRA_SOURCES))
def test_a_precise_trim_of_an_all_intra_source_copies_exactly_the_windows_frames(
    live_server, live_worker, make_user, media_dir, data_dir, kind
):
    name, spec = INTRA_SOURCES[kind]
    source = make_video(
        media_dir / name,
        seconds=5,
        size="320x240",
        pattern="testsrc2",
        beep=True,
        audio_codec="pcm_s16le",
        **spec,
    )
    token = make_user()[2]
    video = upload(live_server, token, source)
    assert video["status"] == "ready", video
    done = wait_task(token, trim(live_server, token, video["id"], start_time=1.02, end_time=3.5).json(), 120)
    assert done["status"] == "finished", done
    assert done["result"]["method"] == "copy", done  # no encoder ran
    got = stored(data_dir, done["result"]["video_id"])
    report = check_cut(source, got, 1.02, 3.5)
    assert report.frames == report.expected > 0, report
    assert report.exact == list(range(report.frames)), report  # every frame the source's own
    assert report.wrong == [] and report.timestamp_errors == 0 and report.decode_errors == 0, report
    assert abs(report.av_offset_ms) <= 1.0, report
    kept = packets(got)
    assert set(kept) <= set(packets(source)) and len(kept) == report.frames  # bit for bit
    with av.open(str(got)) as container:
        assert container.streams.video[0].codec_context.name == spec["video_codec"].removesuffix("_ks")
        assert container.streams.audio[0].codec_context.name == "pcm_s16le"  # lossless audio stays so


def iphone_like_hevc(path: Path) -> Path:
    """HEVC Main10 HLG with mastering metadata and AAC, turned 90° by its display matrix, in MOV."""
    plain = path.with_name("hlg-plain.mov")
    subprocess.run([
        binaries.ffmpeg_path(), "-v", "error", "-y", "-f", "lavfi", "-i", "testsrc2=size=640x360:rate=30",
        "-f", "lavfi", "-i", "sine=frequency=1000:sample_rate=48000:beep_factor=4", "-t", "4",
        "-vf", "setparams=color_primaries=bt2020:color_trc=arib-std-b67:colorspace=bt2020nc:range=tv",
        "-c:v", "libx265", "-preset", "ultrafast", "-pix_fmt", "yuv420p10le", "-g", "30", "-tag:v", "hvc1",
        "-x265-params", "log-level=error:master-display=G(13250,34500)B(7500,3000)R(34000,16000)"
        "WP(15635,16450)L(10000000,1):max-cll=1000,400", "-c:a", "aac", str(plain),
    ], check=True)  # fmt: skip
    return turned_90(plain, path)


def obs_like_matroska(path: Path) -> Path:
    """H.264 at 60 fps with two AAC tracks, tagged English and German, in Matroska."""
    subprocess.run([
        binaries.ffmpeg_path(), "-v", "error", "-y", "-f", "lavfi", "-i", "testsrc2=size=320x240:rate=60",
        "-f", "lavfi", "-i", "sine=frequency=1000:sample_rate=48000:beep_factor=4", *LOW_TONE, "-t", "4",
        "-map", "0", "-map", "1", "-map", "2", "-c:v", "libx264", "-preset", "ultrafast", "-g", "240",
        "-c:a", "aac", "-metadata:s:a:0", "language=eng", "-metadata:s:a:1", "language=deu", str(path),
    ], check=True)  # fmt: skip
    return path


def android_like_vfr(path: Path) -> Path:
    """Variable-frame-rate H.264 (60 fps with frames dropped and jittered, B-frames) with AAC,
    turned 90°, in MP4 with a 90 kHz clock."""
    plain = path.with_name("vfr-plain.mp4")
    subprocess.run([
        binaries.ffmpeg_path(), "-v", "error", "-y", "-f", "lavfi", "-i", "testsrc2=size=640x360:rate=60",
        "-f", "lavfi", "-i", "sine=frequency=1000:sample_rate=48000:beep_factor=4", "-t", "4",
        "-vf", "select='not(eq(mod(n\\,5)\\,1))*not(eq(mod(n\\,7)\\,3))',setpts='PTS+0.004*sin(N)/TB'",
        "-fps_mode", "vfr", "-c:v", "libx264", "-preset", "superfast", "-bf", "3", "-g", "30",
        "-video_track_timescale", "90000", "-c:a", "aac", str(plain),
    ], check=True)  # fmt: skip
    return turned_90(plain, path)


PRECISE_SOURCES = {  # cut frame-exact (re-encoded, or smart-cut where it can), keeping what they hold
    "iphone-like hevc main10 hlg rotated mov": lambda media_dir: iphone_like_hevc(media_dir / "iphone.mov"),
    "vp9 10-bit webm with opus": lambda media_dir: make_video(
        media_dir / "vp9.webm", seconds=4, pattern="testsrc2", beep=True, video_codec="libvpx-vp9",
        pix_fmt="yuv420p10le", audio_codec="libopus",
    ),
    "av1 webm with opus": lambda media_dir: make_video(
        media_dir / "av1-beeps.webm", seconds=4, pattern="testsrc2", beep=True, video_codec="libsvtav1",
        audio_codec="libopus",
    ),
    "obs-like mkv with two audio tracks": lambda media_dir: obs_like_matroska(media_dir / "obs-two.mkv"),
    "android-like vfr h.264 rotated mp4": lambda media_dir: android_like_vfr(media_dir / "android.mp4"),
    "screen recording with one keyframe": lambda media_dir: make_video(  # x264's GOP of 250 frames
        media_dir / "screen.mp4", seconds=4, size="640x360", pattern="testsrc2", beep=True, gop=250,
        encoder_args=("-preset", "superfast", "-tune", "stillimage"),
    ),
}  # fmt: skip


def what_a_cut_keeps(path: Path) -> dict:
    with av.open(str(path)) as container:
        video = container.streams.video[0]
        context = video.codec_context
        first = next(container.decode(video))
        return {
            "codec": context.name,
            "pixel format": context.pix_fmt,
            # an unspecified range is the limited one (as every player reads it; x264 writes it so)
            "colour": (context.color_primaries, context.color_trc, context.colorspace,
                       context.color_range or av.video.reformatter.ColorRange.MPEG),
            "hdr metadata": sorted(str(data.type) for data in first.side_data.keys()  # noqa: SIM118
                                   if "MASTERING" in str(data.type) or "LIGHT" in str(data.type)),
            "rotation": first.rotation,
            "audio tracks": [stream.metadata.get("language", "und") for stream in container.streams.audio],
        }  # fmt: skip


@pytest.mark.parametrize("kind", list(PRECISE_SOURCES))
def test_a_precise_trim_keeps_the_codec_depth_colour_orientation_timing_and_every_audio_track(
    live_server, live_worker, make_user, media_dir, data_dir, kind
):
    source = PRECISE_SOURCES[kind](media_dir)
    token = make_user()[2]
    video = upload(live_server, token, source)
    assert video["status"] == "ready", video
    done = wait_task(token, trim(live_server, token, video["id"], start_time=1.02, end_time=2.5).json(), 180)
    assert done["status"] == "finished", done
    got = stored(data_dir, done["result"]["video_id"])
    assert what_a_cut_keeps(got) == what_a_cut_keeps(source)
    report = check_cut(source, got, 1.02, 2.5)
    assert report.frames == report.expected > 0, report
    assert report.wrong == [] and report.timestamp_errors == 0 and report.decode_errors == 0, report
    assert abs(report.av_offset_ms) <= 1.0, report
    fast = wait_task(token, trim(live_server, token, video["id"], start_time=1.02, end_time=2.5,
                                 mode="fast").json(), 180)  # fmt: skip
    assert fast["status"] == "finished", fast
    copied = stored(data_dir, fast["result"]["video_id"])
    assert decode_errors(copied) == "" and what_a_cut_keeps(copied) == what_a_cut_keeps(source)


def test_an_iphone_like_hdr_video_is_smart_cut_keeping_what_it_holds(
    live_server, live_worker, make_user, media_dir, data_dir
):
    """HEVC Main10 HLG in open GOPs (x265's CRA keyframes, each second here), turned 90°: the
    pieces are x265 at its depth and colour under parameter-set ids of their own, the GOPs
    between copied, and the result holds what the source does (hvc1, HDR side data, rotation)."""
    source = iphone_like_hevc(media_dir / "iphone-smart.mov")
    token = make_user()[2]
    video = upload(live_server, token, source)
    done = wait_task(token, trim(live_server, token, video["id"], start_time=0.52, end_time=3.5).json(), 180)
    assert done["status"] == "finished" and done["result"]["method"] == "smart", done
    got = stored(data_dir, done["result"]["video_id"])
    assert what_a_cut_keeps(got) == what_a_cut_keeps(source)
    report = check_cut(source, got, 0.52, 3.5)
    assert report.frames == report.expected > 0, report
    assert len(report.exact) >= 30, report  # the GOPs between the keyframes at 1 s and 3 s, copied
    assert report.wrong == [] and report.timestamp_errors == 0 and report.decode_errors == 0, report
    assert abs(report.av_offset_ms) <= 1.0, report
    with av.open(str(got)) as container:
        assert container.streams.video[0].codec_tag == "hvc1"


def test_a_merge_of_different_kinds_is_encoded_as_its_first_input(
    live_server, live_worker, make_user, media_dir, data_dir, sample_video
):
    token = make_user()[2]
    hdr = upload(live_server, token, iphone_like_hevc(media_dir / "iphone-first.mov"))
    other = upload(live_server, token, sample_video)
    done = wait_task(token, merge(live_server, token, [hdr["id"], other["id"]]).json(), 180)
    assert done["status"] == "finished" and done["result"]["method"] == "reencode", done
    got = stored(data_dir, done["result"]["video_id"])
    assert decode_errors(got) == ""
    kept = what_a_cut_keeps(got)
    assert (kept["codec"], kept["pixel format"]) == ("hevc", "yuv420p10le")


def shown_frames(path: Path) -> int:
    with av.open(str(path)) as container:
        return sum(1 for _ in container.decode(video=0))


def test_a_copy_cut_mp4_whose_edit_list_hides_frames_merges_and_trims_with_only_the_shown_frames(
    live_server, live_worker, make_user, media_dir, data_dir
):
    """`ffmpeg -ss 1.3 -i x.mp4 -c copy` keeps the GOP from 1.0 s and hides 1.0 to 1.28 s behind
    an edit list; the concat demuxer ignores edit lists, so a copy merge would show them."""
    whole = make_video(media_dir / "before-copy-cut.mp4", seconds=6, rate=25, gop=25, pattern="testsrc2",
                       beep=True)  # fmt: skip
    copy_cut = media_dir / "copy-cut.mp4"
    subprocess.run([binaries.ffmpeg_path(), "-v", "error", "-y", "-ss", "1.3", "-i", str(whole), "-c", "copy",
                    str(copy_cut)], check=True)  # fmt: skip
    with av.open(str(copy_cut)) as container:
        assert sum(packet.is_discard for packet in container.demux(video=0)) > 0  # hidden, as in the issue
    token = make_user()[2]
    ids = [upload(live_server, token, path)["id"] for path in (copy_cut, whole)]
    done = wait_task(token, merge(live_server, token, ids).json(), 180)
    assert done["status"] == "finished", done
    merged = stored(data_dir, done["result"]["video_id"])
    assert shown_frames(merged) == shown_frames(copy_cut) + shown_frames(whole)
    assert decode_errors(merged) == ""
    trimmed = wait_task(token, trim(live_server, token, ids[0], start_time=0.5, end_time=3.2).json(), 180)
    assert trimmed["status"] == "finished", trimmed
    report = check_cut(copy_cut, stored(data_dir, trimmed["result"]["video_id"]), 0.5, 3.2)
    assert report.frames == report.expected > 0 and report.wrong == [] and report.timestamp_errors == 0, (
        report
    )
    assert report.decode_errors == 0 and abs(report.av_offset_ms) <= 1.0, report
