"""The few H.264 bitstream facts a smart cut needs: NAL unit types in a length-prefixed packet,
parameter-set ids, and the MP4 `avcC` record that lists every SPS/PPS of a track.

A smart cut puts re-encoded pieces between copied source packets in one track. Decoders keep
parameter sets by id, so the pieces use ids the source does not use, and the track's single
`avcC` carries the source's sets and the pieces' sets together.
"""

from __future__ import annotations

from dataclasses import dataclass

from processor.bits import HEADER_BYTES, BitReader, escaped, to_bytes, trailing_start, ue_bits, unescaped

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
        return {_first_id(unit[4:]) for unit in self.sps} | {_first_id(unit[1:]) for unit in self.pps}


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
            ids.add(_first_id(unit[4:]))
        elif kind == NAL_PPS and len(unit) > 1:
            ids.add(_first_id(unit[1:]))
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


def _first_id(data: bytes) -> int:
    """The first Exp-Golomb value of a parameter set's body: its id (an SPS's after its three
    profile bytes; emulation prevention is irrelevant this early)."""
    return BitReader(data[:8]).ue()


# -- open GOPs: the first copied keyframe made an IDR frame ---------------------------------------
#
# An open-GOP source's keyframes are I frames that are not IDR frames: after the re-encoded head
# the first copied one can neither activate the source's SPS nor restart the frame numbers and
# picture order counts. So it is rewritten as an IDR frame (frame_num 0, picture order 0, an
# idr_pic_id, IDR reference marking) and every copied frame after it has its frame_num and
# picture order count moved by the same amounts, in place (fixed-width fields); the leading
# frames it had (decoded after it, shown before it, needing the GOP before) are left out.

NAL_NON_IDR = 1
NAL_SEI = 6


@dataclass(frozen=True)
class Sps:
    """The fields of an SPS that slice headers depend on."""

    id: int
    chroma_array_type: int
    frame_num_bits: int
    poc_type: int
    poc_lsb_bits: int
    frame_mbs_only: bool


HIGH_PROFILES = frozenset({100, 110, 122, 244, 44, 83, 86, 118, 128, 138, 139, 134, 135})


def parse_sps(unit: bytes) -> Sps:
    reader = BitReader(unescaped(unit[1:])[:HEADER_BYTES])
    profile = reader.u(8)
    reader.u(16)  # constraint flags, level
    sps_id = reader.ue()
    chroma = 1
    if profile in HIGH_PROFILES:
        chroma = reader.ue()
        if chroma == 3 and reader.flag():  # separate colour planes: no chroma arrays
            chroma = 0
        reader.ue(), reader.ue(), reader.u(1)  # bit depths, transform bypass
        if reader.flag():  # scaling matrices
            for index in range(12 if chroma == 3 else 8):
                if reader.flag():
                    _skip_scaling_list(reader, 16 if index < 6 else 64)
    if chroma == 0 and profile in HIGH_PROFILES:
        raise ValueError("separate colour planes are not rewritten")
    frame_num_bits = reader.ue() + 4
    poc_type = reader.ue()
    poc_lsb_bits = reader.ue() + 4 if poc_type == 0 else 0
    if poc_type == 1:
        raise ValueError("picture order count type 1 is not rewritten")
    reader.ue(), reader.u(1), reader.ue(), reader.ue()  # reference frames, gaps, size in macroblocks
    return Sps(sps_id, chroma, frame_num_bits, poc_type, poc_lsb_bits, reader.flag())


def _skip_scaling_list(reader: BitReader, size: int) -> None:
    last = following = 8
    for _ in range(size):
        if following:
            following = (last + reader.se() + 256) % 256
        last = following or last


@dataclass(frozen=True)
class Pps:
    id: int
    sps_id: int
    cabac: bool
    bottom_field_pic_order: bool
    default_refs: tuple[int, int]
    weighted_pred: bool
    weighted_bipred: int
    deblocking_control: bool
    redundant_pic_count: bool


