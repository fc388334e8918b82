"""What seeing a video costs, on a 1 GiB 1080p H.264/AAC upload: the poster against the upload
itself, and downloading the whole share (the adaptive ladder's costs are bench/ladder.py's)."""

from __future__ import annotations

import time
from pathlib import Path

import requests

from bench.harness import RUNS, WORK_DIR, GiB, MiB, long_video, median_of, report, running_stack, settled
from processor import stills
from processor.ffmpeg import Source
from processor.probe import MediaInfo
from processor.runner import run_ffmpeg
from tests.api import share, wait_until
from tests.tus import new_upload, patch
from video_manager import binaries

BODY_BLOCK = 256 * MiB


def tus_upload(stack, video: Path) -> tuple[str, float]:
    """The video through tus in 256 MiB PATCHes; (its id, seconds until the last PATCH answered)."""
    started = time.perf_counter()
    url = new_upload(stack.server.url, stack.token, video.stat().st_size, name=video.name)
    with open(video, "rb") as handle:
        offset = 0
        while block := handle.read(BODY_BLOCK):
            assert patch(url, stack.token, offset, block).status_code == 204
            offset += len(block)
    return url.rsplit("/", 1)[1], time.perf_counter() - started


def poster_seconds(video: Path) -> float:
    """The worker's poster command alone, on the stored file."""
    media = MediaInfo(duration=0.0, width=1920, height=1080, video_codec="h264", audio_codec="aac",
                      pix_fmt="yuv420p", frame_rate="30/1", sample_rate=48000, audio_channels=1,
                      format_name="mov,mp4,m4a,3gp,3g2,mj2", content_type="video/mp4")  # fmt: skip
    source = Source(path=video, media=media)
    output = WORK_DIR / "poster.jpg"
    started = time.perf_counter()
    run_ffmpeg(stills.poster(binaries.ffmpeg_path(), source, output), expected_duration=0, timeout_s=120,
               memory_limit_mb=4096)  # fmt: skip
    return time.perf_counter() - started


def share_download(stack, video_id: str, source_size: int) -> float:
    """Seconds to download a new share whole (median of RUNS)."""
    link = share(stack.server, stack.token, video_id, 3600).json()["url"]
    settled()

    def download() -> float:
        began = time.perf_counter()
        with requests.get(link, stream=True, timeout=60) as response:
            received = sum(len(block) for block in response.iter_content(MiB))
        assert received == source_size
        return time.perf_counter() - began

    return median_of(RUNS, download)


def main() -> None:
    video = long_video()
    size = video.stat().st_size
    with running_stack("viewing", with_worker=True) as stack:
        video_id, upload_s = tus_upload(stack, video)
        stored = stack.data_dir / "videos" / video_id.replace("-", "")[:2] / video_id
        poster_path = stack.data_dir / "media" / video_id.replace("-", "")[:2] / video_id / "poster.jpg"
        wait_until(poster_path.is_file, 120, "the poster from the worker", 0.05)
        poster_s = median_of(RUNS, lambda: poster_seconds(stored))
        download_s = share_download(stack, video_id, size)
    rows = [
        (f"tus upload of {size / GiB:.2f} GiB 1080p (the upload itself)", f"{upload_s:8.2f} s"),
        (
            "poster (ffmpeg, keyframes of the first 10 s)",
            f"{poster_s:8.3f} s = {100 * poster_s / upload_s:.1f} %",
        ),
        ("share: whole MP4 download (loopback)", f"{download_s:8.2f} s"),
    ]
    report(f"Viewing a {size / GiB:.2f} GiB upload (median of {RUNS})", rows)


if __name__ == "__main__":
    WORK_DIR.mkdir(parents=True, exist_ok=True)
    main()
