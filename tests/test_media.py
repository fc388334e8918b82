"""Seeing a video: posters, thumbnails at a time, storyboards and HLS for shares, end to end with a
real server, worker and ffmpeg; pictures are decoded and compared with the source's frames."""

from __future__ import annotations

import io
import time
import uuid
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest
import requests

from tests.api import share, stream_started, upload, wait_until
from tests.hls import check_ladder, ready_ladder
from tests.media import make_video
from tests.servers import LiveServer, LiveWorker, auth, cli_create_user, process_env

pytestmark = pytest.mark.e2e

RATE = 30


@pytest.fixture(scope="module")
def fading_clip(media_dir) -> Path:
    """3 s of testsrc fading in from black: its first frame is black, every frame is different."""
    return make_video(media_dir / "fading.mp4", seconds=3, rate=RATE, video_filter="fade=in:0:20")


def gray(path_or_bytes, width: int | None = None, height: int | None = None) -> list[np.ndarray]:
    """Every frame of a video or picture as a gray array, optionally resized."""
    source = path_or_bytes if isinstance(path_or_bytes, Path) else io.BytesIO(path_or_bytes)
    with av.open(source) as container:
        return [
            frame.reformat(width=width or frame.width, height=height or frame.height, format="gray")
            .to_ndarray()
            .astype(np.float32)
            for frame in container.decode(video=0)
        ]


def get_picture(url: str, token: str | None = None, **params) -> requests.Response:
    return requests.get(url, headers=auth(token) if token else {}, params=params, timeout=60)


@pytest.fixture(scope="module")
def dark_keyframe_clip(media_dir) -> Path:
    """4 s fading in from black over its first second, with x264's default GOP of 250 frames:
    its only keyframe is the black first frame."""
    return make_video(
        media_dir / "dark-keyframe.mp4", seconds=4, rate=RATE, gop=250, video_filter="fade=in:0:30"
    )


@pytest.mark.parametrize("clip", ["fading_clip", "dark_keyframe_clip"])
def test_the_poster_is_a_representative_frame_and_revalidates(
    live_server, live_worker, make_user, clip, request
):
    token = make_user()[2]
    video = upload(live_server, token, request.getfixturevalue(clip))
    assert video["thumbnail_url"] == f"{live_server.url}/api/videos/{video['id']}/thumbnail.jpg"
    poster = get_picture(video["thumbnail_url"], token)
    assert poster.status_code == 200 and poster.headers["Content-Type"] == "image/jpeg"
    (picture,) = gray(poster.content)
    assert picture.shape == (240, 320)
    assert picture.mean() > 60  # not the black first frame
    again = requests.get(
        video["thumbnail_url"], headers={**auth(token), "If-None-Match": poster.headers["ETag"]}, timeout=30
    )
    assert again.status_code == 304
    assert "private" in poster.headers["Cache-Control"]


def test_a_thumbnail_is_the_frame_on_screen_at_its_time(live_server, live_worker, make_user, fading_clip):
    token = make_user()[2]
    video = upload(live_server, token, fading_clip)
    source = gray(fading_clip, 160, 120)
    for seconds in (0.0, 0.5, 1.234, 2.0, 2.99):
        response = get_picture(video["thumbnail_url"], token, time=seconds, width=160)
        assert response.status_code == 200, response.text
        (picture,) = gray(response.content)
        assert picture.shape == (120, 160)
        distances = [float(np.abs(picture - frame).mean()) for frame in source]
        expected = int(Fraction(seconds).limit_denominator(1000) * RATE)
        assert int(np.argmin(distances)) == expected, (
            seconds,
            sorted(range(len(distances)), key=distances.__getitem__)[:3],
        )


def test_thumbnail_bounds_and_owners(live_server, live_worker, make_user, fading_clip):
    token = make_user()[2]
    video = upload(live_server, token, fading_clip)
    url = video["thumbnail_url"]
    for params, code in [
        ({"time": 1, "width": 8}, 400),
        ({"time": 1, "width": 5000}, 400),
        ({"time": -1}, 400),
        ({"time": 3.5}, 400),
        ({"time": "soon"}, 400),
    ]:
        response = get_picture(url, token, **params)
        assert response.status_code == code, (params, response.text)
        assert response.json()["error"]
    stranger = make_user()[2]
    assert get_picture(url, stranger).status_code == 404
    assert get_picture(url).status_code == 401
    wide = get_picture(url, token, time=1, width=1280)
    assert gray(wide.content)[0].shape == (960, 1280)


