"""Smart cut: a frame-exact trim at nearly stream-copy speed.

Only the frames from the cut's start to the first keyframe inside it (the head) and from the
last keyframe to the cut's end (the tail) are re-encoded; every packet between is copied. Head,
tail and the audio window encode in parallel (three ffmpeg runs); a PyAV child then splices
them with the copied packets (processor.smart_cut_av). Sources that do not qualify (not H.264
or HEVC, not 4:2:0, interlaced, no keyframe inside the window) are
told apart by `plan`, and the trim re-encodes the whole window as before.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import os
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from processor import ffmpeg
from processor.av_child import AvChildFailed, answer_of, start_av_child
from processor.cut_plan import CutPlan
from processor.runner import run_ffmpeg
from video_manager.processes import ForkedTool, WaitingTool

log = logging.getLogger(__name__)
CHILD = "processor.smart_cut_av"
SPLICE_SHARE = 0.1  # of the progress bar: the encodes take the rest
# Head and tail are at most a GOP each and their encode is the whole wait: at the configured CRF,
# ultrafast takes two thirds of superfast's time in x264 and in x265, for more bits in those
# frames (x264's pieces keep its deblocking filter on, which costs next to nothing).
PIECE_PRESET = "ultrafast"


class SpliceError(Exception):
    """The pieces could not be joined; the trim falls back to the full re-encode."""


@dataclass(frozen=True)
class SmartCutter:
    ffmpeg: str
    encoding: ffmpeg.Encoding
    timeout_s: float
    memory_limit_mb: int

    def plan(self, source: ffmpeg.Source, start: float, end: float, ticks: tuple[int, int] | None = None
             ) -> CutPlan | None:  # fmt: skip
        """The exact window and, when `qualified`, where a smart cut copies (the reason when
        not is logged); None when the source cannot be scanned. `ticks` give the window on the
        source's clock instead of the seconds."""
        window = {"start_pts": ticks[0], "end_pts": ticks[1]} if ticks else {}
        answer = self._child("plan", source, {"start": repr(start), "end": repr(end), **window})
        if answer is None:
            return None
        plan = CutPlan.from_json(answer)
        if not plan.qualified:
            log.info("smart cut not possible: %s", plan.reason)
        return plan

    def hides_frames(self, source: ffmpeg.Source) -> bool:
        """Whether the source's edit list hides frames at its start (unknown counts as yes: the
        merge then re-encodes, which is right either way)."""
        answer = self._child("hidden", source, {})
        return answer is None or answer["hidden"] > 0

    def cut(
        self, source: ffmpeg.Source, plan: CutPlan, output: Path,
        staged: Callable[[str], contextlib.AbstractContextManager[Path]], progress: Callable[[float], None],
    ) -> dict:  # fmt: skip
        """Encode the pieces, splice them into `output`; returns the packet counts."""
        time_base = plan.time_base
        head_id, tail_id = plan.ids
        pieces: dict[str, tuple[int, int, int] | None] = {
            "head": (plan.first_pts, plan.head_end, head_id) if plan.first_pts < plan.head_end else None,
            "tail": (plan.tail_start, plan.end_pts, tail_id) if plan.tail_start is not None else None,
        }
        piece_encoding = dataclasses.replace(self.encoding, preset=PIECE_PRESET)
        encoded = [frames for frames in pieces.values() if frames is not None]
        # Two pieces side by side share the cores between them: threads of their own beyond that
        # only wait on each other (0.90 s against 0.98 s for a 10 s 1080p window on 2 cores).
        threads = max(1, (os.cpu_count() or 2) // len(encoded)) if len(encoded) > 1 else 0
        whole = ffmpeg.Window.from_plan(plan)  # the audio's window; the pieces' share its origin
        with contextlib.ExitStack() as stack:
            # The splice's child starts now: it imports PyAV while the pieces encode.
            splicer = stack.enter_context(
                start_av_child(CHILD, "splice", memory_limit_mb=self.memory_limit_mb)
            )
            files: dict[str, Path | None] = {"head": None, "tail": None, "audio": None}
            commands: dict[str, tuple[list[str], float]] = {}
            for name, frames in pieces.items():
                if frames is None:
                    continue
                first, last, parameter_set_id = frames
                window = dataclasses.replace(
                    whole,
                    start=float(first * time_base), end=float(last * time_base),
                    start_pts=first, end_pts=last, decode_from=_decode_from(plan, first),
                )  # fmt: skip
                files[name] = stack.enter_context(staged(".mp4"))
                commands[name] = (
                    ffmpeg.encode_piece(self.ffmpeg, source, window, time_base, files[name], piece_encoding,
                                        plan.profile, parameter_set_id, plan.codec, threads=threads),
                    window.end - window.start,
                )  # fmt: skip
            if plan.has_audio:
                files["audio"] = stack.enter_context(staged(".m4a"))
                commands["audio"] = (ffmpeg.encode_audio(self.ffmpeg, source, whole, files["audio"]),
                                     whole.end - whole.start)  # fmt: skip
            self._encode_all(commands, progress)
            request = {
                "plan": plan.to_json(),
                "output": str(output),
                "pieces": {name: str(path) if path else None for name, path in files.items()},
            }
            counts = self._child("splice", source, request, started=splicer)
            progress(1.0)
            return counts

    def _encode_all(
        self, commands: dict[str, tuple[list[str], float]], progress: Callable[[float], None]
    ) -> None:
        """The pieces encode side by side; the bar shows their mean progress."""
        done = dict.fromkeys(commands, 0.0)
        lock = threading.Lock()

        def report(name: str) -> Callable[[float], None]:
            def update(fraction: float) -> None:
                with lock:
                    done[name] = fraction
                    progress((1 - SPLICE_SHARE) * sum(done.values()) / len(done))

            return update

        with ThreadPoolExecutor(max_workers=max(1, len(commands))) as pool:
            runs = [
                pool.submit(run_ffmpeg, command, expected_duration=duration, timeout_s=self.timeout_s,
                            memory_limit_mb=self.memory_limit_mb, on_progress=report(name))
                for name, (command, duration) in commands.items()
            ]  # fmt: skip
            for run in runs:
                run.result()  # the first failure (an FfmpegError) fails the trim, as any ffmpeg run

    def _child(
        self,
        command: str,
        source: ffmpeg.Source,
        request: dict,
        started: WaitingTool | ForkedTool | None = None,
    ) -> dict | None:
        """Run processor.smart_cut_av under the limits of every media tool (in `started`, when
        it was started before). A plan that fails is None (the trim goes on without one); a
        splice that fails raises SpliceError."""
        payload = {
            **request,
            "source": str(source.path),
            "demuxer": source.media.demuxer,
            "remote": source.remote,
        }
        try:
            with started or start_av_child(CHILD, command, memory_limit_mb=self.memory_limit_mb) as child:
                return answer_of(child, payload, timeout_s=self.timeout_s)
        except AvChildFailed as exc:
            if command == "splice":
                raise SpliceError(exc.reason) from exc
            log.info("no cut plan: %s", exc.reason)
            return None


def _decode_from(plan: CutPlan, first: int) -> float | None:
    """Where a piece of an open-GOP source decodes from when it starts between keyframes.
    ffmpeg's seek finds the last keyframe decoded before its target, and an open-GOP keyframe is
    decoded before the leading pictures it is shown after: a piece that starts on one of those
    must seek to before that keyframe is decoded, to the GOP before (its decode delay before the
    piece's first frame is enough). Other pieces decode from the keyframe at or before their
    first frame."""
    if not plan.open_gop or first == plan.middle_end:
        return None
    return plan.seconds(first - plan.delay) - float(plan.time_base)
