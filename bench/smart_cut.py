"""Precise trims, side by side in one run: our smart cut, our full re-encode (a second server with
`jobs.smart_cut = false`), the same full re-encode as a bare ffmpeg command (fsynced, as our jobs
do) and the seed's moviepy (50 s windows), alternating round by round, on a
50 s and a 10 s window of a 1080p GOP-120 and a 720p GOP-60 source (H.264 High with B-frames,
AAC), end to end through server and worker."""

from __future__ import annotations

import functools
import importlib.util
import time
from pathlib import Path

import requests

from bench.harness import RUNS, WORK_DIR, Stack, alternating, report, running_stack
from bench.processing import end_to_end, source_for, timed_raw
from processor import ffmpeg
from tests.media import make_video
from video_manager import binaries

SOURCES = {"1080p GOP-120": ("1920x1080", 120), "720p GOP-60": ("1280x720", 60)}
WINDOWS = {"50 s": (5.5, 55.5), "10 s": (12.34, 22.56)}
VERYFAST = ("-preset", "veryfast")
SMART, FULL, RAW, MOVIEPY = "smart cut", "full re-encode", "raw ffmpeg full re-encode", "moviepy"


def moviepy_available() -> bool:
    return importlib.util.find_spec("moviepy") is not None


def moviepy_trim(source: Path, window: tuple[float, float]) -> float:
    """The seed's trim: moviepy subclip + write_videofile (re-encodes with its defaults)."""
    from moviepy import VideoFileClip

    started = time.perf_counter()
    with VideoFileClip(str(source)) as clip:
        clip.subclipped(*window).write_videofile(str(WORK_DIR / "moviepy-out.mp4"), logger=None)
    return time.perf_counter() - started


def uploaded(stack: Stack, path: Path) -> str:
    headers = {"Authorization": f"Token {stack.token}"}
    with open(path, "rb") as handle:
        answer = requests.post(
            f"{stack.server.url}/api/videos/upload/", headers=headers, files={"file": handle}
        )
    return answer.json()["id"]


def trimmed(stack: Stack, video_id: str, window: tuple[float, float], method: str) -> float:
    """Seconds of one precise trim, request to finished; the result is deleted."""
    headers = {"Authorization": f"Token {stack.token}"}
    url = stack.server.url
    body = {"start_time": window[0], "end_time": window[1]}
    elapsed, task = end_to_end(url, headers, f"/api/videos/{video_id}/trim/", body)
    assert task["result"]["method"] == method, task
    requests.delete(f"{url}/api/videos/{task['result']['video_id']}/", headers=headers, timeout=30)
    return elapsed


def main() -> None:
    media = WORK_DIR / "media"
    media.mkdir(parents=True, exist_ok=True)
    sources = {
        name: make_video(media / f"smart-{gop}.mp4", seconds=60, size=size, pattern="testsrc2", gop=gop,
                         beep=True, encoder_args=VERYFAST)
        for name, (size, gop) in SOURCES.items()
    }  # fmt: skip
    rows = []
    with (
        running_stack("cut-smart", with_worker=True) as smart,
        running_stack("cut-full", with_worker=True, overrides={"jobs_smart_cut": "false"}) as full,
    ):
        for name, path in sources.items():
            ids = {SMART: uploaded(smart, path), FULL: uploaded(full, path)}
            for label, window in WINDOWS.items():
                raw_command = ffmpeg.trim_precise(
                    binaries.ffmpeg_path(), source_for(path), ffmpeg.Window(*window), media / "raw.mp4",
                    ffmpeg.Encoding(),
                )  # fmt: skip
                measures = {
                    SMART: functools.partial(trimmed, smart, ids[SMART], window, "smart"),
                    FULL: functools.partial(trimmed, full, ids[FULL], window, "reencode"),
                    RAW: functools.partial(timed_raw, raw_command, durable=True),
                }
                if label == "50 s" and moviepy_available():
                    measures[MOVIEPY] = functools.partial(moviepy_trim, path, window)
                spreads = alternating(RUNS, measures)
                rows += [
                    (f"{name}, {label}: {method}", spread.seconds()) for method, spread in spreads.items()
                ]
                rows += [
                    (f"{name}, {label}: smart cut vs {method}", spreads[SMART].times_faster_than(spread))
                    for method, spread in spreads.items()
                    if method != SMART
                ]
    report(
        f"precise trim, request to finished: smart cut vs full re-encode vs moviepy ({RUNS} alternating "
        "rounds: median (fastest-slowest), ratios round by round)",
        rows,
    )


if __name__ == "__main__":
    main()
