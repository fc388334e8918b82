"""`python -m processor.smart_cut_av plan|splice` (JSON in on stdin, JSON out): the PyAV half of
a smart cut, run as a limited child process because it demuxes an uploaded file.

- `plan` reads the packets around the cut's start and end (never the whole file) and finds the
  keyframes the copied middle runs between (IDR frames; for HEVC also open-GOP CRA pictures),
  or says why the source does not qualify;
- `hidden` counts the video packets an edit list hides at the start (a merge's copy check);
- `splice` writes the output MP4: the re-encoded head's packets, the source's packets from the
  first keyframe up to the last one, the re-encoded tail's packets, and the re-encoded audio,
  under one `avcC` or `hvcC` that lists every parameter set (HEVC pieces renumbered by
  processor.hevc). Timestamps are the source's, moved so the first frame is at 0; the pieces
  (encoded without B-frames) get the source's decode delay, so decode order stays strictly
  increasing across the joins. Any packet that breaks that is an error, and the job falls back
  to the full re-encode.
"""

from __future__ import annotations

import dataclasses
import functools
import math
import sys
from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction

import av

from processor import bits, h264, hevc
from processor.av_child import child_main
from processor.containers import OPEN_OPTIONS, REMOTE_OPEN_OPTIONS
from processor.cut_plan import CutPlan

QUALIFYING_DEMUXERS = ("mov",)
# Matroska keeps no decode timestamps and MPEG-TS no avcC/hvcC: their H.264 and HEVC are
# smart-cut from a stream copy of the window's GOPs into MP4 (the job's `remux_window`), which
# has both.
REMUXED_DEMUXERS = ("matroska", "mpegts")
MAX_PLAN_PACKETS = 20_000  # a GOP longer than this is not worth planning around
REORDER_MARGIN = 32  # packets read past a keyframe: more than any decoder reorders
SEEK_LEADS_S = (0, 2, 10, None)  # how far before its target a scan seeks (None: the file's start)


class NotQualified(Exception):
    """The source cannot be smart-cut; the message says why (the job logs it and re-encodes)."""


def _open(path: str, demuxer: str, remote: bool):
    options = dict(REMOTE_OPEN_OPTIONS if remote else OPEN_OPTIONS)
    return av.open(path, format=demuxer, options=options)


def plan(request: dict) -> dict:
    """The exact window (first frame, end of the last frame: every precise trim needs them) and,
    when the source qualifies, the IDR frames a smart cut copies between. The request's seconds
    count from the file's start, as a player shows them; ticks are on the source's own clock.
    A request may give the window in ticks instead (`start_pts`, `end_pts`): a remuxed window's
    plan then picks exactly the frames the source's did."""
    with _open(request["source"], request["demuxer"], request["remote"]) as container:
        stream = container.streams.video[0]
        time_base = stream.time_base
        origin = Fraction(container.start_time or 0, av.time_base)  # the file's first timestamp
        if "start_pts" in request:
            start_pts, end_pts = request["start_pts"], request["end_pts"]
        else:
            start_pts = math.ceil((Fraction(request["start"]) + origin) / time_base)
            end_pts = math.ceil((Fraction(request["end"]) + origin) / time_base)
        at_start, _ = _scan(container, stream, start_pts, stop_after_keyframe_at=start_pts)
        at_end, reached_eof = _scan(container, stream, end_pts, stop_after_keyframe_at=None)
        inside = [p for p in at_start if start_pts <= p.pts < end_pts]
        if not inside:
            raise ValueError("no frame inside the window")
        ends = [p.pts + p.duration for p in at_end if p.pts < end_pts]
        window = CutPlan(
            time_base=Fraction(time_base),
            origin=origin,
            first_pts=min(p.pts for p in inside),
            end_pts=end_pts,
            video_end=max(ends) if ends else at_end[0].pts,
            has_audio=bool(container.streams.audio),
            intra_only=stream.codec_context.codec.intra_only,
            keyframe_before=at_start[0].pts,
            remuxable=request["demuxer"] in REMUXED_DEMUXERS
            and stream.codec_context.name in ("h264", "hevc"),
            qualified=False,
        )
        try:
            reaches_end = reached_eof and all(p.pts < end_pts for p in at_end)
            bounds = (start_pts, end_pts)
            points = _cut_points(request["demuxer"], container, stream, bounds, at_start, at_end, reaches_end)
        except NotQualified as exc:
            return dataclasses.replace(window, reason=str(exc)).to_json()
        return dataclasses.replace(window, qualified=True, **points).to_json()