def test_share_thumbnails_work_and_die_with_the_link(live_server, live_worker, make_user, fading_clip):
    token = make_user()[2]
    video = upload(live_server, token, fading_clip)
    link = share(live_server, token, video["id"], 60).json()
    poster = get_picture(link["url"] + "/thumbnail.jpg")
    assert poster.status_code == 200 and poster.headers["Content-Type"] == "image/jpeg"
    assert get_picture(link["url"] + "/thumbnail.jpg", time=1.5, width=64).status_code == 200
    assert (
        requests.delete(f"{live_server.url}/api/shares/{link['id']}/", headers=auth(token)).status_code == 204
    )
    assert get_picture(link["url"] + "/thumbnail.jpg").status_code == 410
    tampered = link["url"][:-3] + ("AAA" if not link["url"].endswith("AAA") else "BBB")
    assert get_picture(tampered + "/thumbnail.jpg").status_code == 404


def test_the_storyboard_lists_tiles_of_the_sprite(live_server, live_worker, make_user, media_dir):
    token = make_user()[2]
    clip = make_video(media_dir / "board.mp4", seconds=12, rate=RATE, gop=RATE)
    video = upload(live_server, token, clip)
    url = f"{live_server.url}/api/videos/{video['id']}/storyboard.vtt"
    answers = []

    def ready() -> bool:
        answers.append(requests.get(url, headers=auth(token), timeout=30))
        assert answers[-1].status_code in (200, 202), answers[-1].text
        return answers[-1].status_code == 200

    wait_until(ready, 60, "the storyboard", interval_s=0.5)
    if answers[0].status_code == 202:
        assert int(answers[0].headers["Retry-After"]) > 0
    vtt = answers[-1].text
    assert vtt.startswith("WEBVTT") and answers[-1].headers["Content-Type"].startswith("text/vtt")
    cues = [block.splitlines() for block in vtt.split("\n\n")[1:] if block.strip()]
    assert len(cues) == 12  # one tile a second for 12 s
    assert cues[0][0] == "00:00:00.000 --> 00:00:01.000" and cues[-1][0] == "00:00:11.000 --> 00:00:12.000"
    sprite_url, fragment = cues[11][1].split("#")
    assert fragment == "xywh=160,90,160,90"  # the 12th tile: second row, second column
    sprite = requests.get(sprite_url, headers=auth(token), timeout=30)
    assert sprite.status_code == 200
    (picture,) = gray(sprite.content)
    assert picture.shape == (180, 1600)  # 10 columns, 2 rows of 160x90
    assert requests.get(sprite_url, timeout=30).status_code == 401


def test_hls_of_a_share_covers_the_video_and_every_segment_decodes(
    live_server, live_worker, make_user, media_dir
):
    """A minute of 320x240 H.264/AAC with the default ladder: nothing smaller than the source is
    in it, so its one rung is the source's own frames (copied), with the audio beside it."""
    token = make_user()[2]
    clip = make_video(media_dir / "minute.mp4", seconds=60, rate=RATE, gop=2 * RATE)
    video = upload(live_server, token, clip)
    link = share(live_server, token, video["id"], 600).json()
    stream_started(link["url"])
    rungs = ready_ladder(live_server, token, video["id"])
    assert [(r["width"], r["height"], r["chunks"]) for r in rungs] == [(320, 240, [])]
    by_rung = check_ladder(link["url"], clip, (320, 240), audio=True)
    assert len(by_rung["hls-240.m3u8"]) >= 9
    assert requests.get(f"{link['url']}/../../etc/passwd", timeout=30).status_code == 404
    assert requests.get(f"{link['url']}/hls-240-99999.m4s", timeout=30).status_code == 404
    requests.delete(f"{live_server.url}/api/shares/{link['id']}/", headers=auth(token))
    assert requests.get(link["url"] + "/hls.m3u8", timeout=30).status_code == 410
    assert requests.get(f"{link['url']}/hls-240-00000.m4s", timeout=30).status_code == 410


