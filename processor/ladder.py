"""The adaptive ladder of a video, planned from its frames: which rungs, where every rung's
segments start, and how the encode is split into chunks that any worker can take.

Pure functions of the source's frame times (processor.ladder_av reads them), so every choice is
testable without a file:

- Rungs never upscale: the ladder's values are the short side (720 is 1280x720 landscape and
  720x1280 portrait), each below the source's short side. A source browsers play as it is (H.264
  8-bit 4:2:0, SDR, no rotation to apply) is its own top rung, stream-copied; otherwise the top
  rung is encoded at the source's size (when that is within the ladder).
- Segments start on the same source frames in every rung: at the first frame at or after each
  multiple of `segment_s` (the rule ffmpeg's HLS muxer splits by); with a copied rung only the
  source's keyframes can start one, so the encoded rungs force their keyframes on those.
- A chunk is a run of whole segments at least `chunk_s` long, so stitching is by segment and
  no frame is encoded twice.
- Bitrate: capped CRF. The cap grows with the picture's area to the power 0.75 (6000 kbit/s at
  1080p, 3300 at 720p, 1800 at 480p, 1150 at 360p) and never exceeds the source's own bitrate.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

SEGMENT_S = 4.0
LADDER_CRF = 23
FULL_HD_PIXELS = 1920 * 1080
FULL_HD_KBPS = 6000
MIN_KBPS = 200
MAX_COPIED_SEGMENT = 3  # a copied rung whose keyframes make segments longer than this x segment_s is left out
COPYABLE_PIXEL_FORMATS = ("yuv420p", "yuvj420p")


@dataclass(frozen=True)
class Frames:
    """The source's video frames in presentation order: seconds from the first, which are key."""

    times: list[float]
    keyframes: list[int]  # indices into times
    end: float  # seconds from the first frame to the end of the last
    rotation: int  # degrees the player turns the picture (0, 90, 180, 270)

    @functools.cached_property
    def frame_s(self) -> float:
        """The shortest frame's duration (tolerances are a fraction of it); computed once, as
        every chunk job of a long video is given it."""
        gaps = [b - a for a, b in zip(self.times, self.times[1:], strict=False) if b > a]
        return min(gaps) if gaps else self.end or 1.0


@dataclass(frozen=True)
class Rung:
    width: int
    height: int
    copy: bool  # the source's own frames
    max_kbps: int  # the encoder's cap (0 for the copied rung)

    @property
    def name(self) -> str:
        return f"{self.height}"


@dataclass(frozen=True)
class Chunk:
    """Frames [first, first + count) of the source; `keyframes_at` are the seconds, from the
    chunk's first frame, where its segments start (the first is 0)."""

    index: int
    first: int
    count: int
    start: float  # seconds from the source's first frame
    span: float  # seconds to the next chunk's first frame (or the end)
    last_at: float  # seconds from the chunk's first frame to its last
    keyframes_at: list[float]


@dataclass(frozen=True)
class Plan:
    rungs: list[Rung]
    boundaries: list[int]  # the frame each segment starts on
    segment_starts: list[float]
    chunks: list[Chunk]


@dataclass(frozen=True)
class SourceTraits:
    width: int
    height: int
    video_codec: str
    pix_fmt: str | None
    hdr: bool
    bitrate_kbps: int  # the whole file's, a ceiling for every rung


def plan_ladder(
    source: SourceTraits, frames: Frames, ladder: list[int], *, segment_s: float = SEGMENT_S, chunk_s: float
) -> Plan:
    copyable = _copyable(source, frames)
    boundaries = segment_boundaries(frames, frames.keyframes if copyable else None, segment_s)
    starts = [frames.times[i] for i in boundaries]
    if copyable and max(_durations(starts, frames.end)) > MAX_COPIED_SEGMENT * segment_s:
        copyable = False
        boundaries = segment_boundaries(frames, None, segment_s)
        starts = [frames.times[i] for i in boundaries]
    return Plan(
        rungs=choose_rungs(source, frames.rotation, ladder, copy_top=copyable),
        boundaries=boundaries,
        segment_starts=starts,
        chunks=split_chunks(frames, boundaries, chunk_s),
    )


def _copyable(source: SourceTraits, frames: Frames) -> bool:
    return (
        source.video_codec == "h264"
        and source.pix_fmt in COPYABLE_PIXEL_FORMATS
        and not source.hdr
        and frames.rotation % 360 == 0
        and bool(frames.keyframes)
        and frames.keyframes[0] == 0
    )


def choose_rungs(source: SourceTraits, rotation: int, ladder: list[int], *, copy_top: bool) -> list[Rung]:
    """Highest first. Display size is what the ladder scales (a phone's portrait video stays
    portrait in every rung)."""
    width, height = (source.height, source.width) if rotation % 180 == 90 else (source.width, source.height)
    short, long = min(width, height), max(width, height)
    sides = sorted({side for side in ladder if side < short}, reverse=True)
    if not copy_top and (not sides or short <= max(ladder)):
        sides.insert(0, short)
    rungs = [Rung(source.width, source.height, True, 0)] if copy_top else []
    for side in sides:
        scaled_long = _even(long * side / short)
        w, h = (scaled_long, _even(side)) if width >= height else (_even(side), scaled_long)
        rungs.append(Rung(w, h, False, bitrate_cap_kbps(w, h, source.bitrate_kbps)))
    return rungs


def bitrate_cap_kbps(width: int, height: int, source_kbps: int) -> int:
    cap = round(FULL_HD_KBPS * (width * height / FULL_HD_PIXELS) ** 0.75)
    return max(MIN_KBPS, min(cap, source_kbps) if source_kbps > 0 else cap)


def segment_boundaries(frames: Frames, candidates: list[int] | None, segment_s: float) -> list[int]:
    """The frame each segment starts on: the first candidate (keyframes, or any frame) at or
    after k x segment_s, k counting the segments so far, as ffmpeg's HLS muxer splits."""
    tolerance = frames.frame_s / 1000
    boundaries = [0]
    for index in candidates if candidates is not None else range(len(frames.times)):
        if index > 0 and frames.times[index] >= len(boundaries) * segment_s - tolerance:
            boundaries.append(index)
    return boundaries


def split_chunks(frames: Frames, boundaries: list[int], chunk_s: float) -> list[Chunk]:
    """Whole segments, grouped greedily until a group is at least `chunk_s` long."""
    edges = [*boundaries, len(frames.times)]
    times = [*frames.times, frames.end]
    chunks: list[Chunk] = []
    group: list[int] = []
    for segment in range(len(boundaries)):
        group.append(segment)
        first, after = edges[group[0]], edges[segment + 1]
        if times[after] - times[first] >= chunk_s or segment == len(boundaries) - 1:
            start = times[first]
            chunks.append(
                Chunk(
                    index=len(chunks),
                    first=first,
                    count=after - first,
                    start=start,
                    span=times[after] - start,
                    last_at=times[after - 1] - start,
                    keyframes_at=[times[edges[s]] - start for s in group],
                )
            )
            group = []
    return chunks


def _durations(starts: list[float], end: float) -> list[float]:
    return [b - a for a, b in zip(starts, [*starts[1:], end], strict=True)]


def segment_durations(plan: Plan, frames_end: float) -> list[float]:
    return _durations(plan.segment_starts, frames_end)


def _even(value: float) -> int:
    return max(2, 2 * math.floor(value / 2 + 0.5))
