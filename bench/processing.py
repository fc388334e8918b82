"""Trim and merge end to end (request → finished, through server, Redis and worker) against the
same ffmpeg command run directly on the same input, and against moviepy doing the seed's trim."""

from __future__ import annotations

import os
import statistics
import subprocess
import time
from datetime import datetime
from pathlib import Path

import requests

from bench.harness import RUNS, WORK_DIR, median_of, report, running_stack, settled
from processor import containers, ffmpeg
from processor.probe import Prober
from tests.media import make_video
from video_manager import binaries

MINUTES = int(os.environ.get("BENCH_VIDEO_MINUTES", "10"))
PICKUPS = int(os.environ.get("BENCH_PICKUPS", "20"))
FAST_TRIM = (MINUTES * 6.0, MINUTES * 54.0)  # stream copy: the middle 80 % of the file
PRECISE_TRIM = (10.0, 30.0)  # re-encode: 20 s of 720p


def source_for(path: Path) -> ffmpeg.Source:
    return ffmpeg.Source(path=path, media=Prober(binaries.ffprobe_path()).probe(path))


def timed_raw(command: list[str], *, durable: bool) -> float:
    """The bare ffmpeg command into a new file, as our jobs write one; `durable` adds the fsync
    our jobs do before a result counts. The output is removed afterwards."""
    output = Path(command[-1])
    output.unlink(missing_ok=True)
    started = time.perf_counter()
    subprocess.run(command, check=True, capture_output=True)
    if durable:
        with open(output, "rb") as handle:
            os.fsync(handle.fileno())
    elapsed = time.perf_counter() - started
    output.unlink()
    return elapsed


def end_to_end(url: str, headers: dict, path: str, body: dict) -> tuple[float, dict]:
    started = time.perf_counter()
    task = requests.post(url + path, json=body, headers=headers, timeout=30).json()
    while True:
        current = requests.get(task["status_url"], headers=headers, timeout=30).json()
        if current["status"] in ("finished", "failed"):
            assert current["status"] == "finished", current
            return time.perf_counter() - started, current
        time.sleep(0.02)


def moviepy_trim(source: Path, output: Path) -> float | None:
    """The seed's trim: moviepy subclip + write_videofile (re-encodes with its defaults)."""
    try:
        from moviepy import VideoFileClip
    except ImportError:
        return None
    started = time.perf_counter()
    with VideoFileClip(str(source)) as clip:
        cut = clip.subclipped(*PRECISE_TRIM) if hasattr(clip, "subclipped") else clip.subclip(*PRECISE_TRIM)
        cut.write_videofile(str(output), logger=None)
    return time.perf_counter() - started


