"""The HEVC bitstream facts a smart cut needs: NAL unit types, the MP4 `hvcC` record, and moving
a re-encoded piece's parameter sets to ids the source does not use.

As for H.264 (processor.h264), the pieces' VPS/SPS/PPS must live beside the source's in the
track's single `hvcC`, so they need ids of their own. x265 cannot be told which ids to use, so
its output is renumbered here: the ids in the parameter sets, and the PPS id each slice header
names. That id is an Exp-Golomb code near the start of the header, so a new one may be longer:
the rest of the header moves by a few bits and its closing alignment is written anew, which
means reading the header to its end. Only headers as our own pieces are encoded (processor.
ffmpeg.encode_piece: one slice per picture, no tiles or wavefronts, no weighted prediction) are
read; anything else raises ValueError and the trim falls back to a full re-encode.
"""

from __future__ import annotations

from dataclasses import dataclass

from processor.bits import (
    HEADER_BYTES,
    BitReader,
    escaped,
    nal_units,
    to_bytes,
    trailing_start,
    ue_bits,
    unescaped,
)

NAL_IDR_W_RADL = 19
NAL_IDR_N_LP = 20
NAL_CRA = 21
NAL_BLA_W_LP = 16
NAL_VPS, NAL_SPS, NAL_PPS = 32, 33, 34
IDR_TYPES = frozenset({NAL_IDR_W_RADL, NAL_IDR_N_LP})
IRAP_TYPES = frozenset(range(16, 24))
SLICE_P, SLICE_I = 1, 2
PARAMETER_SET_TYPES = frozenset({NAL_VPS, NAL_SPS, NAL_PPS})
PIECE_PROFILES = {"yuv420p": "main", "yuv420p10le": "main10"}  # x265's, by the source's pixels


# -- parameter sets -----------------------------------------------------------------------------


def nal_type(unit: bytes) -> int:
    return (unit[0] >> 1) & 0x3F


@dataclass(frozen=True)
class Sps:
    """The fields of an SPS that slice headers depend on."""

    id: int
    separate_colour_plane: bool
    chroma_format_idc: int
    poc_lsb_bits: int
    short_term_sets: tuple[int, ...]  # each set's number of delta POCs (inter-set prediction needs them)
    long_term_refs: bool
    temporal_mvp: bool
    sao: bool
    sps_id_bits: tuple[int, int]  # where its own id is written


def _profile_tier_level(reader: BitReader, max_sub_layers_minus1: int) -> None:
    reader.u(88)  # general profile space, tier, idc, compatibility and constraint flags
    reader.u(8)  # general level
    present = [(reader.flag(), reader.flag()) for _ in range(max_sub_layers_minus1)]
    if max_sub_layers_minus1 > 0:
        reader.u(2 * (8 - max_sub_layers_minus1))
    for profile_present, level_present in present:
        reader.u(88 if profile_present else 0)
        reader.u(8 if level_present else 0)


def parameter_set_id(unit: bytes) -> int:
    """A VPS's, SPS's or PPS's own id (read without the rest of it)."""
    kind = nal_type(unit)
    if kind == NAL_VPS:
        return unescaped(unit[2:3])[0] >> 4
    reader = BitReader(unescaped(unit[2:]))
    if kind == NAL_SPS:
        reader.u(4)
        max_sub_layers_minus1 = reader.u(3)
        reader.u(1)
        _profile_tier_level(reader, max_sub_layers_minus1)
    return reader.ue()


def in_band_parameter_set_ids(packet: bytes) -> set[int]:
    """The ids of the VPS, SPS and PPS a packet carries itself (one set: the pieces take the
    same id for all three)."""
    try:
        return {parameter_set_id(unit) for unit in nal_units(packet) if nal_type(unit) in PARAMETER_SET_TYPES}
    except ValueError:
        return set(range(16))  # unreadable: assume every id a piece could take is taken


