"""What the smart-cut scan (processor.smart_cut_av, a child process) found about a trim's window,
as one typed record that crosses the process boundary as JSON.

Ticks are on the source's own clock (its video time base); `origin` is the file's first
timestamp in seconds. Every precise trim uses the window (`first_pts` to `end_pts`, shown until
`video_end`); the cut points below `qualified` are only set when a smart cut can be made.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from fractions import Fraction


@dataclass(frozen=True)
class CutPlan:
    time_base: Fraction
    origin: Fraction
    first_pts: int  # the first frame the window keeps
    end_pts: int  # frames shown from here on are not kept
    video_end: int  # where the last kept frame stops being shown
    has_audio: bool
    intra_only: bool  # every frame a keyframe (ProRes, Motion JPEG, DNxHD): a pure copy
    keyframe_before: int  # where decoding the window starts
    remuxable: bool  # H.264 in Matroska or MPEG-TS: smart-cut from a remux into MP4
    qualified: bool  # a smart cut can be made from this source as it is
    reason: str = ""  # why not, when not qualified
    head_end: int = 0  # the first copied keyframe: the head is re-encoded up to it
    tail_start: int | None = None  # the re-encoded tail starts here (None: no tail)
    middle_end: int | None = None  # copying stops at this keyframe (None: to the file's end)
    delay: int = 0  # the source's decode delay, given to the pieces
    profile: str = ""  # the piece encoder's name for the source's profile
    ids: tuple[int, int] = (0, 0)  # parameter-set ids for the head and the tail, free in the source
    codec: str = "h264"  # or "hevc": the pieces are encoded with x264 or x265
    open_gop: bool = False  # a keyframe at the window's edges is not an IDR frame

    def seconds(self, ticks: int) -> float:
        return float(ticks * self.time_base)

    def to_json(self) -> dict:
        values = dataclasses.asdict(self)
        values["time_base"] = [self.time_base.numerator, self.time_base.denominator]
        values["origin"] = [self.origin.numerator, self.origin.denominator]
        values["ids"] = list(self.ids)
        return values

    @classmethod
    def from_json(cls, values: dict) -> CutPlan:
        ticks = {"time_base": Fraction(*values["time_base"]), "origin": Fraction(*values["origin"])}
        return cls(**{**values, **ticks, "ids": tuple(values["ids"])})