def test_playback_urls_play_without_a_header_and_index_at_end_gets_a_faststart_copy(
    live_server, live_worker, make_user, media_dir
):
    token = make_user()[2]
    clip = make_video(media_dir / "index-last.mp4", seconds=3, index_first=False)
    original = clip.read_bytes()
    assert original.index(b"moov") > original.index(b"mdat")
    video = upload(live_server, token, clip)
    playback = requests.get(f"{live_server.url}/api/videos/{video['id']}/playback/", headers=auth(token))
    assert playback.status_code == 200
    url = playback.json()["url"]
    assert token not in url and "access=" in url

    def index_first() -> bool:
        head = requests.get(url, headers={"Range": "bytes=0-65535"}, timeout=30)
        assert head.status_code == 206
        return b"moov" in head.content  # the faststart copy, once the worker made it

    wait_until(index_first, 30, "the faststart copy", interval_s=0.3)
    played = requests.get(url, timeout=30).content
    assert played != original and len(played) == pytest.approx(len(original), rel=0.05)
    assert requests.get(video["download_url"], headers=auth(token), timeout=30).content == original

    assert requests.get(url.split("?")[0], timeout=30).status_code == 401
    forged = url[:-4] + ("AAAA" if not url.endswith("AAAA") else "BBBB")
    assert requests.get(forged, timeout=30).status_code == 401
    other = upload(live_server, token, clip)
    elsewhere = url.replace(video["id"], other["id"])
    assert requests.get(elsewhere, timeout=30).status_code == 401  # a token plays its own video only
    stranger = make_user()[2]
    foreign = requests.get(f"{live_server.url}/api/videos/{video['id']}/playback/", headers=auth(stranger))
    assert foreign.status_code == 404

    # Asking for playback started the ladder; once it is made, the owner's player gets it too.
    ready_ladder(live_server, token, video["id"])
    ladder = requests.get(f"{live_server.url}/api/videos/{video['id']}/playback/", headers=auth(token)).json()
    assert ladder["hls_url"] is not None and token not in ladder["hls_url"]
    master = requests.get(ladder["hls_url"], timeout=30)
    assert master.status_code == 200 and "#EXT-X-STREAM-INF:" in master.text
    rung = next(line for line in master.text.splitlines() if line.endswith(".m3u8") and "iframes" not in line)
    base = ladder["hls_url"].rsplit("/", 1)[0]
    assert "#EXTINF:" in requests.get(f"{base}/{rung}", timeout=30).text  # relative URIs work
    forged = base.replace("/hls/", "/hls/x")
    assert requests.get(f"{forged}/hls.m3u8", timeout=30).status_code == 401
    assert requests.get(f"{base.replace(video['id'], other['id'])}/{rung}", timeout=30).status_code == 401


def _left_of(data_dir, video_id: str) -> list[str]:
    """Media files and the ladder's lock file a video still has on this host."""
    media = data_dir / "media" / uuid.UUID(video_id).hex[:2] / video_id
    leftovers = [str(p) for p in media.rglob("*")] if media.exists() else []
    lock = data_dir / "uploads" / "locks" / f"ladder-{video_id}.lock"
    return leftovers + ([str(lock)] if lock.exists() else [])


def test_a_video_deleted_while_its_stream_is_made_leaves_nothing(tmp_path, redis_server, media_dir):
    """A 720p source's ladder takes long enough to delete the video while it is made (the lowest
    rung playing, the others encoding). What is being made is dropped once it is done, the jobs
    still queued make nothing, and neither a segment nor the ladder's lock stays."""
    clip = make_video(media_dir / "deleted-mid-hls.mp4", seconds=40, size="1280x720", pattern="testsrc2",
                      audio_codec="ac3")  # fmt: skip
    env = process_env(tmp_path, redis_server.url)
    server, worker = LiveServer(env).start(), LiveWorker(env).start()
    try:
        token = cli_create_user(env, "impatient")
        video = upload(server, token, clip)
        link = share(server, token, video["id"], 600).json()
        stream_started(link["url"])  # it is being made
        assert _left_of(tmp_path, video["id"])
        deleted = requests.delete(f"{server.url}/api/videos/{video['id']}/", headers=auth(token), timeout=30)
        assert deleted.status_code == 204
        wait_until(lambda: not _left_of(tmp_path, video["id"]), 15, "the stream's files gone")
        time.sleep(3)  # and they stay gone: the render stopped, not just lost a race
        assert _left_of(tmp_path, video["id"]) == []
    finally:
        server.stop()
        worker.stop()


def test_the_sweep_removes_media_of_videos_that_no_longer_exist(config, database, make_user, sample_video):
    from processor.renditions import sweep_orphaned_media
    from storage.database import db
    from storage.factory import local_media

    store = local_media(config)
    gone = uuid.uuid4()
    store.folder(gone).mkdir(parents=True)
    (store.folder(gone) / "hls-00001.m4s").write_bytes(b"left behind")
    with db.connection_context():
        assert sweep_orphaned_media(store) >= 1
    assert not store.folder(gone).exists()
