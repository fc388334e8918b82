import pytest

import binaries
from processor.probe import InvalidVideoError, parse_probe_output, probe
from tests.media import make_video


def test_probe_real_video(tmp_path):
    info = probe(make_video(tmp_path / "a.mp4", seconds=2, audio=False), binaries.ffprobe_path(), 30)
    assert info.duration == pytest.approx(2.0, abs=0.05)
    assert (info.width, info.height, info.video_codec, info.audio_codec) == (320, 240, "h264", None)
    assert info.content_type == "video/mp4"


def test_probe_rejects_text_without_leaking_paths(tmp_path):
    path = tmp_path / "secret-dir" / "x.mp4"
    path.parent.mkdir()
    path.write_text("hello")
    with pytest.raises(InvalidVideoError) as caught:
        probe(path, binaries.ffprobe_path(), 30)
    assert "secret-dir" not in str(caught.value)


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
    ],
)
def test_non_videos_are_rejected(report):
    with pytest.raises(InvalidVideoError):
        parse_probe_output(report)
