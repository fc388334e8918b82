"""ffmpeg commands for pictures of a video: the poster, the frame at a time, the storyboard sprite.

Same input rules as every other run (`Source.input()`: our bytes only, allowed demuxers), and
run under the same time and memory limits. The poster and the storyboard decode keyframes only
(`-skip_frame nokey`), so they cost little whatever the resolution and length (the poster decodes
more only when those keyframes are all dark).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from fractions import Fraction
from pathlib import Path

from processor.ffmpeg import Source, command_start, seconds_arg
from processor.probe import frame_rate

POSTER_WIDTH = 640
POSTER_SCAN_S = 10  # the poster is the most representative keyframe of the first seconds
POSTER_CANDIDATES = 5
POSTER_SAMPLES_PER_S = 2
# Frames whose mean luma (8-bit, limited range: black is 16) is at most this are not posters.
_BRIGHTER_THAN_BLACK = "metadata=mode=select:key=lavfi.signalstats.YAVG:value=36:function=greater"
MIN_THUMB_WIDTH = 16
MAX_THUMB_WIDTH = 1280
# Full-range 4:2:0, as JPEG is: a limited-range source (tagged `tv`) otherwise stops the encoder.
JPEG = ["-q:v", "3", "-pix_fmt", "yuvj420p", "-f", "image2", "-c:v", "mjpeg"]

TILE_WIDTH, TILE_HEIGHT = 160, 90
COLUMNS = 10
MAX_TILES = 100  # the sprite stays at most 1600x900 whatever the duration


def poster_attempts(ffmpeg: str, source: Source, output: Path) -> list[list[str]]:
    """Commands to run in turn until one writes `output`. ffmpeg's `thumbnail` filter picks, among
    the first seconds' keyframes that are not (near) black, the one closest to their average.
    When every keyframe there is dark (x264's 250-frame GOP puts one keyframe in 10 s, on a
    fade from black), frames between them are decoded (two a second); a video dark throughout
    gets its first keyframe."""
    scan = [*source.input(), "-t", str(POSTER_SCAN_S), "-map", "0:v:0"]
    scale = f"scale='min({POSTER_WIDTH},iw)':-2"
    not_dark = f"format=yuv420p,signalstats,{_BRIGHTER_THAN_BLACK}"
    keyframes = [
        *command_start(ffmpeg), "-skip_frame", "nokey", *scan,
        "-vf", f"{scale},{not_dark},thumbnail=n={POSTER_CANDIDATES}",
    ]  # fmt: skip
    samples = POSTER_SCAN_S * POSTER_SAMPLES_PER_S
    sampled = [
        *command_start(ffmpeg), *scan,
        "-vf", f"fps={POSTER_SAMPLES_PER_S},{scale},{not_dark},thumbnail=n={samples}",
    ]  # fmt: skip
    first = [*command_start(ffmpeg), "-skip_frame", "nokey", *scan, "-vf", scale]
    return [[*command, "-frames:v", "1", *JPEG, str(output)] for command in (keyframes, sampled, first)]


def frame_at(ffmpeg: str, source: Source, seconds: float, width: int, output: Path) -> list[str]:
    """The frame on screen at `seconds`, `width` pixels wide."""
    seek = seek_for_frame(seconds, source.media.frame_rate)
    return [
        *command_start(ffmpeg), "-ss", seconds_arg(seek), *source.input(),
        "-map", "0:v:0", "-vf", f"scale={width}:-2", "-frames:v", "1", *JPEG, str(output),
    ]  # fmt: skip


def seek_for_frame(seconds: float, rate_text: str | None) -> float:
    """ffmpeg's accurate seek gives the first frame at or after the time asked; the frame on
    screen at `seconds` is the last one at or before it. Aim half a frame before its start."""
    rate = frame_rate(rate_text)
    if rate is None:
        return seconds
    number = math.floor(seconds * rate + 1e-6)
    return max(0.0, float((number - Fraction(1, 2)) / rate))


@dataclass(frozen=True)
class Storyboard:
    """Tiles of the sprite: tile `i` shows the video from `i * interval` seconds on."""

    interval: int
    count: int
    columns: int
    rows: int
    tile_width: int = TILE_WIDTH
    tile_height: int = TILE_HEIGHT

    @classmethod
    def for_duration(cls, duration: float) -> Storyboard:
        interval = max(1, math.ceil(duration / MAX_TILES))
        count = max(1, math.ceil(duration / interval))
        columns = min(COLUMNS, count)
        return cls(interval=interval, count=count, columns=columns, rows=math.ceil(count / columns))

    def as_dict(self) -> dict:
        return asdict(self)

    def tile(self, index: int) -> tuple[int, int, int, int]:
        """x, y, width, height of tile `index` in the sprite."""
        row, column = divmod(index, self.columns)
        return column * self.tile_width, row * self.tile_height, self.tile_width, self.tile_height


def storyboard(ffmpeg: str, source: Source, board: Storyboard, output: Path) -> list[str]:
    """One JPEG of `board.count` tiles: a keyframe every `board.interval` seconds, letterboxed."""
    width, height = board.tile_width, board.tile_height
    chain = (
        f"fps=1/{board.interval},scale={width}:{height}:force_original_aspect_ratio=decrease,"
        f"pad={width}:{height}:(ow-iw)/2:(oh-ih)/2,tile={board.columns}x{board.rows}"
    )
    return [
        *command_start(ffmpeg), "-skip_frame", "nokey", *source.input(),
        "-map", "0:v:0", "-vf", chain, "-frames:v", "1", *JPEG, str(output),
    ]  # fmt: skip
