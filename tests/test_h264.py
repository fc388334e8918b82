"""The H.264 bitstream helpers a smart cut relies on, on records and packets x264 made."""

from __future__ import annotations

import subprocess

import av
import numpy as np
import pytest

from processor import bits, h264
from tests.media import make_video
from video_manager import binaries


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


@pytest.mark.parametrize(
    "encoder_args",
    [
        ("-preset", "superfast", "-bf", "3", "-x264-params", "open-gop=1"),  # CABAC, B-pyramid, MMCO
        ("-preset", "ultrafast", "-x264-params", "open-gop=1:bframes=2:cabac=0:ref=3"),  # CAVLC
    ],
)
def test_an_open_gop_keyframe_made_an_idr_frame_decodes_the_frames_after_it_the_same(tmp_path, encoder_args):
    """The second keyframe of an open-GOP clip and everything decoded after it, the keyframe
    rewritten as an IDR frame and the rest renumbered (its leading frames, which need the GOP
    before, left out): the same pictures as the source's from that keyframe on, and no word
    from ffmpeg's decoder (a memory management operation naming a frame from before would be
    one)."""
    source = make_video(tmp_path / "open.mp4", seconds=4, size="192x108", audio=False, gop=30,
                        pattern="testsrc2", encoder_args=encoder_args)  # fmt: skip
    cut = tmp_path / "from-keyframe.mp4"
    with av.open(str(source)) as container, av.open(str(cut), "w", format="mp4") as written:
        stream = container.streams.video[0]
        sets = h264.ParameterSets.of(h264.AvcConfig.parse(bytes(stream.codec_context.extradata)))
        track = written.add_stream_from_template(stream)
        packets = [p for p in container.demux(stream) if p.size]
        start = [index for index, p in enumerate(packets) if p.is_keyframe][1]
        keyframe, moved = packets[start], None
        assert h264.NAL_IDR not in h264.nal_types(bytes(keyframe))  # open GOPs indeed
        for packet in packets[start:]:
            if packet.pts < keyframe.pts:
                continue  # a leading frame
            units = []
            for unit in bits.nal_units(bytes(packet)):
                if unit[0] & 0x1F == h264.NAL_NON_IDR and moved is None:
                    unit, moved = h264.as_idr(unit, sets)
                elif unit[0] & 0x1F == h264.NAL_NON_IDR:
                    unit = h264.renumbered(unit, sets, moved)
                units.append(unit)
            copy = av.Packet(bits.packet_of(units))
            copy.pts, copy.dts, copy.time_base = packet.pts, packet.dts, packet.time_base
            copy.is_keyframe, copy.stream = packet is keyframe, track
            written.mux(copy)
    with av.open(str(source)) as container:
        wanted = [f.to_ndarray() for f in container.decode(video=0) if f.pts >= keyframe.pts]
    with av.open(str(cut)) as container:
        got = [f.to_ndarray() for f in container.decode(video=0)]
    assert len(got) == len(wanted) > 60
    assert all(np.array_equal(a, b) for a, b in zip(got, wanted, strict=True))
    decoded = subprocess.run([binaries.ffmpeg_path(), "-v", "error", "-i", str(cut), "-f", "null", "-"],
                             capture_output=True, text=True, check=True)  # fmt: skip
    assert decoded.stderr == ""