def parse_sps(unit: bytes) -> Sps:
    reader = BitReader(unescaped(unit[2:]))
    reader.u(4)  # its VPS id
    max_sub_layers_minus1 = reader.u(3)
    reader.u(1)
    _profile_tier_level(reader, max_sub_layers_minus1)
    id_start = reader.position
    sps_id = reader.ue()
    id_bits = (id_start, reader.position)
    chroma = reader.ue()
    separate = reader.flag() if chroma == 3 else False
    reader.ue(), reader.ue()  # width, height
    if reader.flag():  # conformance window
        for _ in range(4):
            reader.ue()
    reader.ue(), reader.ue()  # bit depths
    poc_lsb_bits = reader.ue() + 4
    sub_layer_ordering_all = reader.flag()
    for _ in range(0 if sub_layer_ordering_all else max_sub_layers_minus1, max_sub_layers_minus1 + 1):
        reader.ue(), reader.ue(), reader.ue()
    for _ in range(6):  # coding and transform block sizes, hierarchy depths
        reader.ue()
    if reader.flag() and reader.flag():  # scaling lists enabled, and sent in the SPS
        raise ValueError("SPS scaling lists are not read")
    reader.flag()  # asymmetric motion partitions
    sao = reader.flag()
    if reader.flag():  # PCM
        reader.u(8), reader.ue(), reader.ue(), reader.u(1)
    sets: list[int] = []
    for index in range(reader.ue()):
        sets.append(_short_term_set(reader, index, sets, in_slice_header=False))
    long_term = reader.flag()
    if long_term:
        raise ValueError("long-term reference pictures are not read")
    temporal_mvp = reader.flag()
    return Sps(sps_id, separate, chroma, poc_lsb_bits, tuple(sets), long_term, temporal_mvp, sao, id_bits)


def _short_term_set(reader: BitReader, index: int, sets: list[int], *, in_slice_header: bool) -> int:
    """Reads st_ref_pic_set(index) (`sets`: the delta POC counts of the SPS's sets before it);
    returns its number of delta POCs."""
    if index != 0 and reader.flag():  # predicted from another set
        delta_index = reader.ue() + 1 if in_slice_header else 1
        reader.u(1), reader.ue()  # sign and size of the POC difference
        if delta_index > index:
            raise ValueError("a reference picture set predicted from one that does not exist")
        reference = sets[index - delta_index]
        total = 0
        for _ in range(reference + 1):
            used = reader.flag()
            if used or reader.flag():
                total += 1
        return total
    negative, positive = reader.ue(), reader.ue()
    for _ in range(negative + positive):
        reader.ue(), reader.u(1)
    return negative + positive


@dataclass(frozen=True)
class Pps:
    id: int
    sps_id: int
    dependent_slices: bool
    output_flag_present: bool
    extra_slice_header_bits: int
    cabac_init_present: bool
    default_l0_refs: int
    slice_chroma_qp_offsets: bool
    weighted_prediction: bool
    deblocking_override: bool
    deblocking_disabled: bool
    loop_filter_across_slices: bool
    tiles_or_wavefronts: bool
    lists_modification: bool
    header_extension: bool


def parse_pps(unit: bytes) -> Pps:
    reader = BitReader(unescaped(unit[2:]))
    pps_id, sps_id = reader.ue(), reader.ue()
    dependent, output_flag, extra = reader.flag(), reader.flag(), reader.u(3)
    reader.flag()  # sign data hiding
    cabac_init = reader.flag()
    default_l0_refs = reader.ue() + 1
    reader.ue(), reader.se()  # list 1's default reference count, initial QP
    reader.flag(), reader.flag()  # constrained intra, transform skip
    if reader.flag():  # cu QP delta
        reader.ue()
    reader.se(), reader.se()  # chroma QP offsets
    chroma_offsets = reader.flag()
    weighted = any([reader.flag(), reader.flag()])  # for P, for B slices
    reader.flag()  # transquant bypass
    tiles, wavefronts = reader.flag(), reader.flag()
    if tiles:
        raise ValueError("tiles are not read")
    loop_filter_across_slices = reader.flag()
    override, disabled = False, False
    if reader.flag():  # deblocking control
        override, disabled = reader.flag(), reader.flag()
        if not disabled:
            reader.se(), reader.se()
    if reader.flag():  # PPS scaling lists
        raise ValueError("PPS scaling lists are not read")
    lists_modification = reader.flag()
    reader.ue()  # parallel merge level
    header_extension = reader.flag()
    if reader.flag():  # PPS extensions (range extensions add slice header fields)
        raise ValueError("PPS extensions are not read")
    return Pps(pps_id, sps_id, dependent, output_flag, extra, cabac_init, default_l0_refs, chroma_offsets,
               weighted, override, disabled, loop_filter_across_slices, tiles or wavefronts,
               lists_modification, header_extension)  # fmt: skip


