"""The ladder's plan and playlists as pure functions: which rungs, where segments and chunks start,
what the master playlist says. The end-to-end evidence is tests/test_ladder_e2e.py."""

from __future__ import annotations

from pathlib import Path

import pytest

from processor import hls, ladder, streaming
from processor.hardware import h264_encoder
from processor.ladder import Frames, SourceTraits


def frames(count: int, rate: float = 30.0, keyframe_every: int = 30, rotation: int = 0) -> Frames:
    return Frames(
        times=[i / rate for i in range(count)],
        keyframes=list(range(0, count, keyframe_every)),
        end=count / rate,
        rotation=rotation,
    )


def traits(width=1920, height=1080, codec="h264", pix_fmt="yuv420p", hdr=False, kbps=8000) -> SourceTraits:
    return SourceTraits(width, height, codec, pix_fmt, hdr, kbps)


def sizes(plan: ladder.Plan) -> list[tuple[int, int, bool]]:
    return [(r.width, r.height, r.copy) for r in plan.rungs]


def test_a_browser_playable_1080p_source_is_its_own_top_rung_over_smaller_encoded_ones():
    plan = ladder.plan_ladder(traits(), frames(300), [1080, 720, 480, 360], chunk_s=30)
    assert sizes(plan) == [(1920, 1080, True), (1280, 720, False), (854, 480, False), (640, 360, False)]
    assert [r.max_kbps for r in plan.rungs[1:]] == [3266, 1779, 1155]


def test_rungs_never_upscale_and_keep_a_phones_portrait():
    turned = ladder.plan_ladder(traits(1280, 720), frames(300, rotation=90), [1080, 720, 480], chunk_s=30)
    assert sizes(turned) == [(720, 1280, False), (480, 854, False)]  # turned: not copied, its size on top
    small = ladder.plan_ladder(traits(320, 240), frames(90), [1080, 720, 360], chunk_s=30)
    assert sizes(small) == [(320, 240, True)]
    hdr = ladder.plan_ladder(
        traits(3840, 2160, "hevc", "yuv420p10le", True), frames(90), [1080, 720], chunk_s=30
    )
    assert sizes(hdr) == [(1920, 1080, False), (1280, 720, False)]  # 4K HDR: nothing above the ladder


def test_no_rung_asks_for_more_than_the_source_has():
    plan = ladder.plan_ladder(traits(kbps=900), frames(300), [720, 360], chunk_s=30)
    assert [r.max_kbps for r in plan.rungs[1:]] == [900, 900]


def test_segments_start_at_the_first_keyframe_past_each_multiple_of_the_segment_length():
    """The rule ffmpeg's HLS muxer cuts a copied rung by, so the encoded rungs can match it."""
    keyframes = [0, 50, 130, 200, 250, 370]
    irregular = Frames(times=[i / 30 for i in range(400)], keyframes=keyframes, end=400 / 30, rotation=0)
    assert ladder.segment_boundaries(irregular, irregular.keyframes, 4.0) == [0, 130, 250, 370]
    assert ladder.segment_boundaries(irregular, None, 4.0) == [0, 120, 240, 360]


def test_a_copied_rung_with_keyframes_too_far_apart_is_left_out():
    sparse = frames(900, keyframe_every=600)  # a screen recorder's 20 s GOP
    plan = ladder.plan_ladder(traits(), sparse, [1080, 720], chunk_s=30)
    assert sizes(plan) == [(1920, 1080, False), (1280, 720, False)]
    assert plan.boundaries == [0, 120, 240, 360, 480, 600, 720, 840]


def test_chunks_are_whole_segments_covering_every_frame_once():
    plan = ladder.plan_ladder(traits(), frames(1000, keyframe_every=60), [720], segment_s=2, chunk_s=7)
    covered = [i for chunk in plan.chunks for i in range(chunk.first, chunk.first + chunk.count)]
    assert covered == list(range(1000))
    assert [c.first for c in plan.chunks] == [0, 240, 480, 720, 960]
    first = plan.chunks[0]
    assert first.keyframes_at == pytest.approx([0.0, 2.0, 4.0, 6.0]) and first.span == pytest.approx(8.0)
    assert first.last_at == pytest.approx(239 / 30)
    assert ladder.segment_durations(plan, 1000 / 30)[-1] == pytest.approx(40 / 30)


