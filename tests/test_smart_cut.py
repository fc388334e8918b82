"""Smart cut end to end: real worker, real ffmpeg, generated sources of every kind the issue
names, each output checked frame by frame against its source (tests/cut_check.py), and played
to the end by headless Chromium."""

from __future__ import annotations

import subprocess
from concurrent.futures import ThreadPoolExecutor
from fractions import Fraction
from pathlib import Path

import av
import pytest
import requests

from processor.probe import Prober
from tests.api import share, stored, trim, upload, wait_task
from tests.browser import CHROMIUM, CHROMIUM_FLAGS, needs_chromium
from tests.cut_check import check_cut
from tests.media import made_once, make_video
from tests.servers import auth
from video_manager import binaries

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

SUPERFAST = ("-preset", "superfast")  # with B-frames, unlike ultrafast
SOURCES = {
    "720p-gop250": {"size": "1280x720", "gop": 250},
    "720p-gop60": {"size": "1280x720", "gop": 60},
    "1080p-bpyramid": {
        "size": "1920x1080", "gop": 120,
        "encoder_args": ("-preset", "superfast", "-profile:v", "high", "-bf", "3", "-refs", "5",
                         "-x264-params", "b-pyramid=normal"),
    },
    "2997-baseline-44k": {
        "size": "640x360", "rate": "30000/1001", "gop": 60, "audio_rate": 44100,
        "encoder_args": ("-preset", "ultrafast", "-profile:v", "baseline"),
    },
    "no-audio": {"size": "640x360", "gop": 60, "audio": False, "encoder_args": SUPERFAST},
    "hevc": {"size": "320x240", "gop": 60, "video_codec": "libx265", "seconds": 24},  # open GOPs (CRA)
    "h264-open-gop": {  # keyframes that are not IDR frames, B-pyramid with memory management ops
        "size": "320x240", "gop": 60, "seconds": 24,
        "encoder_args": ("-preset", "superfast", "-bf", "3", "-x264-params", "open-gop=1"),
    },
    "hevc-main10-closed": {
        "size": "320x240", "gop": 60, "video_codec": "libx265", "pix_fmt": "yuv420p10le", "seconds": 24,
        "x265_params": "log-level=error:open-gop=0",
    },
    "rotated-phone": {"size": "640x360", "gop": 60, "seconds": 24},  # made portrait below
    # a camera that changed settings after 6 s: its next SPS/PPS (in band, before each keyframe)
    # use id 2, which the track's avcC, written for the first 6 s, does not list; made below
    "sps-id-change": {"size": "640x360", "gop": 30, "seconds": 6},
}  # fmt: skip
SHORT, LONG = (12.34, 22.56), (5.5, 33.5)
CASES = [
    ("720p-gop250", SHORT, "reencode"),  # keyframes at 16.67 only: head and tail would be all of it
    ("720p-gop250", LONG, "smart"),
    ("720p-gop250", (17.0, 24.0), "reencode"),  # inside a single GOP
    ("720p-gop60", SHORT, "smart"),
    ("720p-gop60", LONG, "smart"),
    ("1080p-bpyramid", SHORT, "smart"),
    ("1080p-bpyramid", LONG, "smart"),
    ("2997-baseline-44k", SHORT, "smart"),
    ("2997-baseline-44k", LONG, "smart"),
    ("no-audio", SHORT, "smart"),
    ("no-audio", LONG, "smart"),
    ("hevc", SHORT, "smart"),  # the tail starts with the last keyframe's leading pictures
    ("hevc", (3.9, 23.9), "smart"),  # and the head with the first one's
    ("hevc-main10-closed", SHORT, "smart"),
    ("h264-open-gop", SHORT, "smart"),  # more leading frames at the tail than the source's delay
    ("rotated-phone", SHORT, "smart"),
    ("sps-id-change", (3.5, 9.5), "smart"),
]


