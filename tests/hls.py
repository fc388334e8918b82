"""Checking an adaptive ladder as a player and a careful viewer would: the master playlist against
what its renditions measure, every segment decoded on its own, every rung cut on the same source
frames."""

from __future__ import annotations

import itertools
import subprocess
from pathlib import Path

import av
import pytest
import requests

from tests.api import wait_until
from tests.servers import auth
from video_manager import binaries


def source_frames(path: Path) -> tuple[list[float], float]:
    """Presentation times (from the first frame) and the end of the last frame, in seconds."""
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        packets = sorted((p.pts, p.duration) for p in container.demux(stream) if p.pts is not None and p.size)
    base = stream.time_base
    first = packets[0][0]
    times = [float((pts - first) * base) for pts, _ in packets]
    return times, float((packets[-1][0] + packets[-1][1] - first) * base)


def ready_ladder(server, token: str, video_id: str, timeout_s: float = 180) -> list[dict]:
    url = f"{server.url}/api/videos/{video_id}/renditions/"
    listed: list[dict] = []

    def done() -> bool:
        nonlocal listed
        listed = requests.get(url, headers=auth(token), timeout=30).json()["results"]
        assert all(rung["status"] != "failed" for rung in listed), listed
        return bool(listed) and all(rung["status"] == "ready" for rung in listed)

    wait_until(done, timeout_s, "every rung ready", interval_s=0.5)
    return listed


def attributes(line: str) -> dict[str, str]:
    """`KEY=value,KEY="quoted, value"` of a playlist tag."""
    found, rest = {}, line.split(":", 1)[1]
    while rest:
        key, rest = rest.split("=", 1)
        if rest.startswith('"'):
            value, rest = rest[1:].split('"', 1)
            rest = rest.lstrip(",")
        else:
            value, _, rest = rest.partition(",")
        found[key] = value
    return found


def media_playlist(base: str, name: str) -> tuple[list[float], bytes, list[bytes]]:
    """EXTINF durations, the init segment and every segment of one rendition, each segment
    decoded on its own (with the init segment) without an ffmpeg error."""
    text = requests.get(f"{base}/{name}", timeout=30).text
    durations = [float(line[8:].split(",")[0]) for line in text.splitlines() if line.startswith("#EXTINF:")]
    init_name = text.split('#EXT-X-MAP:URI="', 1)[1].split('"', 1)[0]
    init = requests.get(f"{base}/{init_name}", timeout=30).content
    segments = []
    for uri in [line for line in text.splitlines() if line and not line.startswith("#")]:
        body = requests.get(f"{base}/{uri}", timeout=30)
        assert body.status_code == 200, uri
        decoded = subprocess.run(
            [binaries.ffmpeg_path(), "-v", "error", "-i", "pipe:0", "-f", "null", "-"],
            input=init + body.content, capture_output=True, timeout=60,
        )  # fmt: skip
        assert decoded.returncode == 0 and decoded.stderr == b"", (uri, decoded.stderr[-300:])
        segments.append(body.content)
    assert len(segments) == len(durations) > 0
    return durations, init, segments


def rates(durations: list[float], segments: list[bytes]) -> tuple[float, float]:
    peak = max(8 * len(body) / seconds for body, seconds in zip(segments, durations, strict=True))
    return peak, 8 * sum(len(body) for body in segments) / sum(durations)


def check_ladder(base: str, source: Path, display: tuple[int, int], *, audio: bool) -> dict[str, list[float]]:
    """The master playlist against what its renditions measure; every rung's segments decode,
    start on the same source frames, and last as long as the source. EXTINF lists by rung."""
    master = requests.get(f"{base}/hls.m3u8", timeout=30)
    assert master.status_code == 200 and master.headers["Content-Type"] == "application/vnd.apple.mpegurl"
    lines = master.text.splitlines()
    audio_peak = audio_average = 0.0
    media = [attributes(line) for line in lines if line.startswith("#EXT-X-MEDIA:")]
    if audio:
        (track,) = media
        audio_durations, _init, audio_segments = media_playlist(base, track["URI"])
        audio_peak, audio_average = rates(audio_durations, audio_segments)
    else:
        assert media == []
    times, end = source_frames(source)
    frame_s = min(b - a for a, b in itertools.pairwise(times))
    by_rung: dict[str, list[float]] = {}
    variants = [
        (attributes(line), lines[i + 1]) for i, line in enumerate(lines) if line.startswith("#EXT-X-STREAM")
    ]
    assert variants
    for tags, uri in variants:
        width, height = map(int, tags["RESOLUTION"].split("x"))
        assert width <= display[0] and height <= display[1], tags  # never upscaled
        assert (width >= height) == (display[0] >= display[1]), tags  # the source's orientation
        assert tags["CODECS"].startswith("avc1.") and ("mp4a.40.2" in tags["CODECS"]) == audio, tags
        assert float(tags["FRAME-RATE"]) == pytest.approx(len(times) / end, rel=0.05)
        durations, _init, segments = media_playlist(base, uri)
        peak, average = rates(durations, segments)
        assert int(tags["BANDWIDTH"]) == pytest.approx(peak + audio_peak, rel=0.10), tags
        assert int(tags["AVERAGE-BANDWIDTH"]) == pytest.approx(average + audio_average, rel=0.10), tags
        assert sum(durations) == pytest.approx(end, abs=frame_s), uri  # within one frame
        starts = [sum(durations[:i]) for i in range(len(durations))]
        assert all(min(abs(start - t) for t in times) < 0.001 for start in starts), starts  # on frames
        by_rung[uri] = durations
    first = next(iter(by_rung.values()))
    for uri, durations in by_rung.items():
        assert durations == pytest.approx(first, abs=0.001), uri  # every rung switches on the same frames
    iframes = [attributes(line) for line in lines if line.startswith("#EXT-X-I-FRAME-STREAM-INF:")]
    assert len(iframes) == len(variants)
    for tags in iframes:
        text = requests.get(f"{base}/{tags['URI']}", timeout=30).text
        assert "#EXT-X-I-FRAMES-ONLY" in text and text.count("#EXT-X-BYTERANGE:") == len(first)
    return by_rung