@dataclass(frozen=True)
class _Packet:
    pts: int
    dts: int
    duration: int
    keyframe: bool
    idr: bool
    cra: bool  # an HEVC open-GOP keyframe: the pictures after it may show before it
    parameter_set_ids: frozenset[int]  # of the parameter sets the packet carries in band


def _describe(codec: str, data: bytes, keyframe: bool) -> dict:
    """What a packet is, from its NAL units (H.264 or HEVC; other codecs are never smart-cut)."""
    if codec == "hevc":
        try:
            types = {hevc.nal_type(unit) for unit in bits.nal_units(data)}
        except ValueError:
            types = set()
        return {
            "idr": keyframe and bool(types & hevc.IDR_TYPES), "cra": keyframe and hevc.NAL_CRA in types,
            "parameter_set_ids": frozenset(hevc.in_band_parameter_set_ids(data)) if keyframe else frozenset(),
        }  # fmt: skip
    return {
        "idr": keyframe and h264.NAL_IDR in h264.nal_types(data), "cra": False,
        "parameter_set_ids": frozenset(h264.in_band_parameter_set_ids(data)) if keyframe else frozenset(),
    }  # fmt: skip


def _scan(container, stream, at: int, *, stop_after_keyframe_at: int | None) -> tuple[list[_Packet], bool]:
    """Packets in decode order from the keyframe at or before `at`: up to the first keyframe at
    or after `stop_after_keyframe_at` and the frames that may be reordered around it, or (None)
    up to the next keyframe; and whether the file ended first. Packets only: nothing is
    decoded. A seek in a file without an index (MPEG-TS) may land past its target: the scan
    then seeks further back, and from the file's start at the last."""
    for lead_s in SEEK_LEADS_S:
        target = max(0, at - round(lead_s / stream.time_base)) if lead_s is not None else 0
        found, ended = _scan_from(container, stream, target, at, stop_after_keyframe_at)
        if found[0].pts <= at:
            break
    return found, ended


def _scan_from(container, stream, target: int, at: int, stop_after_keyframe_at: int | None):
    rate = stream.average_rate or stream.base_rate
    frame_ticks = round(1 / (Fraction(rate) * stream.time_base)) if rate else 1
    container.seek(target, stream=stream, backward=True, any_frame=False)
    found: list[_Packet] = []
    after = None
    for count, packet in enumerate(container.demux(stream)):
        if count > MAX_PLAN_PACKETS:
            raise ValueError("keyframes are too far apart to plan a cut")
        if packet.pts is None or not packet.size or (not found and not packet.is_keyframe):
            continue  # (a seek without an index may land between keyframes)
        if packet.is_keyframe and packet.pts <= at:
            found, after = [], None  # a later keyframe at or before `at`: start from it
        elif packet.is_keyframe and found:
            if stop_after_keyframe_at is None:
                return found, False
            if after is None and packet.pts >= stop_after_keyframe_at:
                after = len(found)
        if after is not None and len(found) > after + REORDER_MARGIN:
            return found, False
        facts = _describe(stream.codec_context.name, bytes(packet), packet.is_keyframe)
        found.append(
            _Packet(packet.pts, packet.dts, packet.duration or frame_ticks, packet.is_keyframe, **facts)
        )
    if not found:
        raise ValueError("no video packets where the window is")
    return found, True