@pytest.fixture(scope="module")
def sources(shared_media_dir) -> dict[str, Path]:
    """Every source, 36 s of testsrc2 with a beep each second, made two at a time, once for all
    the test processes of the run (they take a minute to make)."""
    media_dir = shared_media_dir / "smart-cut"

    def make(item: tuple[str, dict]) -> tuple[str, Path]:
        name, spec = item
        spec = {"seconds": 36, **spec}
        audio = spec.get("audio", True)
        made = make_video(media_dir / f"cut-{name}.mp4", pattern="testsrc2", beep=audio, **spec)
        if name == "rotated-phone":  # as phones store portrait video (landscape pixels, turned
            # 90°), with a second audio track as a phone's or OBS's commentary: tags on both
            turned = media_dir / f"cut-{name}-turned.mp4"
            remux = [
                "-v", "error", "-y", "-display_rotation", "90", "-i", str(made),
                "-f", "lavfi", "-i", "sine=frequency=220:sample_rate=48000", "-map", "0", "-map", "1:a",
                "-c:v", "copy", "-c:a:0", "copy", "-c:a:1", "aac", "-shortest",
                "-metadata:s:a:0", "language=eng", "-metadata:s:a:1", "language=fra", str(turned),
            ]  # fmt: skip
            subprocess.run([binaries.ffmpeg_path(), *remux], check=True)
            made = turned
        if name == "sps-id-change":
            made = settings_changed_at_6_s(made, media_dir / "cut-sps-id-change-joined.mp4", spec)
        return name, made

    with made_once(media_dir) as to_make:
        if not to_make:
            return {name: media_dir / made_name(name) for name in SOURCES}
        with ThreadPoolExecutor(2) as pool:
            made = dict(pool.map(make, SOURCES.items()))
    assert all(path == media_dir / made_name(name) for name, path in made.items())
    return made


def made_name(name: str) -> str:
    """The file a source ends up in (the turned and the joined ones are remade from the first)."""
    return {"rotated-phone": f"cut-{name}-turned.mp4", "sps-id-change": f"cut-{name}-joined.mp4"}.get(
        name, f"cut-{name}.mp4"
    )


def settings_changed_at_6_s(first: Path, joined: Path, spec: dict) -> Path:
    """`first` (Baseline, CAVLC) followed by 6 s of High profile with CABAC coded under SPS/PPS
    id 2, sent in band (x264's repeat-headers), joined by stream copy: the result's avcC lists
    only the first part's id 0, and a piece given id 2 would be decoded with the wrong sets."""
    second = make_video(
        first.with_name("cut-sps-id-2.mp4"),
        pattern="testsrc2",
        beep=True,
        **spec,
        encoder_args=(
            "-preset",
            "superfast",
            "-profile:v",
            "high",
            "-x264-params",
            "sps-id=2:repeat-headers=1",
        ),
    )
    listing = first.with_name("cut-sps-id-change.txt")
    listing.write_text(f"file '{first}'\nfile '{second}'\n")
    subprocess.run([binaries.ffmpeg_path(), "-v", "error", "-y", "-f", "concat", "-safe", "0",
                    "-i", str(listing), "-c", "copy", str(joined)], check=True)  # fmt: skip
    return joined


@pytest.fixture
def cut_user(make_user) -> str:
    return make_user()[2]


def copied_range(source: Path, start: float, end: float) -> tuple[int, int]:
    """Output indexes of the frames from the first keyframe at or after `start` to the last
    keyframe before `end` (exclusive), less that keyframe's leading pictures (HEVC open GOPs:
    decoded after it, shown before it, so re-encoded with the tail): those a smart cut copies
    (frames go on past `end` in every source here)."""
    with av.open(str(source)) as container:
        stream = container.streams.video[0]
        packets = [(Fraction(p.pts) * stream.time_base, p.is_keyframe)
                   for p in container.demux(stream) if p.pts is not None]  # fmt: skip
    low, high = Fraction(str(start)), Fraction(str(end))
    inside = sorted(seconds for seconds, _ in packets if low <= seconds < high)
    keys = [seconds for seconds, key in packets if key and low <= seconds < high]
    last_key = packets.index((max(keys), True))
    leading = {seconds for seconds, _ in packets[last_key:] if seconds < max(keys)}
    copied = [
        index
        for index, seconds in enumerate(inside)
        if min(keys) <= seconds < max(keys) and seconds not in leading
    ]
    return copied[0], copied[-1]


def cut(server, token: str, source: Path, start: float, end: float) -> dict:
    video = upload(server, token, source)
    done = wait_task(token, trim(server, token, video["id"], start_time=start, end_time=end).json(), 300)
    assert done["status"] == "finished", done
    return done


