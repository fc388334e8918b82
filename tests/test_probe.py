"""Probing decides what is a video: allowed containers only, within the machine limits."""

import pytest

from processor.probe import MediaLimits, Prober, parse_probe_output
from tests.media import make_video
from video_manager import binaries
from video_manager.errors import InvalidVideoError


def prober(**limits) -> Prober:
    return Prober(binaries.ffprobe_path(), timeout_s=30, limits=MediaLimits(**limits))


@pytest.mark.parametrize(
    ("name", "options", "content_type", "codecs"),
    [
        ("a.mp4", {}, "video/mp4", ("h264", "aac")),
        ("a.ts", {}, "video/mp2t", ("h264", "aac")),
        ("a.mkv", {}, "video/webm", ("h264", "aac")),
        ("a.mov", {}, "video/mp4", ("h264", "aac")),
        ("a.webm", {"video_codec": "libvpx-vp9", "audio_codec": "libopus"}, "video/webm", ("vp9", "opus")),
        ("hevc.mp4", {"video_codec": "libx265"}, "video/mp4", ("hevc", "aac")),
    ],
)
def test_probe_accepts_common_containers(tmp_path, name, options, content_type, codecs):
    info = prober().probe(make_video(tmp_path / name, seconds=2, **options))
    assert info.duration == pytest.approx(2.0, abs=0.1)
    assert (info.width, info.height) == (320, 240)
    assert (info.video_codec, info.audio_codec) == codecs
    assert info.content_type == content_type


def test_probe_rejects_text_without_leaking_paths(tmp_path):
    path = tmp_path / "secret-dir" / "x.mp4"
    path.parent.mkdir()
    path.write_text("hello")
    with pytest.raises(InvalidVideoError) as caught:
        prober().probe(path)
    assert "secret-dir" not in str(caught.value)


def test_manifests_and_playlists_are_not_videos(tmp_path):
    """A DASH manifest or an HLS playlist naming a real local video must not pass as that video."""
    clip = make_video(tmp_path / "real.mp4", seconds=2)
    dash = tmp_path / "dash.mp4"
    dash.write_text(
        '<?xml version="1.0"?><MPD xmlns="urn:mpeg:dash:schema:mpd:2011" type="static" '
        'mediaPresentationDuration="PT2S" minBufferTime="PT1S" '
        'profiles="urn:mpeg:dash:profile:isoff-on-demand:2011"><Period><AdaptationSet mimeType="video/mp4">'
        '<Representation id="1" bandwidth="1" width="320" height="240" codecs="avc1.64000d">'
        f"<BaseURL>{clip}</BaseURL></Representation></AdaptationSet></Period></MPD>"
    )
    hls = tmp_path / "hls.mp4"
    hls.write_text(f"#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXTINF:2.0,\n{clip}\n#EXT-X-ENDLIST\n")
    concat = tmp_path / "concat.mp4"
    concat.write_text(f"ffconcat version 1.0\nfile '{clip}'\n")
    for manifest in (dash, hls, concat):
        with pytest.raises(InvalidVideoError):
            prober().probe(manifest)


def test_limits_refuse_what_would_make_ffmpeg_unbounded(tmp_path):
    clip = make_video(tmp_path / "fast.mp4", seconds=1, rate=300, audio=False)
    with pytest.raises(InvalidVideoError, match="frame rate"):
        prober().probe(clip)
    with pytest.raises(InvalidVideoError, match="frame size"):
        prober(max_frame_rate=1000, max_frame_side=200).probe(clip)
    with pytest.raises(InvalidVideoError, match="duration"):
        prober(max_frame_rate=1000, max_duration_s=0.5).probe(clip)


def test_probe_is_killed_at_its_memory_limit(tmp_path):
    clip = make_video(tmp_path / "a.mp4", seconds=1)
    starved = Prober(binaries.ffprobe_path(), timeout_s=30, memory_limit_mb=16)
    with pytest.raises(InvalidVideoError):
        starved.probe(clip)


