"""Precise trims, side by side in one run: our smart cut, our full re-encode (the same server with
`jobs.smart_cut = false`) and the seed's moviepy, on a 50 s and a 10 s window of a 1080p GOP-120
and a 720p GOP-60 source (H.264 High with B-frames, AAC), end to end through server and worker."""

from __future__ import annotations

import time
from pathlib import Path

import requests

from bench.harness import RUNS, WORK_DIR, median_of, report, running_stack
from bench.processing import end_to_end
from tests.media import make_video

SOURCES = {"1080p GOP-120": ("1920x1080", 120), "720p GOP-60": ("1280x720", 60)}
WINDOWS = {"50 s": (5.5, 55.5), "10 s": (12.34, 22.56)}
VERYFAST = ("-preset", "veryfast")


def moviepy_trim(source: Path, window: tuple[float, float]) -> float | None:
    """The seed's trim: moviepy subclip + write_videofile (re-encodes with its defaults)."""
    try:
        from moviepy import VideoFileClip
    except ImportError:
        return None
    started = time.perf_counter()
    with VideoFileClip(str(source)) as clip:
        clip.subclipped(*window).write_videofile(str(WORK_DIR / "moviepy-out.mp4"), logger=None)
    return time.perf_counter() - started


def trims(
    sources: dict[str, Path], overrides: dict[str, str], method: str,
    windows: dict[str, tuple[float, float]] = WINDOWS,
) -> dict[tuple[str, str], float]:  # fmt: skip
    """Median seconds of each (source, window) precise trim, request to finished."""
    timings = {}
    with running_stack(f"cut-{method}", with_worker=True, overrides=overrides) as stack:
        headers = {"Authorization": f"Token {stack.token}"}
        url = stack.server.url

        def run(video_id: str, body: dict) -> float:
            elapsed, task = end_to_end(url, headers, f"/api/videos/{video_id}/trim/", body)
            assert task["result"]["method"] == method, task
            requests.delete(f"{url}/api/videos/{task['result']['video_id']}/", headers=headers, timeout=30)
            return elapsed

        for name, path in sources.items():
            with open(path, "rb") as handle:
                uploaded = requests.post(f"{url}/api/videos/upload/", headers=headers, files={"file": handle})
            video_id = uploaded.json()["id"]
            for label, (start, end) in windows.items():
                body = {"start_time": start, "end_time": end}
                timings[name, label] = median_of(
                    RUNS, lambda video_id=video_id, body=body: run(video_id, body)
                )
    return timings


def main() -> None:
    media = WORK_DIR / "media"
    media.mkdir(parents=True, exist_ok=True)
    sources = {
        name: make_video(media / f"smart-{gop}.mp4", seconds=60, size=size, pattern="testsrc2", gop=gop,
                         beep=True, encoder_args=VERYFAST)
        for name, (size, gop) in SOURCES.items()
    }  # fmt: skip
    smart = trims(sources, {}, "smart")
    full = trims(sources, {"jobs_smart_cut": "false"}, "reencode")
    rows = []
    for name, path in sources.items():
        for label, window in WINDOWS.items():
            key = (name, label)
            moviepy_s = moviepy_trim(path, window) if label == "50 s" else None
            speedup = full[key] / smart[key]
            line = f"smart {smart[key]:6.2f} s, full re-encode {full[key]:6.2f} s ({speedup:5.1f}x)"
            if moviepy_s is not None:
                line += f", moviepy {moviepy_s:6.2f} s ({moviepy_s / smart[key]:5.1f}x)"
            rows.append((f"{name}, {label} window", line))
    report(f"precise trim: smart cut vs full re-encode vs moviepy (median of {RUNS}; moviepy once)", rows)


if __name__ == "__main__":
    main()