@pytest.mark.parametrize(("name", "window", "method"), CASES, ids=[f"{n}-{w[0]}-{w[1]}" for n, w, _ in CASES])
def test_precise_trims_hold_exactly_the_window(
    live_server, live_worker, cut_user, sources, data_dir, name, window, method
):
    source = sources[name]
    done = cut(live_server, cut_user, source, *window)
    assert done["result"]["method"] == method
    report = check_cut(source, stored(data_dir, done["result"]["video_id"]), *window)
    assert report.frames == report.expected > 0
    assert report.wrong == [] and report.timestamp_errors == 0
    assert report.decode_errors == 0
    if SOURCES[name].get("audio", True):
        assert abs(report.av_offset_ms) <= 1.0
    if method == "smart":
        first, last = copied_range(source, *window)
        assert any(run[0] <= first and last <= run[1] for run in report.exact_runs), (first, last)
        # What the result was recorded as, without probing it, is what a probe finds in it.
        recorded = requests.get(
            f"{live_server.url}/api/videos/{done['result']['video_id']}/", headers=auth(cut_user), timeout=10
        ).json()
        probed = Prober(None).probe(stored(data_dir, done["result"]["video_id"]))
        assert recorded["duration"] == pytest.approx(probed.duration, abs=0.001)
        fields = ("video_codec", "audio_codec", "width", "height")
        assert [recorded[field] for field in fields] == [getattr(probed, field) for field in fields]
    assert report.rotations == {90 if name == "rotated-phone" else 0}  # one orientation: the source's
    assert audio_languages(stored(data_dir, done["result"]["video_id"])) == audio_languages(source)


def audio_languages(path: Path) -> list[str]:
    with av.open(str(path)) as container:
        return [stream.metadata.get("language", "und") for stream in container.streams.audio]


def test_the_checker_catches_a_cut_that_starts_on_the_wrong_frame(
    live_server, live_worker, cut_user, sources, data_dir
):
    """A fast trim starts on the keyframe before the start: the checker must say so."""
    video = upload(live_server, cut_user, sources["720p-gop60"])
    done = wait_task(cut_user, trim(live_server, cut_user, video["id"], start_time=12.34, end_time=22.56,
                                    mode="fast").json())  # fmt: skip
    assert done["result"]["method"] == "copy"
    report = check_cut(sources["720p-gop60"], stored(data_dir, done["result"]["video_id"]), 12.34, 22.56)
    assert report.frames != report.expected or report.wrong


@pytest.mark.browser
@needs_chromium
def test_chromium_plays_smart_cuts_to_the_end(live_server, live_worker, cut_user, sources):
    from playwright.sync_api import sync_playwright

    links = []
    for name in ("1080p-bpyramid", "2997-baseline-44k"):
        done = cut(live_server, cut_user, sources[name], *LONG)
        assert done["result"]["method"] == "smart"
        links.append(share(live_server, cut_user, done["result"]["video_id"], 600).json()["url"])
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, args=CHROMIUM_FLAGS, chromium_sandbox=False
        )
        try:
            page = browser.new_page()
            page.goto(live_server.url + "/health")
            for link in links:
                outcome = page.evaluate(PLAY_TO_THE_END, link)
                assert outcome["ended"] and outcome["error"] is None, outcome
                assert outcome["duration"] == pytest.approx(LONG[1] - LONG[0], abs=0.1)
                assert outcome["decoded"] > 0
        finally:
            browser.close()
    assert requests.get(links[0], timeout=30).status_code == 200


PLAY_TO_THE_END = """async (url) => {
  const video = document.createElement('video');
  video.muted = true;
  document.body.appendChild(video);
  const result = await new Promise((resolve) => {
    video.onended = () => resolve({ended: true, error: null});
    video.onerror = () => resolve({ended: false, error: video.error && video.error.message});
    setTimeout(() => resolve({ended: false, error: 'timeout at ' + video.currentTime}), 60000);
    video.src = url;
    video.playbackRate = 16;
    video.play().catch((e) => resolve({ended: false, error: String(e)}));
  });
  const quality = video.getVideoPlaybackQuality();
  return {...result, duration: video.duration, decoded: quality.totalVideoFrames,
          dropped: quality.droppedVideoFrames};
}"""