def _with_ue_replaced(unit: bytes, spans: list[tuple[tuple[int, int], int]]) -> bytes:
    """A parameter set whose Exp-Golomb fields at the given bit spans hold new values; the bits
    after them move, and the trailing bits are written anew."""
    bits = BitReader(unescaped(unit[2:])).bits
    body = bits[: trailing_start(bits)]
    for (start, end), value in sorted(spans, reverse=True):
        body = body[:start] + ue_bits(value) + body[end:]
    body += "1"
    body += "0" * (-len(body) % 8)
    return unit[:2] + escaped(to_bytes(body))


def renumbered_vps(unit: bytes, vps_id: int) -> bytes:
    rbsp = bytearray(unescaped(unit[2:]))
    rbsp[0] = (rbsp[0] & 0x0F) | (vps_id << 4)
    return unit[:2] + escaped(bytes(rbsp))


def renumbered_sps(unit: bytes, vps_id: int, sps_id: int) -> bytes:
    with_vps = renumbered_vps(unit, vps_id)  # the SPS starts with its VPS's id, 4 bits too
    return _with_ue_replaced(with_vps, [(parse_sps(with_vps).sps_id_bits, sps_id)])


def renumbered_pps(unit: bytes, pps_id: int, sps_id: int) -> bytes:
    reader = BitReader(unescaped(unit[2:]))
    reader.ue()
    first = (0, reader.position)
    start = reader.position
    reader.ue()
    return _with_ue_replaced(unit, [(first, pps_id), ((start, reader.position), sps_id)])


# -- slices -------------------------------------------------------------------------------------


