"""HEVC precise trims, side by side in one run: our smart cut end to end (server and worker)
against raw x265 re-encoding the same window (ultrafast, the fastest x265 there is, and our
full re-encode's own settings), on a 720p 8-bit source in x265's default open GOPs and an
iPhone-like 720p 10-bit HLG one, 10 s, 17 s and 50 s windows."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

from bench.harness import RUNS, WORK_DIR, median_of, report
from bench.smart_cut import trims
from video_manager import binaries

WINDOWS = {"10 s": (12.34, 22.34), "17 s": (12.34, 29.34), "50 s": (5.5, 55.5)}
HLG = "setparams=color_primaries=bt2020:color_trc=arib-std-b67:colorspace=bt2020nc:range=tv"


def hevc_source(path: Path, *, ten_bit: bool) -> Path:
    """60 s of 720p30 HEVC with a keyframe every 2 s (x265's open GOPs) and AAC; the 10-bit one
    tagged HLG in MOV, as an iPhone records."""
    if not path.exists():
        picture = ["-vf", HLG, "-pix_fmt", "yuv420p10le", "-tag:v", "hvc1"] if ten_bit else []
        subprocess.run([
            binaries.ffmpeg_path(), "-v", "error", "-y", "-f", "lavfi",
            "-i", "testsrc2=size=1280x720:rate=30",
            "-f", "lavfi", "-i", "sine=frequency=1000:sample_rate=48000:beep_factor=4", "-t", "60",
            "-c:v", "libx265", "-preset", "veryfast", "-g", "60", "-x265-params", "log-level=error",
            *picture, "-c:a", "aac", str(path),
        ], check=True)  # fmt: skip
    return path


def raw_x265(source: Path, window: tuple[float, float], preset: str) -> float:
    """ffmpeg alone: seek, re-encode the window with x265 at `preset`, audio to AAC."""
    start, end = window
    started = time.perf_counter()
    subprocess.run([
        binaries.ffmpeg_path(), "-v", "error", "-y", "-ss", f"{start}", "-i", str(source),
        "-t", f"{end - start}",
        "-c:v", "libx265", "-preset", preset, "-x265-params", "log-level=error", "-c:a", "aac",
        str(WORK_DIR / "raw-x265.mp4"),
    ], check=True)  # fmt: skip
    return time.perf_counter() - started


def main() -> None:
    media = WORK_DIR / "media"
    media.mkdir(parents=True, exist_ok=True)
    sources = {
        "720p HEVC 8-bit open GOP": hevc_source(media / "hevc-8bit.mp4", ten_bit=False),
        "720p HEVC 10-bit HLG": hevc_source(media / "hevc-hlg.mov", ten_bit=True),
    }
    smart = trims(sources, {}, "smart", WINDOWS)
    rows = []
    for name, path in sources.items():
        for label, window in WINDOWS.items():
            ultrafast = median_of(RUNS, lambda path=path, window=window: raw_x265(path, window, "ultrafast"))
            ours = smart[name, label]
            line = f"smart {ours:6.2f} s, raw x265 ultrafast {ultrafast:6.2f} s ({ultrafast / ours:5.1f}x)"
            rows.append((f"{name}, {label} window", line))
    report(f"HEVC precise trim: smart cut vs raw x265 re-encode (median of {RUNS})", rows)


if __name__ == "__main__":
    main()