def _cut_points(demuxer, container, stream, window, at_start, at_end, reaches_end: bool) -> dict:
    """Where the copied middle starts and ends; raises NotQualified when the source is not one
    a smart cut handles safely."""
    start_pts, end_pts = window
    context = stream.codec_context
    if demuxer not in QUALIFYING_DEMUXERS:
        raise NotQualified(f"the {demuxer} container is not smart-cut")
    profile, used_ids, open_gops = _codec_config(context)
    if stream.time_base.numerator != 1:
        raise NotQualified(f"time base {stream.time_base} is not 1/N")
    first_key = next((p for p in at_start if p.keyframe and p.pts >= start_pts), None)
    if first_key is None or first_key.pts >= end_pts:
        raise NotQualified("no keyframe inside the window")
    last_key = at_end[0]
    if not last_key.keyframe or last_key.pts < first_key.pts:
        raise NotQualified("no keyframe inside the window")
    for key in (first_key, last_key):
        if not (key.idr or key.cra or open_gops):
            raise NotQualified("keyframes inside the window are not IDR frames (open GOPs)")
    # An open-GOP keyframe's leading pictures (decoded after it, shown before it) start the tail
    # (they need the GOP before, which the middle copies, so the tail's encode decodes from it).
    leading = [p.pts for p in at_end[1:] if p.pts < last_key.pts and p.pts < end_pts]
    tail_start = min([last_key.pts, *leading])
    has_tail = tail_start < end_pts and not reaches_end
    if has_tail and last_key.pts == first_key.pts:
        raise NotQualified("the window holds a single keyframe: nothing to copy")
    _require_progressive(container, stream, first_key.pts)
    return {
        "head_end": first_key.pts,
        "tail_start": tail_start if has_tail else None,
        "middle_end": None if reaches_end else last_key.pts,
        "delay": first_key.pts - first_key.dts,
        "profile": profile,
        "codec": context.name,
        "open_gop": not (first_key.idr and last_key.idr),
        # ids neither the codec record nor the packets around the joins use; the splice refuses
        # a copied packet that brings one of them in band
        "ids": tuple(_free_ids(used_ids | _in_band_ids(at_start, at_end), context.name)),
    }


def _codec_config(context) -> tuple[str, set[int], bool]:
    """The encoder's profile for the pieces, the parameter-set ids the track's record uses, and
    whether open-GOP keyframes can be copied from (HEVC: always, as BLA pictures; H.264: when
    processor.h264 can rewrite its slice headers); NotQualified for what the pieces cannot
    match."""
    if context.name == "hevc":
        if context.pix_fmt not in hevc.PIECE_PROFILES:
            raise NotQualified(f"the pixels are {context.pix_fmt}, not 8- or 10-bit 4:2:0")
        try:
            config = hevc.HvcConfig.parse(bytes(context.extradata or b""))
            used = set().union(*config.parameter_set_ids().values())
            return hevc.PIECE_PROFILES[context.pix_fmt], used, True
        except ValueError as exc:
            raise NotQualified(str(exc)) from exc
    if context.name != "h264":
        raise NotQualified(f"the video is {context.name}, not H.264 or HEVC")
    if context.pix_fmt != "yuv420p":
        raise NotQualified(f"the pixels are {context.pix_fmt}, not 8-bit 4:2:0")
    try:
        config = h264.AvcConfig.parse(bytes(context.extradata or b""))
    except ValueError as exc:
        raise NotQualified(str(exc)) from exc
    if config.profile not in h264.PROFILES or config.length_size != 4:
        raise NotQualified(f"H.264 profile {config.profile} with {config.length_size}-byte lengths")
    try:
        h264.ParameterSets.of(config)
        rewritable = True
    except (ValueError, KeyError):
        rewritable = False
    return h264.PROFILES[config.profile], config.parameter_set_ids(), rewritable


def _free_ids(used: set[int], codec: str) -> list[int]:
    """Two ids for the pieces: HEVC's serve as VPS, SPS and PPS id at once (VPS ids go to 15)."""
    return h264.free_ids(used | set(range(16, 32)), 2) if codec == "hevc" else h264.free_ids(used, 2)


def _in_band_ids(*scans: list[_Packet]) -> set[int]:
    return {number for scan in scans for packet in scan for number in packet.parameter_set_ids}


