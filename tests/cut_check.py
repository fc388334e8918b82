"""Verifying a trim instead of trusting it: every output frame against the source frame it must
be, the output's timestamps, decode errors, and the audio's offset against the video.

- frames: the output holds exactly the source frames with start ≤ pts < end (counted from the
  source's first timestamp, as players count: an MPEG-TS file's clock starts near 1.4 s), in order; a frame
  is `exact` when its pixels equal its source frame's (copied), else it must be closer to its own
  source frame than to either neighbour (re-encoded, but the right frame);
- timestamps: output frame i is shown at (its source pts - the first frame's pts), within a tick;
- decode errors: lines `ffmpeg -v error -i OUTPUT -f null -` prints (run beside the rest);
- A/V offset: the output's audio against the source's audio from the first frame's time, the
  lag that matches them best (the source beeps every second, so only one lag fits).
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from video_manager import binaries

AUDIO_SPAN_S = 2.5  # of audio compared, from the start
MAX_LAG_S = 0.05


@dataclass
class CutReport:
    frames: int = 0  # in the output
    expected: int = 0  # source frames with start ≤ pts < end
    exact: list[int] = field(default_factory=list)  # output indexes equal to their source frame
    wrong: list[int] = field(default_factory=list)  # closer to a neighbour than to their own
    timestamp_errors: int = 0
    rotations: set[int] = field(default_factory=set)  # display rotation of the output's frames
    decode_errors: int = 0
    av_offset_ms: float | None = None  # None: no audio

    @property
    def exact_runs(self) -> list[tuple[int, int]]:
        """Contiguous runs of exact frames, as (first index, last index)."""
        runs: list[tuple[int, int]] = []
        for index in self.exact:
            if runs and runs[-1][1] == index - 1:
                runs[-1] = (runs[-1][0], index)
            else:
                runs.append((index, index))
        return runs


def check_cut(source: Path, output: Path, start: float, end: float) -> CutReport:
    report = CutReport()
    decoding = subprocess.Popen(  # ffmpeg's own decode runs beside the frame comparison
        [binaries.ffmpeg_path(), "-v", "error", "-i", str(output), "-f", "null", "-"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    first_source_pts = _compare_frames(source, output, start, end, report)
    _, errors = decoding.communicate()
    report.decode_errors = len(errors.splitlines()) + (decoding.returncode != 0)
    report.av_offset_ms = _av_offset_ms(source, output, first_source_pts)
    return report


def _frames(path: Path, start: float | None = None, end: float | None = None):
    """(pts in seconds, Y/U/V planes as one array, display rotation) of every decoded frame, in
    display order."""
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        if start is not None:
            container.seek(int(start / stream.time_base), stream=stream, backward=True)
        for frame in container.decode(stream):
            seconds = Fraction(frame.pts) * stream.time_base
            if start is not None and seconds < Fraction(str(start)):
                continue
            if end is not None and seconds >= Fraction(str(end)):
                return
            yield seconds, frame.to_ndarray(), frame.rotation


def _compare_frames(source: Path, output: Path, start: float, end: float, report: CutReport) -> Fraction:
    """Source and output decoded side by side, a frame at a time (a 1080p window of minutes
    never sits in memory)."""
    origin = _origin(source)  # start and end count from the file's start, pts from its clock's zero
    start, end = start + origin, end + origin
    wanted = _with_neighbours(_frames(source, max(0.0, start - 1), end + 1), start, end)
    produced = _frames(output)
    first_pts = None
    for index, (pts, previous, own, following) in enumerate(wanted):
        report.expected += 1
        first_pts = pts if first_pts is None else first_pts
        got = next(produced, None)
        if got is None:
            continue  # the output ran out: counted as missing frames
        out_pts, pixels, rotation = got
        report.frames += 1
        report.rotations.add(rotation)
        if abs(out_pts - (pts - first_pts)) > Fraction(1, 1000):
            report.timestamp_errors += 1
        if np.array_equal(pixels, own):
            report.exact.append(index)
            continue
        distance = _distance(pixels, own)
        neighbours = [_distance(pixels, other) for other in (previous, following) if other is not None]
        if any(other <= distance for other in neighbours):
            report.wrong.append(index)
    report.frames += sum(1 for _ in produced)
    return first_pts if first_pts is not None else Fraction(0)


def _origin(path: Path) -> float:
    """The file's first timestamp in seconds: 0 in most MP4s, about 1.4 in MPEG-TS."""
    with av.open(str(path)) as container:
        return (container.start_time or 0) / av.time_base


