"""The adaptive ladder of a 2-minute 1080p H.264/AAC source (the source copied on top, 720p, 480p
and 360p encoded, AAC audio): one worker against two, each limited to one core
(`ffmpeg.threads = 1`, and each pinned to a core of its own: ffmpeg runs its decoder, filters
and encoder in threads of their own whatever `-threads` says), against one ffmpeg process
making the same rungs in one run (a split filter, one thread per encoder). Wall time, CPU
seconds, and the times until a share plays and until its lowest rung is there."""

from __future__ import annotations

import math
import os
import resource
import shutil
import subprocess
import time
from pathlib import Path

import requests

from bench.harness import WORK_DIR, report, running_stack, settled
from processor import ladder
from tests.api import share, upload, wait_until
from tests.servers import LiveWorker, auth
from video_manager import binaries

SECONDS = int(os.environ.get("BENCH_LADDER_S", "120"))
CHUNK_S = 30
RUNGS = [(1280, 720), (854, 480), (640, 360)]
TICKS = os.sysconf("SC_CLK_TCK")


def source_video() -> Path:
    path = WORK_DIR / f"ladder-{SECONDS}s-1080p.mp4"
    if not path.exists():
        subprocess.run([
            binaries.ffmpeg_path(), "-v", "error", "-y", "-f", "lavfi", "-i",
            "testsrc2=size=1920x1080:rate=30", "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000",
            "-t", str(SECONDS), "-c:v", "libx264",
            "-preset", "veryfast", "-crf", "20", "-g", "60", "-pix_fmt", "yuv420p", "-c:a", "aac", str(path),
        ], check=True)  # fmt: skip
    return path


def cpu_seconds(pid: int) -> float:
    """A worker's CPU time and that of every job it ran (work horses and their ffmpeg, reaped)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return sum(int(value) for value in fields[11:15]) / TICKS


def fleet_ladder(workers: int, video: Path) -> tuple[float, float, float, float]:
    """Seconds until the share plays, until its lowest rung is ready, until every rung is; CPU
    seconds of the workers."""
    overrides = {"ffmpeg_threads": "1", "renditions_chunk_s": str(CHUNK_S)}
    with running_stack(f"ladder-{workers}", with_worker=True, overrides=overrides) as stack:
        fleet = [stack.worker] + [LiveWorker(stack.env).start() for _ in range(workers - 1)]
        for core, worker in enumerate(fleet):  # its work horses and their ffmpeg inherit the core
            os.sched_setaffinity(worker.process.pid, {core % os.cpu_count()})
        try:
            entry = upload(stack.server, stack.token, video)
            link = share(stack.server, stack.token, entry["id"], 3600).json()["url"]
            settled()
            before = sum(cpu_seconds(worker.process.pid) for worker in fleet)
            started = time.perf_counter()
            playable: list[float] = []

            def plays() -> bool:
                if requests.get(f"{link}/hls.m3u8", timeout=60).status_code == 200:
                    playable.append(time.perf_counter() - started)
                return bool(playable)

            wait_until(plays, 3600, "a playable share", 0.2)
            url = f"{stack.server.url}/api/videos/{entry['id']}/renditions/"

            lowest: list[float] = []

            def done() -> bool:
                listed = requests.get(url, headers=auth(stack.token), timeout=60).json()["results"]
                assert all(rung["status"] != "failed" for rung in listed), listed
                if not lowest and listed[-1]["status"] == "ready":
                    lowest.append(time.perf_counter() - started)
                return all(rung["status"] == "ready" for rung in listed)

            wait_until(done, 3600, "every rung", 0.2)
            whole = time.perf_counter() - started
            time.sleep(1)  # the last job's horse reaped
            cpu = sum(cpu_seconds(worker.process.pid) for worker in fleet) - before
            return playable[0], lowest[0], whole, cpu
        finally:
            for worker in fleet[1:]:
                worker.stop()


def one_process_ladder(video: Path) -> tuple[float, float]:
    """(wall seconds, CPU seconds) of ffmpeg making the same rungs and audio in one run."""
    out = WORK_DIR / "ladder-one-process"
    out.mkdir(exist_ok=True)
    splits = "".join(f"[s{i}]" for i in range(len(RUNGS)))
    graph = f"[0:v]split={len(RUNGS)}{splits};" + ";".join(
        f"[s{i}]scale={w}:{h}[v{i}]" for i, (w, h) in enumerate(RUNGS)
    )
    outputs: list[str] = []
    for i, (w, h) in enumerate(RUNGS):
        cap = ladder.bitrate_cap_kbps(w, h, 0)
        outputs += [
            "-map", f"[v{i}]", "-c:v", "libx264", "-preset", "veryfast", "-crf", str(ladder.LADDER_CRF),
            "-maxrate", f"{cap}k", "-bufsize", f"{2 * cap}k", "-threads", "1", "-pix_fmt", "yuv420p",
            "-force_key_frames", "expr:gte(t,n_forced*4)", "-sc_threshold", "0", str(out / f"{h}.mp4"),
        ]  # fmt: skip
    outputs += ["-map", "0:v", "-c", "copy", str(out / "copy.mp4")]
    outputs += ["-map", "0:a", "-c:a", "aac", "-b:a", "128k", "-ac", "2", str(out / "audio.m4a")]
    command = [binaries.ffmpeg_path(), "-v", "error", "-y", "-threads", "1", "-filter_threads", "1",
               "-i", str(video), "-filter_complex", graph, *outputs]  # fmt: skip
    settled()
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    subprocess.run(command, check=True)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    shutil.rmtree(out)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def _fleet_row(measured: tuple[float, float, float, float]) -> str:
    playable, lowest, whole, cpu = measured
    return f"{playable:6.1f} s / {lowest:6.1f} s / {whole:6.1f} s, CPU {cpu:6.1f} s"


def main() -> None:
    video = source_video()
    one = fleet_ladder(1, video)
    two = fleet_ladder(2, video)
    single_wall, single_cpu = one_process_ladder(video)
    chunks = math.ceil(SECONDS / CHUNK_S)
    rows = [
        ("1 worker (1 core): playable / 360p / whole", _fleet_row(one)),
        ("2 workers (1 core each): same", _fleet_row(two)),
        ("  speed-up of 2 workers over 1 (whole ladder)", f"{one[2] / two[2]:7.2f}x (goal >= 1.8x)"),
        ("one ffmpeg, split filter, 1 thread each", f"{single_wall:6.1f} s, CPU {single_cpu:6.1f} s"),
        (
            "  fleet CPU over the one-process ladder",
            f"{100 * (two[3] / single_cpu - 1):+6.1f} % (goal within 10 %)",
        ),
        (
            f"  jobs: {chunks} chunks of {CHUNK_S} s, each 360p and 480p+720p",
            f"{2 * chunks} encodes + audio + copy",
        ),
    ]
    report(f"Adaptive ladder of a {SECONDS} s 1080p source", rows)


if __name__ == "__main__":
    WORK_DIR.mkdir(parents=True, exist_ok=True)
    main()