def main() -> None:
    media = WORK_DIR / "media"
    media.mkdir(parents=True, exist_ok=True)
    ff = binaries.ffmpeg_path()
    minute = make_video(media / "minute.mp4", seconds=60, size="1280x720", pattern="testsrc2", gop=60)
    clip = media / "bench.mp4"
    (media / "minutes.txt").write_text(f"file '{minute}'\n" * MINUTES)
    subprocess.run([ff, "-v", "error", "-y", "-f", "concat", "-safe", "0", "-i", str(media / "minutes.txt"),
                    "-c", "copy", str(clip)], check=True)  # fmt: skip
    short = make_video(media / "short.mp4", seconds=2)
    rows = []
    with running_stack("processing", with_worker=True) as stack:
        headers = {"Authorization": f"Token {stack.token}"}
        url = stack.server.url

        def upload(path: Path) -> dict:
            with open(path, "rb") as handle:
                return requests.post(
                    f"{url}/api/videos/upload/", headers=headers, files={"file": handle}
                ).json()

        video = upload(clip)
        source = source_for(clip)
        trim_path = f"/api/videos/{video['id']}/trim/"
        out = WORK_DIR / "raw-out.mp4"

        def ours(path: str, body: dict) -> float:
            """End to end; the result is deleted afterwards, as the raw runs delete theirs."""
            elapsed, task = end_to_end(url, headers, path, body)
            requests.delete(f"{url}/api/videos/{task['result']['video_id']}/", headers=headers, timeout=30)
            return elapsed

        fast = {"start_time": FAST_TRIM[0], "end_time": FAST_TRIM[1], "mode": "fast"}
        fast_command = ffmpeg.trim_fast(ff, source, *FAST_TRIM, out)
        raw_fast = median_of(RUNS, lambda: timed_raw(fast_command, durable=False))
        raw_fast_durable = median_of(RUNS, lambda: timed_raw(fast_command, durable=True))
        ours_fast = median_of(RUNS, lambda: ours(trim_path, fast))
        precise = {"start_time": PRECISE_TRIM[0], "end_time": PRECISE_TRIM[1]}
        precise_command = ffmpeg.trim_precise(
            ff, source, ffmpeg.Window(*PRECISE_TRIM), out, ffmpeg.Encoding()
        )
        raw_precise = median_of(RUNS, lambda: timed_raw(precise_command, durable=True))
        ours_precise = median_of(RUNS, lambda: ours(trim_path, precise))
        ours_fast_window = median_of(RUNS, lambda: ours(trim_path, {**precise, "mode": "fast"}))
        list_file = WORK_DIR / "list.txt"
        list_file.write_text(ffmpeg.concat_list([source, source, source]))
        merge_command = ffmpeg.merge_copy(ff, list_file, out, containers.MP4)
        raw_merge = median_of(RUNS, lambda: timed_raw(merge_command, durable=False))
        raw_merge_durable = median_of(RUNS, lambda: timed_raw(merge_command, durable=True))
        ours_merge = median_of(RUNS, lambda: ours("/api/videos/merge/", {"video_ids": [video["id"]] * 3}))
        settled()
        moviepy_s = moviepy_trim(clip, WORK_DIR / "moviepy-out.mp4")

        small = upload(short)
        pickups = []
        for _ in range(PICKUPS):
            # The worker makes each result's poster (about 0.15 s) right after the trim: a trim
            # sent at once would wait for it, and this measures the pickup of an idle worker.
            time.sleep(0.5)
            _, task = end_to_end(
                url,
                headers,
                f"/api/videos/{small['id']}/trim/",
                {"start_time": 0, "end_time": 1, "mode": "fast"},
            )
            created = datetime.fromisoformat(task["created_at"])
            pickups.append((datetime.fromisoformat(task["started_at"]) - created).total_seconds() * 1000)
        out.unlink(missing_ok=True)

    rows += [
        ("fast trim: raw ffmpeg stream copy", f"{raw_fast:7.3f} s"),
        ("fast trim: raw ffmpeg + fsync", f"{raw_fast_durable:7.3f} s"),
        ("fast trim: ours end to end", f"{ours_fast:7.3f} s   {ours_fast / raw_fast:5.2f}x raw, "
                                       f"{ours_fast / raw_fast_durable:5.2f}x raw+fsync"),
        ("precise trim: raw ffmpeg x264 re-encode + fsync", f"{raw_precise:7.3f} s"),
        ("precise trim: ours (smart cut) end to end",
         f"{ours_precise:7.3f} s   {ours_precise / raw_precise:5.2f}x"),
        ("merge 3 (copy): raw ffmpeg", f"{raw_merge:7.3f} s"),
        ("merge 3 (copy): raw ffmpeg + fsync", f"{raw_merge_durable:7.3f} s"),
        ("merge 3 (copy): ours end to end", f"{ours_merge:7.3f} s   {ours_merge / raw_merge:5.2f}x raw, "
                                            f"{ours_merge / raw_merge_durable:5.2f}x raw+fsync"),
    ]  # fmt: skip
    if moviepy_s is not None:
        rows += [
            ("seed's moviepy trim, 20 s window", f"{moviepy_s:7.3f} s"),
            (
                "ours fast, same window",
                f"{ours_fast_window:7.3f} s   {moviepy_s / ours_fast_window:5.1f}x faster",
            ),
            (
                "ours precise (smart cut), same window",
                f"{ours_precise:7.3f} s   {moviepy_s / ours_precise:5.1f}x faster",
            ),
        ]
    else:
        rows.append(("seed's moviepy trim", "skipped: moviepy not installed (pip install '.[bench]')"))
    rows.append(
        (
            "job pickup, worker idle (queued → started)",
            f"p50 {statistics.median(pickups):6.1f} ms, max {max(pickups):6.1f} ms",
        )
    )
    report(
        f"median of {RUNS}; a {MINUTES} min 1280x720 H.264/AAC video: "
        f"fast trim {FAST_TRIM[0]:g}-{FAST_TRIM[1]:g} s, "
        f"precise trim {PRECISE_TRIM[0]:g}-{PRECISE_TRIM[1]:g} s, merge of 3 copies",
        rows,
    )


if __name__ == "__main__":
    main()