def _with_neighbours(frames, start: float, end: float):
    """(pts, previous pixels, own pixels, next pixels) for each frame inside [start, end)."""
    window = [None, None]  # (pts, pixels) of the previous and current frame
    low, high = Fraction(str(start)), Fraction(str(end))
    for pts, pixels, _rotation in frames:
        previous, current = window
        if current is not None and low <= current[0] < high:
            yield current[0], previous[1] if previous else None, current[1], pixels
        window = [current, (pts, pixels)]
    previous, current = window
    if current is not None and low <= current[0] < high:
        yield current[0], previous[1] if previous else None, current[1], None


def _distance(a: np.ndarray, b: np.ndarray) -> float:
    """Mean difference of every other luma pixel in each direction: plenty to tell neighbouring
    frames of a moving test pattern apart."""
    height = a.shape[0] * 2 // 3  # the Y plane of a yuv420p array
    return float(np.mean(np.abs(a[:height:2, ::2].astype(np.int16) - b[:height:2, ::2].astype(np.int16))))


def _audio(path: Path, start: Fraction, seconds: float) -> tuple[np.ndarray, int] | None:
    """Mono samples from `start` (seconds on the file's own timeline) for `seconds`."""
    with av.open(str(path)) as container:
        if not container.streams.audio:
            return None
        stream = container.streams.audio[0]
        rate = stream.codec_context.sample_rate
        if start > 1:
            container.seek(int((start - 1) / stream.time_base), stream=stream, backward=True)
        chunks, first = [], None
        for frame in container.decode(stream):
            if first is None:
                first = Fraction(frame.pts) * stream.time_base
            samples = frame.to_ndarray()
            chunks.append(samples.mean(axis=0) if samples.ndim == 2 else samples)
            if Fraction(frame.pts) * stream.time_base > start + Fraction(seconds) + 1:
                break
        signal = np.concatenate(chunks).astype(np.float64)
        skip = round(float((start - first) * rate))
        if skip < 0:  # the audio starts after `start`: silence until it does
            signal, skip = np.concatenate([np.zeros(-skip), signal]), 0
        return signal[skip : skip + int(seconds * rate)], rate


def _av_offset_ms(source: Path, output: Path, first_pts: Fraction) -> float | None:
    """How late the output's audio is against its video (0 = as in the source), in ms."""
    produced = _audio(output, Fraction(0), AUDIO_SPAN_S)
    if produced is None:
        return None
    samples, rate = produced
    lag_max = int(MAX_LAG_S * rate)
    original, _ = _audio(source, first_pts - Fraction(lag_max, rate), AUDIO_SPAN_S + 2 * MAX_LAG_S)
    best_lag, best_error = 0, float("inf")
    span = len(samples) - 2 * lag_max
    for lag in range(-lag_max, lag_max + 1):
        # `original` starts lag_max samples before the first frame: when the output is `lag`
        # samples late, its sample j holds original[j - lag + lag_max].
        out = samples[lag_max : lag_max + span]
        src = original[lag_max - lag + lag_max : lag_max - lag + lag_max + span]
        if len(src) < span:
            continue
        error = float(np.mean((out - src) ** 2))
        if error < best_error:
            best_lag, best_error = lag, error
    return 1000 * best_lag / rate