def _require_progressive(container, stream, keyframe_pts: int) -> None:
    container.seek(keyframe_pts, stream=stream, backward=True, any_frame=False)
    for frame in container.decode(stream):
        if frame.interlaced_frame:
            raise NotQualified("the video is interlaced")
        return


def splice(request: dict) -> dict:
    """Write the output; returns how many packets of each kind went in."""
    cut = CutPlan.from_json(request["plan"])
    time_base, first_pts = cut.time_base, cut.first_pts
    head_end, middle_end = cut.head_end, cut.middle_end
    # A tail that starts with an open-GOP keyframe's leading pictures is shown from before that
    # keyframe but decodes after the middle: it gets less decode delay, and when its leading
    # pictures outnumber the source's delay, everything decodes that much earlier instead.
    leading = middle_end - cut.tail_start if cut.tail_start is not None and middle_end is not None else 0
    earlier = max(0, leading - cut.delay)
    delay = cut.delay + earlier
    pieces_ids = set(cut.ids)
    counts = {"head": 0, "middle": 0, "tail": 0, "audio": 0}
    faststart = {"movflags": "+faststart"}
    with _open(request["source"], request["demuxer"], request["remote"]) as source, \
            av.open(request["output"], "w", format="mp4", options=faststart) as output:  # fmt: skip
        video_in = source.streams.video[0]
        video_out = output.add_stream_from_template(video_in)
        video_out.codec_tag = video_in.codec_tag  # hvc1 stays hvc1 (Apple's players want it), hev1 hev1
        output.metadata.update(source.metadata)  # the creation time among them
        pieces = {name: av.open(path) for name, path in request["pieces"].items() if path}
        try:
            record, rewrites = _track_record(cut, video_in, pieces)
            video_out.codec_context.extradata = record
            audio_in = list(pieces["audio"].streams.audio) if "audio" in pieces else []
            audio_out = {stream.index: _audio_track(output, stream) for stream in audio_in}
            writer = _VideoWriter(output, video_out, time_base)
            in_band_ids = (
                hevc.in_band_parameter_set_ids if cut.codec == "hevc" else h264.in_band_parameter_set_ids
            )

            if "head" in pieces:
                for rel in _piece(
                    pieces["head"], time_base, writer, delay, first_pts, rewrite=rewrites.get("head")
                ):
                    counts["head"] += 1
                    if rel >= head_end - first_pts:
                        raise ValueError("the head runs into the copied middle")
            copied = _CopiedFrames(cut.codec, bytes(video_in.codec_context.extradata))
            source.seek(head_end, stream=video_in, backward=True, any_frame=False)
            for packet in source.demux(video_in):
                if packet.pts is None or not packet.size:
                    continue
                if middle_end is not None and packet.is_keyframe and packet.pts >= middle_end:
                    break
                if packet.pts < head_end:
                    # before the first copied keyframe, or an open-GOP one's leading pictures: the
                    # head has them
                    if counts["middle"] and not copied.open_gop:
                        raise ValueError("a copied frame is shown before the first copied keyframe")
                    continue
                if cut.tail_start is not None and packet.pts >= cut.tail_start:
                    raise ValueError("a copied frame is shown where the tail is")
                if packet.is_keyframe and in_band_ids(bytes(packet)) & pieces_ids:
                    raise ValueError("a copied keyframe brings parameter sets under a piece's id")
                packet = copied.next(packet) if counts["middle"] else copied.first(packet)
                writer.write(packet, packet.pts - first_pts, packet.dts - first_pts - earlier)
                counts["middle"] += 1
            if "tail" in pieces:
                offset = cut.tail_start - first_pts
                tail_delay = delay - leading
                tail = _piece(
                    pieces["tail"],
                    time_base,
                    writer,
                    tail_delay,
                    cut.tail_start,
                    offset,
                    rewrite=rewrites.get("tail"),
                )
                counts["tail"] += sum(1 for _ in tail)
            if audio_in:
                for packet in pieces["audio"].demux(*audio_in):
                    if packet.size:
                        packet.stream = audio_out[packet.stream.index]
                        output.mux(packet)
                        counts["audio"] += 1
        finally:
            for piece in pieces.values():
                piece.close()
    return counts


