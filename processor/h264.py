"""The few H.264 bitstream facts a smart cut needs: NAL unit types in a length-prefixed packet,
parameter-set ids, and the MP4 `avcC` record that lists every SPS/PPS of a track.

A smart cut puts re-encoded pieces between copied source packets in one track. Decoders keep
parameter sets by id, so the pieces use ids the source does not use, and the track's single
`avcC` carries the source's sets and the pieces' sets together.
"""

from __future__ import annotations

from dataclasses import dataclass

NAL_IDR = 5
NAL_SPS = 7
NAL_PPS = 8
PROFILES = {66: "baseline", 77: "main", 100: "high"}  # x264 can encode these; 66 includes Constrained
MAX_PARAMETER_SET_ID = 31  # SPS ids go to 31, the avcC count field to 31 as well


@dataclass(frozen=True)
class AvcConfig:
    """An `avcC` record (ISO/IEC 14496-15): header fields, the parameter sets, and the
    High-profile extension bytes kept as they are."""

    profile: int
    compatibility: int
    level: int
    length_size: int
    sps: tuple[bytes, ...]
    pps: tuple[bytes, ...]
    extension: bytes = b""

    @classmethod
    def parse(cls, data: bytes) -> AvcConfig:
        if len(data) < 7 or data[0] != 1:
            raise ValueError("not an avcC record (in-band parameter sets)")
        position = 6
        sps, position = _sets(data, position, data[5] & 0x1F)
        pps, position = _sets(data, position + 1, data[position])
        return cls(data[1], data[2], data[3], (data[4] & 3) + 1, sps, pps, data[position:])

    def to_bytes(self) -> bytes:
        out = bytearray([1, self.profile, self.compatibility, self.level, 0xFC | (self.length_size - 1)])
        out.append(0xE0 | len(self.sps))
        for unit in self.sps:
            out += len(unit).to_bytes(2, "big") + unit
        out.append(len(self.pps))
        for unit in self.pps:
            out += len(unit).to_bytes(2, "big") + unit
        return bytes(out + self.extension)

    def merged(self, *others: AvcConfig) -> AvcConfig:
        """This record with the other records' parameter sets added (ids must not clash) and the
        highest level of them all, so the header covers every set."""
        sps, pps = list(self.sps), list(self.pps)
        for other in others:
            sps += [unit for unit in other.sps if unit not in sps]
            pps += [unit for unit in other.pps if unit not in pps]
        if len(sps) > MAX_PARAMETER_SET_ID or len(pps) > 255:
            raise ValueError("too many parameter sets for one avcC")
        level = max(config.level for config in (self, *others))
        return AvcConfig(self.profile, self.compatibility, level, self.length_size, tuple(sps), tuple(pps),
                         self.extension)  # fmt: skip

    def parameter_set_ids(self) -> set[int]:
        """Every SPS and PPS id in use (an SPS's id follows its three header bytes; a PPS starts
        with its own id)."""
        return {_exp_golomb(unit[4:]) for unit in self.sps} | {_exp_golomb(unit[1:]) for unit in self.pps}


def nal_types(packet: bytes, length_size: int = 4) -> list[int]:
    """NAL unit types of a length-prefixed (AVCC) packet; stops at a malformed length."""
    return [unit[0] & 0x1F for unit in _nal_units(packet, length_size)]


def in_band_parameter_set_ids(packet: bytes, length_size: int = 4) -> set[int]:
    """The ids of the SPS and PPS a packet carries itself (a camera that changes settings
    mid-recording, or x264's repeat-headers, sends them before keyframes, under ids its
    `avcC` need not list)."""
    ids = set()
    for unit in _nal_units(packet, length_size):
        kind = unit[0] & 0x1F
        if kind == NAL_SPS and len(unit) > 4:
            ids.add(_exp_golomb(unit[4:]))
        elif kind == NAL_PPS and len(unit) > 1:
            ids.add(_exp_golomb(unit[1:]))
    return ids


def _nal_units(packet: bytes, length_size: int):
    position = 0
    while position + length_size <= len(packet):
        size = int.from_bytes(packet[position : position + length_size], "big")
        position += length_size
        if size <= 0 or position + size > len(packet):
            return
        yield packet[position : position + size]
        position += size


def free_ids(used: set[int], count: int) -> list[int]:
    """The `count` smallest parameter-set ids not in `used`."""
    return [n for n in range(MAX_PARAMETER_SET_ID + 1) if n not in used][:count]


def _sets(data: bytes, position: int, count: int) -> tuple[tuple[bytes, ...], int]:
    units = []
    for _ in range(count):
        size = int.from_bytes(data[position : position + 2], "big")
        units.append(bytes(data[position + 2 : position + 2 + size]))
        position += 2 + size
    if position > len(data):
        raise ValueError("truncated avcC record")
    return tuple(units), position


def _exp_golomb(data: bytes) -> int:
    """The first unsigned Exp-Golomb value of a bit string (emulation prevention is irrelevant
    this early in a parameter set)."""
    bits = "".join(f"{byte:08b}" for byte in data[:8])
    zeros = len(bits) - len(bits.lstrip("0"))
    return int(bits[zeros : 2 * zeros + 1], 2) - 1