def test_a_chunk_encode_takes_exactly_its_frames_with_keyframes_only_where_its_segments_start():
    plan = ladder.plan_ladder(traits(), frames(300), [720, 360], segment_s=2, chunk_s=4)
    chunk = plan.chunks[1]
    command = streaming.encoded_chunk(
        "ffmpeg", source_stub(), chunk, plan.rungs[1:], [Path("a.mp4"), Path("b.mp4")], origin=0.5,
        frame_s=1 / 30, hdr=False, encoder="libx264", threads=1,
    )  # fmt: skip
    assert command[command.index("-ss") + 1] == "4.500000"
    graph = command[command.index("-filter_complex") + 1]
    assert graph == "[0:v:0]split=2[s0][s1];[s0]scale=1280:720[v0];[s1]scale=640:360[v1]"
    assert command.count("-frames:v") == 2 and command[command.index("-frames:v") + 1] == "120"
    assert command[command.index("-force_key_frames") + 1] == "0.000000,1.991667"
    assert command[command.index("-threads") + 1] == "1" and "-sc_threshold" in command
    assert command[-1] == "b.mp4" and command.index("[v1]") > command.index("a.mp4")


def test_the_lowest_rung_is_encoded_alone_and_the_others_from_one_decode():
    rungs = [ladder.Rung(w, h, False, 1000) for w, h in ((640, 360), (854, 480), (1280, 720))]
    from processor.ladder_jobs import encode_groups

    assert encode_groups(rungs) == [rungs[:1], rungs[1:]]
    assert encode_groups(rungs[:1]) == [rungs[:1]]


def source_stub():
    from processor.ffmpeg import Source
    from processor.probe import MediaInfo

    media = MediaInfo(duration=10, width=1920, height=1080, video_codec="h264", audio_codec="aac",
                      pix_fmt="yuv420p", frame_rate="30/1", sample_rate=48000, audio_channels=2,
                      format_name="mov,mp4,m4a,3gp,3g2,mj2", content_type="video/mp4")  # fmt: skip
    return Source(path="in.mp4", media=media)


def test_the_master_playlist_lists_rungs_lowest_first_with_the_audio_counted_in():
    variants = [
        hls.Variant(
            "hls-720.m3u8", "hls-720-iframes.m3u8", 1280, 720, 29.97, "avc1.64001f", 3_000_000, 2_000_000
        ),
        hls.Variant("hls-360.m3u8", "hls-360-iframes.m3u8", 640, 360, 29.97, "avc1.64001e", 900_000, 600_000),
    ]
    text = hls.master_playlist(variants, hls.AudioRendition("hls-audio.m3u8", 140_000, 130_000))
    lines = text.splitlines()
    inf = [line for line in lines if line.startswith("#EXT-X-STREAM-INF:")]
    assert inf[0] == (
        "#EXT-X-STREAM-INF:BANDWIDTH=1040000,AVERAGE-BANDWIDTH=730000,RESOLUTION=640x360,"
        'CODECS="avc1.64001e,mp4a.40.2",FRAME-RATE=29.970,AUDIO="audio"'
    )
    assert lines[lines.index(inf[0]) + 1] == "hls-360.m3u8"
    assert '#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="audio"' in text and 'URI="hls-audio.m3u8"' in text
    assert text.count("#EXT-X-I-FRAME-STREAM-INF:") == 2
    silent = hls.master_playlist(variants[:1], None)
    assert "AUDIO=" not in silent and 'CODECS="avc1.64001f"' in silent


