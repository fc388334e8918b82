"""The adaptive ladder end to end: a real server, two real RQ workers (one core each), real ffmpeg
on generated 1080p, 720p, portrait HDR and silent sources. One-second segments and two-second
chunks keep the sources short while every video still spans several chunks."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from fractions import Fraction
from pathlib import Path

import av
import pytest
import requests

from tests.api import share, upload
from tests.hls import check_ladder, media_playlist, ready_ladder, source_frames
from tests.media import make_video
from tests.servers import LiveServer, LiveWorker, auth, cli_create_user, process_env
from tests.test_real_media import iphone_like_hevc
from video_manager import binaries

SEGMENT_S = 1
pytestmark = pytest.mark.timeout(300)


@pytest.fixture(scope="module")
def fleet(tmp_path_factory, redis_server):
    """A server and two workers limited to one encoder thread each, as the fleet's hosts."""
    data_dir = tmp_path_factory.mktemp("ladder")
    env = process_env(
        data_dir,
        redis_server.url,
        renditions_segment_s=str(SEGMENT_S),
        renditions_chunk_s="2",
        ffmpeg_threads="1",
    )
    server = LiveServer(env).start()
    workers = [LiveWorker(env).start(), LiveWorker(env).start()]
    try:
        yield server, workers, cli_create_user(env, "viewer")
    finally:
        server.stop()
        for worker in workers:
            worker.stop()


def psnr_by_frame(rendition: Path, source: Path, size: tuple[int, int]) -> list[float]:
    graph = f"[1:v]scale={size[0]}:{size[1]}[ref];[0:v][ref]psnr=stats_file=-"
    completed = subprocess.run(
        [binaries.ffmpeg_path(), "-v", "error", "-i", str(rendition), "-i", str(source), "-lavfi", graph,
         "-f", "null", "-"], capture_output=True, text=True, timeout=120, check=True,
    )  # fmt: skip
    values = [
        line.split("psnr_avg:")[1].split()[0] for line in completed.stdout.splitlines() if "psnr_avg:" in line
    ]
    return [99.0 if value == "inf" else float(value) for value in values]