def parse_pps(unit: bytes) -> Pps:
    reader = BitReader(unescaped(unit[1:])[:HEADER_BYTES])
    pps_id, sps_id = reader.ue(), reader.ue()
    cabac, bottom_field = reader.flag(), reader.flag()
    if reader.ue():
        raise ValueError("slice groups are not rewritten")
    refs = (reader.ue() + 1, reader.ue() + 1)
    weighted, bipred = reader.flag(), reader.u(2)
    reader.se(), reader.se(), reader.se()  # QPs
    deblocking, _constrained_intra, redundant = reader.flag(), reader.flag(), reader.flag()
    return Pps(pps_id, sps_id, cabac, bottom_field, refs, weighted, bipred, deblocking, redundant)


@dataclass
class ParameterSets:
    """The SPS and PPS a track's slices name, by id: its avcC's, then any sent in band."""

    sps: dict[int, Sps]
    pps: dict[int, Pps]

    @classmethod
    def of(cls, config: AvcConfig) -> ParameterSets:
        sets = cls({}, {})
        for unit in (*config.sps, *config.pps):
            sets.learn(unit)
        return sets

    def learn(self, unit: bytes) -> None:
        if unit[0] & 0x1F == NAL_SPS:
            sps = parse_sps(unit)
            self.sps[sps.id] = sps
        elif unit[0] & 0x1F == NAL_PPS:
            pps = parse_pps(unit)
            self.pps[pps.id] = pps


@dataclass
class Renumbering:
    """How much the copied frames' frame_num and picture order count lsb move; and, as they go
    by, how many frames have been numbered since the rewritten keyframe (frame_num wraps at
    MaxFrameNum: the count does not) and whether any was made a long-term reference."""

    frame_num: int
    poc_lsb: int
    counted: int = 0
    long_terms: bool = False

    def count(self, frame_num: int, width: int) -> int:
        """The frame's number counted from the keyframe, from its (moved) frame_num: frame
        numbers never go down but by wrapping."""
        wrap = 1 << width
        number = self.counted - self.counted % wrap + frame_num
        self.counted = number if number >= self.counted else number + wrap
        return self.counted


SLICE_P, SLICE_B, SLICE_I, SLICE_SP = 0, 1, 2, 3
MMCO_FORGET_SHORT, MMCO_FORGET_LONG, MMCO_SHORT_TO_LONG, MMCO_LONG_INDEX = 1, 2, 3, 6
MMCO_VALUES = {1: 1, 2: 1, 3: 2, 4: 1, 5: 0, 6: 1}  # how many values each operation carries


@dataclass
class SliceHeader:
    """A slice header read to its end, with where its rewritable fields are (bit positions in
    `bits`, the RBSP's first HEADER_BYTES as a bit string)."""

    bits: str
    sps: Sps
    pps: Pps
    slice_type: int
    frame_num: tuple[int, int]  # span
    idr_at: int  # where an IDR slice's idr_pic_id is (after the field flags)
    poc_lsb: tuple[int, int] | None
    marking: tuple[int, int] | None  # dec_ref_pic_marking()
    operations: list[tuple[int, ...]]  # its memory management operations, (kind, values...)
    end: int  # where the header ends (the slice data or CABAC's alignment follows)

    def value(self, span: tuple[int, int]) -> int:
        return int(self.bits[span[0] : span[1]], 2)


