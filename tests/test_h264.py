"""The H.264 bitstream helpers a smart cut relies on, on records and packets x264 made."""

from __future__ import annotations

import av
import pytest

from processor import h264
from tests.media import make_video


@pytest.fixture(scope="module")
def x264_clip(media_dir):
    return make_video(media_dir / "h264-units.mp4", seconds=1, audio=False, gop=10)


@pytest.fixture(scope="module")
def record(x264_clip) -> bytes:
    with av.open(str(x264_clip)) as container:
        return bytes(container.streams.video[0].codec_context.extradata)


def test_an_avcc_record_survives_parse_and_build(record):
    config = h264.AvcConfig.parse(record)
    assert config.to_bytes() == record
    assert config.length_size == 4 and len(config.sps) == len(config.pps) == 1
    assert config.parameter_set_ids() == {0}  # x264's default ids


def test_merging_adds_the_other_sets_once_and_keeps_the_highest_level(record):
    source = h264.AvcConfig.parse(record)
    piece = h264.AvcConfig(source.profile, source.compatibility, source.level + 1, 4,
                           (b"\x67piece-sps",), (b"\x68piece-pps",))  # fmt: skip
    merged = h264.AvcConfig.parse(source.merged(piece, piece).to_bytes())
    assert merged.sps == (*source.sps, b"\x67piece-sps") and merged.pps == (*source.pps, b"\x68piece-pps")
    assert merged.level == source.level + 1 and merged.extension == source.extension


def test_free_ids_skip_the_used_ones():
    assert h264.free_ids({0}, 2) == [1, 2]
    assert h264.free_ids({0, 1, 3}, 2) == [2, 4]


def test_exp_golomb_ids_of_hand_made_parameter_sets():
    # SPS: NAL header, profile, constraints, level, then ue(v) id: "1" = 0, "010" = 1, "00111" = 6
    assert h264.AvcConfig(100, 0, 31, 4, (b"\x67\x64\x00\x1f\x80",), (b"\x68\x40",)).parameter_set_ids() == {
        0,
        1,
    }
    assert h264.AvcConfig(100, 0, 31, 4, (b"\x67\x64\x00\x1f\x38",), ()).parameter_set_ids() == {6}


def test_keyframe_packets_hold_an_idr_slice_and_others_do_not(x264_clip):
    with av.open(str(x264_clip)) as container:
        packets = [p for p in container.demux(video=0) if p.size]
    assert h264.NAL_IDR in h264.nal_types(bytes(packets[0]))
    assert all(h264.NAL_IDR not in h264.nal_types(bytes(p)) for p in packets if not p.is_keyframe)
    assert h264.nal_types(b"\x00\x00\x00\x09\x65") == []  # a length past the end stops the walk


def test_in_band_parameter_sets_are_not_an_avcc_record():
    with pytest.raises(ValueError):
        h264.AvcConfig.parse(b"\x00\x00\x00\x01\x67")