def kill_a_chunk_encode(video_id: str, timeout_s: float = 60) -> int:
    """SIGKILL the work horse (and its ffmpeg) of the first chunk encode of `video_id` seen running:
    a worker host that vanished mid-chunk. Returns the horse's pid."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                words = (entry / "cmdline").read_bytes().split(b"\0")
                parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, ValueError, IndexError):
                continue
            if b"-frames:v" in words and any(video_id.encode() in word for word in words):
                os.kill(parent, signal.SIGKILL)
                os.kill(int(entry.name), signal.SIGKILL)
                return parent
        time.sleep(0.005)
    raise AssertionError("no chunk encode was seen running")


def test_a_1080p_ladder_is_split_across_two_workers_and_a_killed_chunk_is_redone_alone(fleet, media_dir):
    server, _workers, token = fleet
    clip = make_video(media_dir / "ladder-1080.mp4", seconds=8, size="1920x1080", pattern="testsrc2", gop=30)
    video = upload(server, token, clip)
    link = share(server, token, video["id"], 600).json()["url"]
    first = requests.get(f"{link}/hls.m3u8", timeout=30)  # the first request starts the ladder
    assert first.status_code in (200, 503), first.text
    kill_a_chunk_encode(video["id"])
    rungs = ready_ladder(server, token, video["id"])
    assert [(r["width"], r["height"]) for r in rungs] == [(1920, 1080), (1280, 720), (854, 480), (640, 360)]
    assert rungs[0]["chunks"] == []  # the source itself, stream-copied
    chunks = [chunk for rung in rungs[1:] for chunk in rung["chunks"]]
    assert len(chunks) == 3 * 4  # three encoded rungs of four two-second chunks
    assert len({chunk["worker"] for chunk in chunks}) == 2, chunks  # the fleet shared the work
    redone = [(chunk["index"], chunk["attempts"]) for chunk in chunks if chunk["attempts"] != 1]
    # Only the killed job was redone: one chunk, of the 360 rung alone or of the 480 and 720 together.
    assert len(redone) in (1, 2) and {attempts for _, attempts in redone} == {2}, chunks
    assert len({index for index, _ in redone}) == 1, chunks
    described = requests.get(f"{server.url}/api/videos/{video['id']}/", headers=auth(token)).json()
    listed = [(r["height"], r["status"]) for r in described["renditions"]]
    assert listed == [(1080, "ready"), (720, "ready"), (480, "ready"), (360, "ready")]
    assert all(r["bitrate"] > 0 for r in described["renditions"])

    by_rung = check_ladder(link, clip, (1920, 1080), audio=True)
    assert by_rung["hls-720.m3u8"] == pytest.approx([1.0] * 8, abs=0.001)

    # The stitched MP4 rendition: the source's frames, every one at its time, and the audio.
    mp4 = requests.get(rungs[1]["url"], headers=auth(token), timeout=60)
    assert mp4.status_code == 200 and mp4.headers["Content-Type"] == "video/mp4"
    rendition = media_dir / "ladder-720.mp4"
    rendition.write_bytes(mp4.content)
    assert mp4.content.index(b"moov") < mp4.content.index(b"mdat")  # faststart
    times, end = source_frames(clip)
    made, made_end = source_frames(rendition)
    assert (
        len(made) == len(times)
        and made == pytest.approx(times, abs=0.0005)
        and made_end == pytest.approx(end)
    )
    with av.open(str(rendition)) as container:
        assert container.streams.audio[0].codec_context.name == "aac"
        assert (container.streams.video[0].width, container.streams.video[0].height) == (1280, 720)
    ranged = requests.get(rungs[1]["url"], headers={**auth(token), "Range": "bytes=0-99"}, timeout=30)
    assert ranged.status_code == 206 and len(ranged.content) == 100

    # Seams: the frames either side of each chunk's join are as good as those inside a chunk.
    psnr = psnr_by_frame(rendition, clip, (1280, 720))
    assert len(psnr) == len(times)
    seams = {i for join in (60, 120, 180) for i in (join - 1, join)}
    seam = sum(psnr[i] for i in seams) / len(seams)
    middle = [value for i, value in enumerate(psnr) if i not in seams]
    assert seam >= sum(middle) / len(middle) - 1.0, (seam, psnr)


def test_a_portrait_hdr_phone_video_gets_a_tone_mapped_portrait_ladder(fleet, media_dir):
    """An iPhone-like HEVC HLG clip turned 90° by its display matrix: H.264 8-bit BT.709 rungs
    in portrait, its pictures tone-mapped (not HDR pixels squeezed into 8 bits)."""
    server, _workers, token = fleet
    source = iphone_like_hevc(media_dir / "ladder-iphone.mov")
    video = upload(server, token, source)
    link = share(server, token, video["id"], 600).json()["url"]
    requests.get(f"{link}/hls.m3u8", timeout=30)
    rungs = ready_ladder(server, token, video["id"])
    assert [(r["width"], r["height"]) for r in rungs] == [
        (360, 640)
    ]  # its own size: nothing smaller in the ladder
    by_rung = check_ladder(link, source, (360, 640), audio=True)
    _durations, init, segments = media_playlist(link, next(iter(by_rung)))
    first = media_dir / "ladder-iphone-first.mp4"
    first.write_bytes(init + segments[0])
    with av.open(str(first)) as container:
        context = container.streams.video[0].codec_context
        assert (context.name, context.pix_fmt, context.width, context.height) == ("h264", "yuv420p", 360, 640)
        assert (context.color_trc, context.color_primaries) == (1, 1)  # BT.709, not HLG / BT.2020
        streamed = next(container.decode(video=0)).to_ndarray(format="gray8").mean()
    with av.open(str(source)) as container:
        original = next(container.decode(video=0)).to_ndarray(format="gray8").mean()
    assert abs(streamed - original) > 5  # the curve was applied, not only the tags


def test_a_silent_720p_screen_recording_gets_an_encoded_ladder_without_audio(fleet, media_dir):
    """4:4:4 H.264 (as screen recorders write) is not browser-playable: every rung is encoded,
    its own size on top; no audio group in the master playlist."""
    server, _workers, token = fleet
    clip = make_video(media_dir / "ladder-screen.mp4", seconds=3, size="1280x720", audio=False,
                      pix_fmt="yuv444p", gop=90)  # fmt: skip
    video = upload(server, token, clip)
    link = share(server, token, video["id"], 600).json()["url"]
    requests.get(f"{link}/hls.m3u8", timeout=30)
    rungs = ready_ladder(server, token, video["id"])
    assert [(r["width"], r["height"]) for r in rungs] == [(1280, 720), (854, 480), (640, 360)]
    check_ladder(link, clip, (1280, 720), audio=False)
    saved = media_dir / "ladder-screen-360.mp4"
    saved.write_bytes(requests.get(rungs[-1]["url"], headers=auth(token), timeout=60).content)
    with av.open(str(saved)) as container:
        assert [s.type for s in container.streams] == ["video"]


def test_ladder_routes_refuse_what_they_must(fleet, media_dir):
    server, _workers, token = fleet
    clip = make_video(media_dir / "ladder-small.mp4", seconds=1)
    video = upload(server, token, clip)
    link = share(server, token, video["id"], 600).json()
    stranger = cli_create_user(server.env, "stranger")
    assert (
        requests.get(f"{server.url}/api/videos/{video['id']}/renditions/", headers=auth(stranger)).status_code
        == 404
    )
    assert requests.get(f"{server.url}/api/videos/{video['id']}/renditions/").status_code == 401
    missing = requests.get(f"{server.url}/api/videos/{video['id']}/renditions/999.mp4", headers=auth(token))
    assert missing.status_code == 404 and json.loads(missing.text)["error"] == "not_found"
    ready_ladder(server, token, video["id"])
    for name in (
        "../../etc/passwd",
        "hls-99999.m4s",
        "chunk-240-00000.mp4",
        "audio.m4a",
        "rendition-240.mp4",
    ):
        assert requests.get(f"{link['url']}/{name}", timeout=30).status_code == 404, name
    requests.delete(f"{server.url}/api/shares/{link['id']}/", headers=auth(token))
    assert requests.get(f"{link['url']}/hls.m3u8", timeout=30).status_code == 410
    assert requests.get(f"{link['url']}/hls-240.m3u8", timeout=30).status_code == 410


def test_frame_rate_of_the_plan_is_the_sources(media_dir):
    """The planner's frame times are the source's, read by the limited child."""
    from processor.av_child import run_av_child
    from processor.ladder_jobs import frames_from

    clip = make_video(media_dir / "ladder-rate.mp4", seconds=1, rate="30000/1001")
    answer = run_av_child("processor.ladder_av", "frames", {"source": str(clip), "demuxer": "mov"},
                          timeout_s=60, memory_limit_mb=4096)  # fmt: skip
    frames = frames_from(answer)
    times, end = source_frames(clip)
    assert frames.times == pytest.approx(times) and frames.end == pytest.approx(end)
    assert Fraction(len(times), 1) / Fraction(end).limit_denominator(100000) == pytest.approx(
        30000 / 1001, rel=0.01
    )


def test_a_video_that_starts_after_its_audio_keeps_that_offset_in_every_rendition(fleet, media_dir):
    """Camera and editor files often start the picture a little after the sound: the ladder's
    video must start as late against its audio as the source's does, or it plays out of sync."""
    server, _workers, token = fleet
    late = media_dir / "ladder-late-video.mp4"
    subprocess.run([
        binaries.ffmpeg_path(), "-v", "error", "-y", "-f", "lavfi", "-i", "sine=d=3:sample_rate=48000",
        "-itsoffset", "0.5", "-f", "lavfi", "-i", "testsrc=s=320x240:r=30:d=2.5", "-map", "1:v",
        "-map", "0:a", "-c:v", "libx264", "-preset", "ultrafast", "-g", "30", "-pix_fmt", "yuv444p",
        "-c:a", "aac", str(late),
    ], check=True)  # fmt: skip
    video = upload(server, token, late)
    link = share(server, token, video["id"], 600).json()["url"]
    requests.get(f"{link}/hls.m3u8", timeout=30)
    (rung,) = ready_ladder(server, token, video["id"])
    starts = {}
    for name in ("hls-240", "hls-audio"):
        _durations, init, segments = media_playlist(link, f"{name}.m3u8")
        first = media_dir / f"ladder-late-{name}.mp4"
        first.write_bytes(init + segments[0])
        starts[name] = first_times(first)[0]
    assert starts["hls-240"] - starts["hls-audio"] == pytest.approx(0.5, abs=0.03), starts
    saved = media_dir / "ladder-late-240.mp4"
    saved.write_bytes(requests.get(rung["url"], headers=auth(token), timeout=60).content)
    first_video, first_audio = first_times(saved)
    assert first_video - first_audio == pytest.approx(0.5, abs=0.03)


def first_times(path: Path) -> list[float]:
    """Seconds of each stream's earliest packet, in the file's stream order."""
    with av.open(str(path)) as container:
        found = {}
        for packet in container.demux():
            if packet.pts is not None:
                moment = float(packet.pts * packet.stream.time_base)
                found[packet.stream.index] = min(moment, found.get(packet.stream.index, moment))
    return [found[index] for index in sorted(found)]