def renumbered_slice(unit: bytes, sps: Sps, pps: Pps, pps_id: int) -> bytes:
    """A slice segment of our own pieces naming PPS `pps_id` instead of its own; `sps` and `pps`
    are the ones it was encoded under."""
    kind = nal_type(unit)
    rbsp = unescaped(unit[2:])
    reader = BitReader(rbsp[:HEADER_BYTES])
    if not reader.flag():
        raise ValueError("a piece's picture has more than one slice")
    if kind in IRAP_TYPES:
        reader.u(1)
    id_start = reader.position
    if reader.ue() != pps.id:
        raise ValueError("a slice names another PPS than its piece's")
    id_end = reader.position
    _rest_of_slice_header(reader, kind, sps, pps)
    if reader.u(1) != 1:  # byte_alignment()'s first bit
        raise ValueError("a slice header did not end where it was read to")
    header = reader.bits[:id_start] + ue_bits(pps_id) + reader.bits[id_end : reader.position - 1] + "1"
    header += "0" * (-len(header) % 8)
    data_start = -(-reader.position // 8)
    renumbered = unit[:2] + escaped(to_bytes(header) + rbsp[data_start:])
    data = escaped(rbsp[data_start:])  # the slice data as it is sent: it must not change
    if not renumbered.endswith(data) or not unit.endswith(data):
        raise ValueError("the slice data's escaping changed at the header's end")
    return renumbered


def _rest_of_slice_header(reader: BitReader, kind: int, sps: Sps, pps: Pps) -> None:
    reader.u(pps.extra_slice_header_bits)
    slice_type = reader.ue()
    if pps.output_flag_present:
        reader.u(1)
    if sps.separate_colour_plane:
        reader.u(2)
    temporal_mvp = False
    if kind not in IDR_TYPES:
        reader.u(sps.poc_lsb_bits)
        if not reader.flag():
            _short_term_set(reader, len(sps.short_term_sets), list(sps.short_term_sets), in_slice_header=True)
        elif len(sps.short_term_sets) > 1:
            reader.u((len(sps.short_term_sets) - 1).bit_length())
        if sps.temporal_mvp:
            temporal_mvp = reader.flag()
    sao_luma = sao_chroma = False
    if sps.sao:
        sao_luma = reader.flag()
        if sps.chroma_format_idc != 0 and not sps.separate_colour_plane:
            sao_chroma = reader.flag()
    if slice_type == SLICE_P:
        references = pps.default_l0_refs
        if reader.flag():
            references = reader.ue() + 1
        if pps.lists_modification:
            raise ValueError("reference list modification is not read")
        if pps.cabac_init_present:
            reader.u(1)
        if temporal_mvp and references > 1:
            reader.ue()
        if pps.weighted_prediction:
            raise ValueError("weighted prediction is not read")
        reader.ue()  # merge candidates
    elif slice_type != SLICE_I:
        raise ValueError("a piece has B slices")
    reader.se()  # QP delta
    if pps.slice_chroma_qp_offsets:
        reader.se(), reader.se()
    deblocking_disabled = pps.deblocking_disabled
    if pps.deblocking_override and reader.flag():
        deblocking_disabled = reader.flag()
        if not deblocking_disabled:
            reader.se(), reader.se()
    if pps.loop_filter_across_slices and (sao_luma or sao_chroma or not deblocking_disabled):
        reader.u(1)
    if pps.tiles_or_wavefronts and reader.ue():
        raise ValueError("entry points are not read")
    if pps.header_extension:
        reader.u(8 * reader.ue())


# -- the hvcC record ----------------------------------------------------------------------------


@dataclass(frozen=True)
class HvcConfig:
    """An `hvcC` record (ISO/IEC 14496-15): its 22 header bytes, kept as they are but for the
    level, and its NAL unit arrays by type."""

    header: bytes
    arrays: tuple[tuple[int, tuple[bytes, ...]], ...]  # (NAL type with completeness bit, units)

    @classmethod
    def parse(cls, data: bytes) -> HvcConfig:
        if len(data) < 23 or data[0] != 1:
            raise ValueError("not an hvcC record (in-band parameter sets)")
        if (data[21] & 3) != 3:
            raise ValueError("NAL lengths are not 4 bytes")
        position, arrays = 23, []
        for _ in range(data[22]):
            kind, count = data[position], int.from_bytes(data[position + 1 : position + 3], "big")
            position += 3
            units = []
            for _ in range(count):
                size = int.from_bytes(data[position : position + 2], "big")
                units.append(bytes(data[position + 2 : position + 2 + size]))
                position += 2 + size
            arrays.append((kind, tuple(units)))
        if position > len(data):
            raise ValueError("truncated hvcC record")
        return cls(bytes(data[:22]), tuple(arrays))

    @property
    def level(self) -> int:
        return self.header[12]

    def units(self, kind: int) -> tuple[bytes, ...]:
        return tuple(unit for array_kind, units in self.arrays if array_kind & 0x3F == kind for unit in units)

    def parameter_set_ids(self) -> dict[int, set[int]]:
        """The VPS, SPS and PPS ids in use, by NAL type."""
        return {kind: {parameter_set_id(unit) for unit in self.units(kind)} for kind in PARAMETER_SET_TYPES}

    def with_sets(self, added: dict[int, list[bytes]], level: int) -> HvcConfig:
        """This record with more parameter sets (by NAL type) in its arrays and the given level."""
        arrays = [(kind, units + tuple(added.get(kind & 0x3F, ()))) for kind, units in self.arrays]
        present = {kind & 0x3F for kind, _units in arrays}
        arrays += [(0x80 | kind, tuple(units)) for kind, units in added.items() if kind not in present]
        header = self.header[:12] + bytes([max(self.level, level)]) + self.header[13:]
        return HvcConfig(header, tuple(sorted(arrays, key=lambda array: array[0] & 0x3F)))

    def to_bytes(self) -> bytes:
        out = bytearray(self.header)
        out.append(len(self.arrays))
        for kind, units in self.arrays:
            out.append(kind)
            out += len(units).to_bytes(2, "big")
            for unit in units:
                out += len(unit).to_bytes(2, "big") + unit
        return bytes(out)


def as_broken_link(unit: bytes) -> bytes:
    """A CRA picture's NAL unit retyped BLA_W_LP: the same picture, starting a new sequence."""
    return bytes([(unit[0] & 0x81) | (NAL_BLA_W_LP << 1)]) + unit[1:]