def _track_record(cut: CutPlan, video_in, pieces: dict) -> tuple[bytes, dict[str, Callable[[bytes], bytes]]]:
    """The track's `avcC` or `hvcC`, listing the source's parameter sets and the pieces', and
    for HEVC how each piece's packets are renumbered to the ids its sets get there."""
    source_record = bytes(video_in.codec_context.extradata)
    named = [(name, cut.ids[number]) for number, name in enumerate(("head", "tail")) if name in pieces]
    if cut.codec != "hevc":
        configs = [h264.AvcConfig.parse(bytes(pieces[name].streams.video[0].codec_context.extradata))
                   for name, _id in named]  # fmt: skip
        return h264.AvcConfig.parse(source_record).merged(*configs).to_bytes(), {}
    added: dict[int, list[bytes]] = {hevc.NAL_VPS: [], hevc.NAL_SPS: [], hevc.NAL_PPS: []}
    rewrites, level = {}, 0
    for name, new_id in named:
        config = hevc.HvcConfig.parse(bytes(pieces[name].streams.video[0].codec_context.extradata))
        (vps,), (sps,), (pps,) = (config.units(kind) for kind in (hevc.NAL_VPS, hevc.NAL_SPS, hevc.NAL_PPS))
        added[hevc.NAL_VPS].append(hevc.renumbered_vps(vps, new_id))
        added[hevc.NAL_SPS].append(hevc.renumbered_sps(sps, new_id, new_id))
        added[hevc.NAL_PPS].append(hevc.renumbered_pps(pps, new_id, new_id))
        rewrites[name] = functools.partial(_renumbered, hevc.parse_sps(sps), hevc.parse_pps(pps), new_id)
        level = max(level, config.level)
    return hevc.HvcConfig.parse(source_record).with_sets(added, level).to_bytes(), rewrites


def _renumbered(sps: hevc.Sps, pps: hevc.Pps, new_id: int, data: bytes) -> bytes:
    """A piece's packet with its slices naming the piece's new PPS id; parameter sets in band
    (the record has them) are left out."""
    units = [
        hevc.renumbered_slice(unit, sps, pps, new_id) if hevc.nal_type(unit) < hevc.NAL_VPS else unit
        for unit in bits.nal_units(data)
        if hevc.nal_type(unit) not in hevc.PARAMETER_SET_TYPES
    ]
    return bits.packet_of(units)


class _CopiedFrames:
    """The source's packets as they go into the result. The first copied keyframe is made a
    point decoding can start from: an HEVC CRA picture becomes a BLA one (ISO/IEC 23008-2's
    splice point: a decoder drops its leading pictures instead of showing them decoded from
    the wrong GOP); an H.264 open-GOP keyframe becomes an IDR frame, and the frames after it
    have their frame numbers and picture order counts moved to match (processor.h264)."""

    def __init__(self, codec: str, record: bytes) -> None:
        self.codec, self.record = codec, record
        self.open_gop = False  # the first copied keyframe was not an IDR frame
        self._sets: h264.ParameterSets | None = None
        self._moved: h264.Renumbering | None = None

    def first(self, packet):
        units = bits.nal_units(bytes(packet))
        if self.codec == "hevc":
            self.open_gop = any(hevc.nal_type(unit) == hevc.NAL_CRA for unit in units)
            retyped = [
                hevc.as_broken_link(unit) if hevc.nal_type(unit) == hevc.NAL_CRA else unit for unit in units
            ]
            return _with_data(packet, bits.packet_of(retyped)) if self.open_gop else packet
        if any(unit[0] & 0x1F == h264.NAL_IDR for unit in units):
            return packet
        self.open_gop = True
        self._sets = h264.ParameterSets.of(h264.AvcConfig.parse(self.record))
        rewritten = []
        for unit in units:
            if unit[0] & 0x1F == h264.NAL_NON_IDR:
                unit, self._moved = h264.as_idr(unit, self._sets)
            else:
                self._sets.learn(unit)  # SPS and PPS sent in band before it
            rewritten.append(unit)
        return _with_data(packet, bits.packet_of(rewritten))

    def next(self, packet):
        if self._moved is None:  # closed GOPs, HEVC, or after an IDR frame that restarted the count
            return packet
        rewritten = []
        for unit in bits.nal_units(bytes(packet)):
            kind = unit[0] & 0x1F
            if kind == h264.NAL_IDR:
                self._moved = None
            elif kind == h264.NAL_NON_IDR and self._moved is not None:
                unit = h264.renumbered(unit, self._sets, self._moved)
            elif kind in (2, 3, 4):
                raise ValueError("data-partitioned slices are not renumbered")
            else:
                self._sets.learn(unit)
            rewritten.append(unit)
        return _with_data(packet, bits.packet_of(rewritten))