def read_header(unit: bytes, sets: ParameterSets) -> SliceHeader:
    """A coded slice's header (NAL types 1 and 5), for the encoders' output a camera or phone
    writes: slice groups, field pictures and SP/SI slices raise ValueError."""
    idr = unit[0] & 0x1F == NAL_IDR
    reader = BitReader(unescaped(unit[1:])[:HEADER_BYTES])
    reader.ue()
    slice_type = reader.ue() % 5
    pps = sets.pps[reader.ue()]
    sps = sets.sps[pps.sps_id]
    if slice_type > SLICE_I:
        raise ValueError("SP and SI slices are not rewritten")
    frame_num = (reader.position, reader.position + sps.frame_num_bits)
    reader.u(sps.frame_num_bits)
    if not sps.frame_mbs_only and reader.flag():
        raise ValueError("field pictures are not rewritten")
    idr_at = reader.position
    if idr:
        reader.ue()
    poc_lsb = None
    if sps.poc_type == 0:
        poc_lsb = (reader.position, reader.position + sps.poc_lsb_bits)
        reader.u(sps.poc_lsb_bits)
        if pps.bottom_field_pic_order:
            reader.se()
    if pps.redundant_pic_count:
        reader.ue()
    refs = list(pps.default_refs)
    if slice_type == SLICE_B:
        reader.u(1)  # direct spatial prediction
    if slice_type in (SLICE_P, SLICE_B) and reader.flag():
        refs = [reader.ue() + 1, reader.ue() + 1 if slice_type == SLICE_B else refs[1]]
    for _list in range({SLICE_P: 1, SLICE_B: 2}.get(slice_type, 0)):
        if reader.flag():  # reference list modification
            while (operation := reader.ue()) != 3:
                reader.ue()
                if operation > 5:
                    raise ValueError("an unknown reference list modification")
    if (pps.weighted_pred and slice_type == SLICE_P) or (pps.weighted_bipred == 1 and slice_type == SLICE_B):
        _skip_weights(reader, sps, refs[: 1 if slice_type == SLICE_P else 2])
    marking, operations = None, []
    if unit[0] & 0x60:
        start = reader.position
        if idr:
            reader.u(2)
        elif reader.flag():
            while (kind := reader.ue()) != 0:
                if kind not in MMCO_VALUES:
                    raise ValueError("an unknown memory management operation")
                operations.append((kind, *(reader.ue() for _ in range(MMCO_VALUES[kind]))))
        marking = (start, reader.position)
    if pps.cabac and slice_type != SLICE_I:
        reader.ue()
    reader.se()  # QP delta
    if pps.deblocking_control and reader.ue() != 1:
        reader.se(), reader.se()
    return SliceHeader(reader.bits, sps, pps, slice_type, frame_num, idr_at, poc_lsb, marking,
                       operations, reader.position)  # fmt: skip


def _skip_weights(reader: BitReader, sps: Sps, refs: list[int]) -> None:
    reader.ue()
    if sps.chroma_array_type:
        reader.ue()
    for count in refs:
        for _ in range(count):
            if reader.flag():
                reader.se(), reader.se()
            if sps.chroma_array_type and reader.flag():
                for _ in range(4):
                    reader.se()


def _marking_bits(operations: list[tuple[int, ...]]) -> str:
    """dec_ref_pic_marking() of a non-IDR slice with these operations."""
    if not operations:
        return "0"
    codes = "".join(ue_bits(kind) + "".join(map(ue_bits, values)) for kind, *values in operations)
    return "1" + codes + ue_bits(0)  # adaptive marking, the operations, the end of them


