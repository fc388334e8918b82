"""The HEVC bitstream helpers a smart cut relies on, on records and packets x265 made: a piece
renumbered to other parameter-set ids decodes to the very same pictures."""

from __future__ import annotations

import subprocess
from pathlib import Path

import av
import numpy as np
import pytest

from processor import bits, hevc
from processor.ffmpeg import X265_PIECE_PARAMS
from video_manager import binaries


def x265_piece(path: Path, pix_fmt: str, preset: str) -> Path:
    """Encoded as a smart cut's pieces are (processor.ffmpeg.encode_piece's x265 settings)."""
    subprocess.run(
        [binaries.ffmpeg_path(), "-v", "error", "-y", "-f", "lavfi", "-i", "testsrc2=size=192x108:rate=30",
         "-t", "1", "-c:v", "libx265", "-preset", preset, "-pix_fmt", pix_fmt,
         "-x265-params", X265_PIECE_PARAMS + ":keyint=15:ref=3", "-tag:v", "hvc1", str(path)],
        check=True,
    )  # fmt: skip
    return path


def renumbered_copy(piece: Path, output: Path, new_id: int) -> None:
    """`piece` with its VPS, SPS and PPS given `new_id`, in a record that lists the new sets."""
    with av.open(str(piece)) as source, av.open(str(output), "w", format="mp4") as written:
        stream = source.streams.video[0]
        config = hevc.HvcConfig.parse(bytes(stream.codec_context.extradata))
        (vps,), (sps,), (pps,) = (config.units(kind) for kind in (hevc.NAL_VPS, hevc.NAL_SPS, hevc.NAL_PPS))
        renumbered = {
            hevc.NAL_VPS: (hevc.renumbered_vps(vps, new_id),),
            hevc.NAL_SPS: (hevc.renumbered_sps(sps, new_id, new_id),),
            hevc.NAL_PPS: (hevc.renumbered_pps(pps, new_id, new_id),),
        }
        record = hevc.HvcConfig(
            config.header, tuple((kind, renumbered[kind & 0x3F]) for kind, _ in config.arrays)
        )
        assert record.parameter_set_ids() == {kind: {new_id} for kind in hevc.PARAMETER_SET_TYPES}
        track = written.add_stream_from_template(stream)
        track.codec_context.extradata = record.to_bytes()
        old_sps, old_pps = hevc.parse_sps(sps), hevc.parse_pps(pps)
        for packet in source.demux(stream):
            if not packet.size:
                continue
            units = [
                hevc.renumbered_slice(unit, old_sps, old_pps, new_id)
                for unit in bits.nal_units(bytes(packet))
            ]
            copy = av.Packet(bits.packet_of(units))
            copy.pts, copy.dts, copy.time_base, copy.is_keyframe = (
                packet.pts,
                packet.dts,
                packet.time_base,
                packet.is_keyframe,
            )
            copy.stream = track
            written.mux(copy)


def pictures(path: Path) -> list[np.ndarray]:
    with av.open(str(path)) as container:
        return [frame.to_ndarray() for frame in container.decode(video=0)]


@pytest.mark.parametrize(("pix_fmt", "preset"), [("yuv420p", "superfast"), ("yuv420p10le", "medium")])
def test_a_renumbered_piece_decodes_to_the_same_pictures(tmp_path, pix_fmt, preset):
    piece = x265_piece(tmp_path / "piece.mp4", pix_fmt, preset)
    renumbered_copy(piece, tmp_path / "renumbered.mp4", 13)  # a longer Exp-Golomb code than 0's
    before, after = pictures(piece), pictures(tmp_path / "renumbered.mp4")
    assert len(after) == len(before) == 30
    assert all(np.array_equal(old, new) for old, new in zip(before, after, strict=True))
    errors = subprocess.run([binaries.ffmpeg_path(), "-v", "error", "-i", str(tmp_path / "renumbered.mp4"),
                             "-f", "null", "-"], capture_output=True, text=True, check=True)  # fmt: skip
    assert errors.stderr == ""


def test_emulation_prevention_survives_removal_and_insertion():
    rbsp = bytes([0, 0, 0, 0, 1, 0, 0, 2, 0, 0, 3, 7, 0, 0])
    assert bits.escaped(rbsp) == bytes([0, 0, 3, 0, 0, 3, 1, 0, 0, 3, 2, 0, 0, 3, 3, 7, 0, 0])
    assert bits.unescaped(bits.escaped(rbsp)) == rbsp


def test_an_hvcc_record_survives_parse_and_build_and_takes_more_sets(tmp_path):
    piece = x265_piece(tmp_path / "piece.mp4", "yuv420p", "ultrafast")
    with av.open(str(piece)) as container:
        record = bytes(container.streams.video[0].codec_context.extradata)
    config = hevc.HvcConfig.parse(record)
    assert config.to_bytes() == record
    vps = config.units(hevc.NAL_VPS)[0]
    more = config.with_sets({hevc.NAL_VPS: [hevc.renumbered_vps(vps, 4)]}, config.level + 3)
    again = hevc.HvcConfig.parse(more.to_bytes())
    assert again.parameter_set_ids()[hevc.NAL_VPS] == {0, 4} and again.level == config.level + 3


def test_a_cra_becomes_a_broken_link_and_nothing_else_changes():
    cra = bytes([hevc.NAL_CRA << 1, 1, 0xAF, 0x00])
    bla = hevc.as_broken_link(cra)
    assert (
        hevc.nal_type(bla) == hevc.NAL_BLA_W_LP and bla[1:] == cra[1:] and (bla[0] & 0x81) == (cra[0] & 0x81)
    )


def test_slices_the_pieces_never_have_are_refused(tmp_path):
    """A slice that is not its picture's first (several slices a picture) cannot be renumbered
    by rewriting its header's start alone: the splice must fall back, not guess."""
    piece = x265_piece(tmp_path / "piece.mp4", "yuv420p", "ultrafast")
    with av.open(str(piece)) as container:
        config = hevc.HvcConfig.parse(bytes(container.streams.video[0].codec_context.extradata))
        packet = next(p for p in container.demux(video=0) if p.size)
    sps, pps = hevc.parse_sps(config.units(hevc.NAL_SPS)[0]), hevc.parse_pps(config.units(hevc.NAL_PPS)[0])
    (unit,) = [u for u in bits.nal_units(bytes(packet)) if hevc.nal_type(u) < hevc.NAL_VPS]
    second_slice = unit[:2] + bytes([unit[2] & 0x7F]) + unit[3:]  # first_slice_segment_in_pic_flag = 0
    with pytest.raises(ValueError, match="more than one slice"):
        hevc.renumbered_slice(second_slice, sps, pps, 3)
    with pytest.raises(ValueError, match="another PPS"):
        hevc.renumbered_slice(
            unit, sps, hevc.parse_pps(hevc.renumbered_pps(config.units(hevc.NAL_PPS)[0], 5, 0)), 3
        )