def test_a_media_playlist_parses_as_ffmpeg_writes_it():
    text = '#EXTM3U\n#EXT-X-MAP:URI="hls-360-init.mp4"\n#EXTINF:4.004000,\nhls-360-00000.m4s\n'
    text += "#EXTINF:1.5,\nb.m4s\n"
    parsed = hls.MediaPlaylist.parse(text)
    assert parsed.init == "hls-360-init.mp4" and [s.uri for s in parsed.segments] == [
        "hls-360-00000.m4s",
        "b.m4s",
    ]
    assert parsed.duration == pytest.approx(5.504)


def test_the_concat_list_gives_each_chunk_its_planned_span():
    listed = streaming.concat_list([(Path("/m/a.mp4"), 2.0), (Path("/m/b.mp4"), 1.5)])
    assert listed == "file '/m/a.mp4'\nduration 2.000000\nfile '/m/b.mp4'\nduration 1.500000\n"


def test_the_encoder_setting_names_one_or_auto_finds_x264_without_a_gpu(monkeypatch):
    assert h264_encoder("h264_nvenc", "ffmpeg") == "h264_nvenc"
    monkeypatch.setenv("PATH", "/nonexistent")  # no nvidia-smi
    h264_encoder.cache_clear()
    assert h264_encoder("auto", "ffmpeg") == "libx264"
    nvenc = streaming.encoder_options("h264_nvenc", ladder.Rung(1280, 720, False, 3000), threads=1)
    assert nvenc[:2] == ["-c:v", "h264_nvenc"] and "-forced-idr" in nvenc and "-threads" not in nvenc


def test_a_ladder_whose_jobs_redis_lost_is_forgotten_and_planned_again_when_asked(
    config, database, make_user, redis_server, tmp_path
):
    """Rows left `queued` with no job behind them (Redis flushed) would answer 503 for ever."""
    from datetime import timedelta

    from processor.ladder_jobs import LOST_AFTER_S, forget_lost_ladders, rendition_job_id
    from processor.queue import ladder_queue
    from storage.backends.local_media import LocalMediaStore
    from storage.database import db
    from storage.models import Rendition, User, Video, utcnow
    from video_manager.redis_client import connect

    connection = connect(config)
    media = LocalMediaStore(tmp_path / "media")
    username = make_user()[0]
    old = utcnow() - timedelta(seconds=LOST_AFTER_S + 60)
    with db.connection_context():
        owner = User.get(User.username == username)
        lost, waiting, young = (
            Video.create(owner=owner, name=f"{n}.mp4") for n in ("lost", "waiting", "young")
        )
        for video, created in ((lost, old), (waiting, old), (young, utcnow())):
            Rendition.create(video=video.id, height=360, width=640, created_at=created)
        for name in ("hls-360-00000.m4s", "chunk-360-00000.mp4", "poster.jpg"):
            with media.staged(".bin") as staged:
                staged.write_bytes(b"made")
                media.put(lost.id, name, staged)
        job = ladder_queue(config, connection).enqueue("os.getcwd", job_id=rendition_job_id(waiting.id, 360))
        try:
            assert forget_lost_ladders(media, connection) == 1
            assert not Rendition.select().where(Rendition.video == lost.id).exists()
            assert media.names(lost.id, "") == ["poster.jpg"]  # only what the ladder made went
            assert Rendition.select().where(Rendition.video.in_([waiting.id, young.id])).count() == 2
        finally:
            job.delete()
            for video in (lost, waiting, young):
                video.delete_instance(recursive=True)


def test_a_rendition_job_for_a_video_deleted_meanwhile_ends_quietly(config, database, monkeypatch):
    """The video went after its ladder was queued: its jobs have nothing to do and say so by
    returning, not by failing in RQ with a traceback."""
    import uuid

    from processor import jobs, ladder_jobs
    from processor.ladder import Rung

    monkeypatch.setattr(jobs, "_process_config", config)
    gone = str(uuid.uuid4())
    assert ladder_jobs.audio(gone) is None
    assert ladder_jobs.copied(gone, Rung(width=640, height=360, copy=True, max_kbps=0), [4.0], 1 / 30) is None