def _with_header(unit: bytes, header: SliceHeader, new_header: str) -> bytes:
    """The slice with `new_header` in place of its header: CABAC data starts byte-aligned after
    ones, written anew; CAVLC data follows the header bit by bit, so it moves with it."""
    rbsp = unescaped(unit[1:])
    if header.pps.cabac:
        data = rbsp[-(-header.end // 8) :]
        return unit[:1] + escaped(to_bytes(new_header + "1" * (-len(new_header) % 8)) + data)
    whole = BitReader(rbsp).bits
    rest = whole[header.end : trailing_start(whole)] + "1"
    joined = new_header + rest
    return unit[:1] + escaped(to_bytes(joined + "0" * (-len(joined) % 8)))


def as_idr(unit: bytes, sets: ParameterSets) -> tuple[bytes, Renumbering]:
    """A non-IDR I slice rewritten as an IDR slice (frame_num 0, picture order 0, an
    idr_pic_id, IDR reference marking), and how the frames after it are moved."""
    if unit[0] & 0x1F != NAL_NON_IDR or not unit[0] & 0x60:
        raise ValueError("not a reference non-IDR slice")
    header = read_header(unit, sets)
    if header.slice_type != SLICE_I:
        raise ValueError("an open-GOP keyframe that is not all I slices")
    if header.operations:
        raise ValueError("an open-GOP keyframe with memory management operations")
    bits, (frame_start, frame_end), (marking_start, marking_end) = (
        header.bits,
        header.frame_num,
        header.marking,
    )
    new = bits[:frame_start] + "0" * (frame_end - frame_start) + bits[frame_end : header.idr_at] + ue_bits(0)
    poc = 0
    if header.poc_lsb:
        poc = header.value(header.poc_lsb)
        new += "0" * (header.poc_lsb[1] - header.poc_lsb[0]) + bits[header.poc_lsb[1] : marking_start]
    else:
        new += bits[header.idr_at : marking_start]
    new += "00" + bits[marking_end : header.end]  # no_output_of_prior_pics, long_term_reference
    idr = bytes([(unit[0] & 0xE0) | NAL_IDR]) + unit[1:]
    return _with_header(idr, header, new), Renumbering(header.value(header.frame_num), poc)


def renumbered(unit: bytes, sets: ParameterSets, moved: Renumbering) -> bytes:
    """A slice after the rewritten keyframe with its frame_num and picture order count lsb moved
    back by as much as the keyframe's were, and without the memory management operations that
    name frames from before it (gone, since the keyframe starts afresh: a decoder would report
    failing to forget them)."""
    header = read_header(unit, sets)
    bits = list(header.bits)
    frame_num = (header.value(header.frame_num) - moved.frame_num) % (1 << header.sps.frame_num_bits)
    bits[header.frame_num[0] : header.frame_num[1]] = _field(frame_num, header.sps.frame_num_bits)
    if header.poc_lsb:
        lsb = header.value(header.poc_lsb) - moved.poc_lsb
        bits[header.poc_lsb[0] : header.poc_lsb[1]] = _field(lsb, header.sps.poc_lsb_bits)
    number = moved.count(frame_num, header.sps.frame_num_bits)
    kept = [op for op in header.operations if not _names_an_earlier_frame(op, number, moved.long_terms)]
    moved.long_terms |= any(op[0] in (MMCO_SHORT_TO_LONG, MMCO_LONG_INDEX) for op in kept)
    if kept == header.operations:  # same length: the fields change in place
        rbsp = bytearray(unescaped(unit[1:]))
        prefix = "".join(bits[: -(-max(header.frame_num[1], (header.poc_lsb or (0, 0))[1]) // 8) * 8])
        rbsp[: len(prefix) // 8] = to_bytes(prefix)
        return unit[:1] + escaped(bytes(rbsp))
    start, end = header.marking
    new = "".join(bits[:start]) + _marking_bits(kept) + "".join(bits[end : header.end])
    return _with_header(unit, header, new)


def _names_an_earlier_frame(operation: tuple[int, ...], number: int, long_terms: bool) -> bool:
    """Whether a memory management operation names a short-term frame from before the rewritten
    keyframe (its picture number, the frame's number less the difference, falls below 0), or a
    long-term one while none has been made since the keyframe (none survive it)."""
    kind, *values = operation
    if kind in (MMCO_FORGET_SHORT, MMCO_SHORT_TO_LONG):
        return number - (values[0] + 1) < 0
    return kind == MMCO_FORGET_LONG and not long_terms


def _field(value: int, width: int) -> str:
    """`value` modulo 2**width, as that many bits."""
    return f"{value % (1 << width):0{width}b}"