def _with_data(packet, data: bytes):
    """A packet like `packet` (timing, keyframe flag) holding `data`."""
    copy = av.Packet(data)
    copy.pts, copy.dts, copy.duration, copy.time_base = (
        packet.pts,
        packet.dts,
        packet.duration,
        packet.time_base,
    )
    copy.is_keyframe = packet.is_keyframe
    return copy


def _audio_track(output, template):
    """An output track for one of the audio piece's, with its language and title."""
    track = output.add_stream_from_template(template)
    for key in ("language", "title", "handler_name"):
        if key in template.metadata:
            track.metadata[key] = template.metadata[key]
    return track


class _VideoWriter:
    """Muxes video packets (timestamps in the source's time base) and refuses any that would
    break decode order."""

    def __init__(self, output, stream, time_base: Fraction) -> None:
        self.output, self.stream, self.time_base, self.last_dts = output, stream, time_base, None

    def write(self, packet, pts: int, dts: int) -> None:
        if dts > pts or (self.last_dts is not None and dts <= self.last_dts):
            raise ValueError(f"decode order breaks at pts {pts} (dts {dts} after {self.last_dts})")
        self.last_dts = dts
        packet.pts, packet.dts, packet.stream = pts, dts, self.stream
        packet.time_base = self.time_base
        self.output.mux(packet)


def _piece(container, time_base: Fraction, writer: _VideoWriter, delay: int, first: int, offset: int = 0,
           rewrite: Callable[[bytes], bytes] | None = None):  # fmt: skip
    """A re-encoded piece's packets (their bytes `rewrite`n), its first frame placed at
    `offset`, with the decode delay given; yields each packet's output pts. The piece keeps the
    source's clock: it must start on `first`, the source frame it was cut from (a decoder
    that dropped frames the piece should hold would otherwise shift it in time)."""
    stream = container.streams.video[0]
    scale = Fraction(stream.time_base) / time_base
    packets = [packet for packet in container.demux(stream) if packet.pts is not None and packet.size]
    start = min(packet.pts for packet in packets)
    if start * scale != first:
        raise ValueError(f"a piece starts at {start * scale}, not on its first frame {first}")
    for packet in packets:
        rel = (packet.pts - start) * scale
        if rel.denominator != 1:
            raise ValueError("a piece's timestamps do not fall on the source's time base")
        pts = offset + int(rel)
        writer.write(_with_data(packet, rewrite(bytes(packet))) if rewrite else packet, pts, pts - delay)
        yield pts


def hidden(request: dict) -> dict:
    """How many video packets at the start the container's edit list hides (a copy cut keeps
    the GOP before its first frame but hides it): a copy merge cannot hide them in the middle
    of its output."""
    with _open(request["source"], request["demuxer"], request["remote"]) as container:
        count = 0
        for number, packet in enumerate(container.demux(container.streams.video[0])):
            if number >= MAX_PLAN_PACKETS:
                break
            if packet.size and packet.is_discard:
                count += 1
            elif packet.size and count == 0 and number > REORDER_MARGIN:
                break  # shown frames well past the start: nothing is hidden
        return {"hidden": count}


COMMANDS = {"plan": plan, "splice": splice, "hidden": hidden}

if __name__ == "__main__":
    sys.exit(child_main(COMMANDS))