@pytest.mark.parametrize(
    "report",
    [
        {"format": {"format_name": "wav", "duration": "3"}, "streams": [{"codec_type": "audio"}]},
        {"format": {"format_name": "png_pipe"}, "streams": [{"codec_type": "video", "codec_name": "png"}]},
        {
            "format": {"format_name": "mp3", "duration": "3"},
            "streams": [{"codec_type": "video", "disposition": {"attached_pic": 1}}],
        },
        {"format": {"format_name": "mov,mp4,m4a,3gp,3g2,mj2"}, "streams": [{"codec_type": "video"}]},
        {"format": {"format_name": "dash", "duration": "3"}, "streams": [{"codec_type": "video"}]},
        {"format": {"format_name": "hls", "duration": "3"}, "streams": [{"codec_type": "video"}]},
    ],
)
def test_non_videos_are_rejected(report):
    with pytest.raises(InvalidVideoError):
        parse_probe_output(report)


def test_an_unreadable_file_is_refused_with_a_sentence(tmp_path):
    junk = tmp_path / "holiday.mp4"
    junk.write_bytes(b"this is not a video at all " * 4000)
    with pytest.raises(InvalidVideoError) as refused:
        prober().probe(junk)
    assert str(refused.value) == "not a readable video: invalid data found when processing input"


def test_a_probe_started_before_its_file_is_whole_reads_it_once_given_the_path(tmp_path):
    """The PyAV child starts at once and waits (an upload's last PATCH starts it beside the
    body); the file written meanwhile is probed when the path arrives, with the path kept out of
    the reason, and a probe that is never given a path leaves no child behind."""
    video = make_video(tmp_path / "later.mp4", seconds=2)
    warm = Prober(None, timeout_s=30)
    arriving = tmp_path / "arriving.mp4"
    with warm.start() as pending:
        child = pending.child.process
        assert child.poll() is None  # waiting for its path
        arriving.write_bytes(video.read_bytes())
        info = pending.result(arriving)
    assert (info.width, info.height, info.video_codec) == (320, 240, "h264")
    assert child.returncode == 0
    secret = tmp_path / "secret-dir" / "x.mp4"
    secret.parent.mkdir()
    secret.write_text("hello")
    with warm.start() as pending, pytest.raises(InvalidVideoError) as caught:
        pending.result(secret)
    assert "secret-dir" not in str(caught.value)
    with warm.start() as pending:
        unused = pending.child.process
    assert unused.returncode is not None  # killed and reaped


def test_an_uploads_probe_starts_only_for_its_last_bytes(app, client, make_user, sample_video, monkeypatch):
    """The final PATCH starts the probe's child once no more than PROBE_LEAD_BYTES are left to
    come (so a body that takes hours holds no waiting child); a PATCH that does not finish the
    upload starts none. The upload still becomes a ready video."""
    from server import body
    from server.tus import receiving
    from storage.backends.local_uploads import LocalUploadData

    monkeypatch.setattr(body, "READ_SIZE", 4096)
    monkeypatch.setattr(receiving, "PROBE_LEAD_BYTES", 20_000)
    data = sample_video.read_bytes()
    assert len(data) > 60_000
    received_when_started = []
    real_start = Prober.start

    def start(self, **options):
        received_when_started.append(receiving.store().data.offset(upload_id))
        return real_start(self, **options)

    monkeypatch.setattr(Prober, "start", start)
    token = make_user()[2]
    tus = {"Authorization": f"Token {token}", "Tus-Resumable": "1.0.0"}
    created = client.post("/api/videos/chunked_upload/", headers={**tus, "Upload-Length": str(len(data))})
    url = created.headers["Location"]
    upload_id = url.rsplit("/", 1)[1]
    with app.app_context():
        assert isinstance(receiving.store().data, LocalUploadData)
    half = len(data) // 2
    body_headers = {**tus, "Content-Type": "application/offset+octet-stream"}
    assert (
        client.patch(url, headers={**body_headers, "Upload-Offset": "0"}, data=data[:half]).status_code == 204
    )
    assert received_when_started == []
    rest = client.patch(url, headers={**body_headers, "Upload-Offset": str(half)}, data=data[half:])
    assert rest.status_code == 204
    (started_at,) = received_when_started
    # stored bytes lag the received ones by at most the piece being written and the one read
    assert len(data) - 20_000 - 2 * 4096 <= started_at <= len(data) - 20_000
    video = client.get(f"/api/videos/{upload_id}/", headers={"Authorization": f"Token {token}"})
    assert video.json["status"] == "ready"
