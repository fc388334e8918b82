"""The whole flow on object storage: SeaweedFS for bytes, Redis for locks, no video byte left on
the hosts' disks."""

from __future__ import annotations

import hashlib
import random
import time

import pytest
import requests

from tests.api import merge, send_chunk, share, stream_started, trim, upload, wait_task, wait_until
from tests.hls import check_ladder, ready_ladder
from tests.media import make_video
from tests.servers import CountingProxy, LiveServer, LiveWorker, auth, cli_create_user, process_env
from tests.tus import cut_patch, new_upload, patch, settle_offset

pytestmark = pytest.mark.e2e


def s3_env(data_dir, redis_url, s3, **overrides) -> dict[str, str]:
    return process_env(
        data_dir, redis_url, storage_backend="s3", s3_endpoint_url=s3.endpoint_url, s3_bucket=s3.bucket,
        s3_region="us-east-1", s3_access_key_id="any", s3_secret_access_key="any",
        s3_prefix=f"{data_dir.name}/", s3_part_size=str(5 * 1024 * 1024), **overrides,
    )  # fmt: skip


def video_bytes_on(data_dir) -> list[str]:
    """Files under a host's data directory that hold (part of) a video."""
    kept = []
    for folder in ("videos", "uploads", "chunks", "tmp", "scratch"):
        root = data_dir / folder
        if root.is_dir():
            kept += [str(p) for p in root.rglob("*") if p.is_file() and p.stat().st_size > 0]
    return kept


@pytest.fixture(scope="module")
def clip(media_dir) -> bytes:
    return make_video(media_dir / "s3clip.mp4", seconds=4, size="640x360").read_bytes()


def test_upload_trim_download_and_share_on_object_storage(tmp_path, redis_server, s3_service, clip):
    env = s3_env(tmp_path, redis_server.url, s3_service)
    server = LiveServer(env).start()
    worker = LiveWorker(env).start()
    try:
        token = cli_create_user(env, "cloud")
        data = clip + random.Random(7).randbytes(6 * 1024 * 1024)  # more than one 5 MiB part
        url = new_upload(server.url, token, len(data), name="cloud.mp4")
        cut = 5 * 1024 * 1024 + 123
        cut_patch(server.port, url, token, 0, data[:cut], declared=len(data))
        # A HEAD asks the cut PATCH to let go: it keeps what it read by then, at most the cut.
        resume_at = settle_offset(url, token, at_most=cut)
        assert resume_at > 0
        assert patch(url, token, resume_at, data[resume_at:]).status_code == 204
        video_id = url.rsplit("/", 1)[1]
        video = requests.get(f"{server.url}/api/videos/{video_id}/", headers=auth(token)).json()
        assert video["status"] == "ready", video

        download = f"{server.url}/api/videos/{video_id}/download/"
        whole = requests.get(download, headers=auth(token), timeout=60)
        assert (
            whole.status_code == 200
            and hashlib.sha256(whole.content).digest() == hashlib.sha256(data).digest()
        )
        part = requests.get(download, headers={**auth(token), "Range": "bytes=100-1099"}, timeout=60)
        assert part.status_code == 206 and part.content == data[100:1100]
        assert part.headers["Content-Range"] == f"bytes 100-1099/{len(data)}"
        # The upload was completed as the video's own object (no copy inside the store), and
        # the upload's end (a client's DELETE of it, or its expiry) leaves that object alone.
        bucket = s3_service.client()
        video_key = f"{tmp_path.name}/videos/{video_id}"
        assert bucket.head_object(Bucket=s3_service.bucket, Key=video_key)["ETag"].strip('"').endswith("-2")
        assert (
            requests.delete(url, headers={**auth(token), "Tus-Resumable": "1.0.0"}, timeout=30).status_code
            == 204
        )
        listed = bucket.list_objects_v2(Bucket=s3_service.bucket, Prefix=f"{tmp_path.name}/uploads/")
        assert listed.get("KeyCount", 0) == 0
        again = requests.get(download, headers=auth(token), timeout=60)
        assert hashlib.sha256(again.content).digest() == hashlib.sha256(data).digest()

        done = wait_task(
            token, trim(server, token, video_id, start_time=0.5, end_time=2.5, mode="fast").json()
        )
        assert done["status"] == "finished", done
        link = share(server, token, done["result"]["video_id"], 600).json()
        shared = requests.get(link["url"], headers={"Range": "bytes=0-99"}, timeout=60)
        assert shared.status_code == 206 and len(shared.content) == 100

        assert video_bytes_on(tmp_path) == []  # every video byte lives in the bucket
    finally:
        server.stop()
        worker.stop()


def test_presigned_downloads_redirect_to_the_object(tmp_path, redis_server, s3_service, sample_video):
    env = s3_env(tmp_path, redis_server.url, s3_service, s3_presigned_downloads="true")
    server = LiveServer(env).start()
    try:
        token = cli_create_user(env, "presigned")
        data = sample_video.read_bytes()
        url = new_upload(server.url, token, len(data))
        assert patch(url, token, 0, data).status_code == 204
        video_id = url.rsplit("/", 1)[1]
        answer = requests.get(f"{server.url}/api/videos/{video_id}/download/", headers=auth(token),
                              allow_redirects=False, timeout=30)  # fmt: skip
        assert answer.status_code == 302 and answer.headers["Location"].startswith(s3_service.endpoint_url)
        fetched = requests.get(answer.headers["Location"], headers={"Range": "bytes=0-9"}, timeout=30)
        assert fetched.status_code == 206 and fetched.content == data[:10]
    finally:
        server.stop()


def test_two_servers_and_a_worker_share_no_disk(tmp_path, redis_server, s3_service, postgres_url, clip):
    """Four hosts in all but name: each its own data directory; Redis, SeaweedFS and
    PostgreSQL are all they share. A share's ladder (a 240p rung in one-second chunks) is made
    by the two workers' hosts through the bucket and served by both servers."""
    database = postgres_url
    hosts = [tmp_path / name for name in ("host-a", "host-b", "host-w", "host-w2")]
    envs = [s3_env(host, redis_server.url, s3_service, database_url=database, redis_queue="multi",
                   renditions_ladder="[240]", renditions_chunk_s="1", renditions_segment_s="1")
            for host in hosts]  # fmt: skip
    for env in envs:
        env["VIDEO_MANAGER_S3_PREFIX"] = "multi/"  # one bucket layout for all of them
    servers = [LiveServer(envs[0]).start(), LiveServer(envs[1]).start()]
    worker, second_worker = LiveWorker(envs[2]).start(), LiveWorker(envs[3]).start()
    try:
        token = cli_create_user(envs[0], "everywhere")
        data = clip + random.Random(11).randbytes(7 * 1024 * 1024)
        on_a = new_upload(servers[0].url, token, len(data))
        on_b = on_a.replace(servers[0].url, servers[1].url)
        cut = 3 * 1024 * 1024
        cut_patch(servers[0].port, on_a, token, 0, data[:cut], declared=len(data))
        resume_at = settle_offset(
            on_b, token, at_most=cut, timeout_s=30
        )  # B sees what A stored (slow when the box is busy)
        assert resume_at > 0
        assert patch(on_a, token, 0, data[:10]).status_code == 409  # a stale offset, never a corrupt one
        assert patch(on_b, token, resume_at, data[resume_at:]).status_code == 204
        video_id = on_a.rsplit("/", 1)[1]

        done = wait_task(token, trim(servers[1], token, video_id, start_time=0.5, end_time=3.0).json())
        assert done["status"] == "finished", done
        result = done["result"]["video_id"]
        for server in servers:
            whole = requests.get(
                f"{server.url}/api/videos/{video_id}/download/", headers=auth(token), timeout=60
            )
            assert hashlib.sha256(whole.content).digest() == hashlib.sha256(data).digest()
            ranged = requests.get(f"{server.url}/api/videos/{result}/download/",
                                  headers={**auth(token), "Range": "bytes=0-99"}, timeout=60)  # fmt: skip
            assert ranged.status_code == 206 and len(ranged.content) == 100
        joined = wait_task(token, merge(servers[0], token, [result, result]).json())  # concat of URLs
        assert joined["status"] == "finished", joined
        # The seed's chunk form, its chunks spread over both servers (and one sent twice).
        size = len(clip) // 3 + 1
        pieces = [clip[i * size : (i + 1) * size] for i in range(3)]
        for number, server in ((2, servers[0]), (1, servers[1]), (2, servers[1]), (3, servers[0])):
            answer = send_chunk(server, token, "spread.mp4", number, pieces)
        assert answer.status_code == 201, answer.text
        chunked = answer.json()["video_id"]
        whole = requests.get(
            f"{servers[1].url}/api/videos/{chunked}/download/", headers=auth(token), timeout=60
        )
        assert whole.content == clip
        link = share(servers[0], token, result, 600).json()
        via_b = link["url"].replace(servers[0].url, servers[1].url)
        assert requests.get(via_b, timeout=60).status_code == 200  # signed on A, served by B
        # A worker's host made the result's poster; it reached the bucket, and both servers serve it.
        posters = [host / "media" / result.replace("-", "")[:2] / result / "poster.jpg" for host in hosts[2:]]
        wait_until(lambda: any(p.is_file() for p in posters), 60, "the poster from a worker")
        made = next(p for p in posters if p.is_file())
        for server in servers:
            poster = requests.get(
                f"{server.url}/api/videos/{result}/thumbnail.jpg", headers=auth(token), timeout=60
            )
            assert poster.status_code == 200 and poster.content == made.read_bytes()
        requests.get(f"{link['url']}/hls.m3u8", timeout=60)  # the ladder starts
        rungs = ready_ladder(servers[1], token, result)
        assert [(r["width"], r["height"]) for r in rungs] == [(640, 360), (426, 240)], rungs
        assert [c["index"] for c in rungs[1]["chunks"]] == list(range(len(rungs[1]["chunks"])))
        check_ladder(link["url"], media_dir_clip(tmp_path, servers[1], token, result), (640, 360), audio=True)
        for host in hosts:
            assert video_bytes_on(host) == [], host
    finally:
        for server in servers:
            server.stop()
        worker.stop()
        second_worker.stop()


def media_dir_clip(folder, server, token: str, video_id: str):
    """The video's bytes in a file of the test's own, to compare a ladder with."""
    path = folder / f"{video_id}.mp4"
    path.write_bytes(
        requests.get(f"{server.url}/api/videos/{video_id}/download/", headers=auth(token)).content
    )
    return path


def test_a_short_fast_trim_reads_a_small_part_of_its_source(tmp_path, redis_server, s3_service, media_dir):
    """Jobs read sources through presigned URLs: ffmpeg fetches the ranges it needs."""
    source = make_video(media_dir / "long.mp4", seconds=120, size="1280x720", pattern="testsrc2", gop=30)
    env = s3_env(tmp_path, redis_server.url, s3_service)
    server = LiveServer(env).start()
    proxy = CountingProxy(s3_service.port)
    worker = LiveWorker({**env, "VIDEO_MANAGER_S3_ENDPOINT_URL": f"http://127.0.0.1:{proxy.port}"}).start()
    try:
        token = cli_create_user(env, "ranges")
        data = source.read_bytes()
        url = new_upload(server.url, token, len(data))
        assert patch(url, token, 0, data).status_code == 204
        video_id = url.rsplit("/", 1)[1]
        # The worker first makes the new video's poster (from its first seconds).
        poster = tmp_path / "media" / video_id.replace("-", "")[:2] / video_id / "poster.jpg"
        wait_until(poster.is_file, 60, "the poster")
        before = proxy.bytes_to_clients
        task = trim(server, token, video_id, start_time=60, end_time=62, mode="fast").json()
        assert wait_task(token, task)["status"] == "finished"
        read = proxy.bytes_to_clients - before  # the source's ranges, plus the result's upload answers
        assert read < 0.05 * len(data), (read, len(data))
    finally:
        server.stop()
        worker.stop()
        proxy.close()


def test_a_video_deleted_while_its_stream_is_made_leaves_nothing_in_the_bucket(
    tmp_path, redis_server, s3_service, media_dir
):
    clip = make_video(media_dir / "s3-deleted-mid-hls.mp4", seconds=40, size="1280x720", pattern="testsrc2",
                      audio_codec="ac3")  # fmt: skip
    env = s3_env(tmp_path, redis_server.url, s3_service)
    server, worker = LiveServer(env).start(), LiveWorker(env).start()
    try:
        token = cli_create_user(env, "impatient-cloud")
        video = upload(server, token, clip)
        link = share(server, token, video["id"], 600).json()
        stream_started(link["url"])  # it is being made
        deleted = requests.delete(f"{server.url}/api/videos/{video['id']}/", headers=auth(token), timeout=30)
        assert deleted.status_code == 204
        media_prefix = f"{tmp_path.name}/media/{video['id']}/"

        def left() -> list[str]:
            listed = s3_service.client().list_objects_v2(Bucket=s3_service.bucket, Prefix=media_prefix)
            local = tmp_path / "media" / video["id"].replace("-", "")[:2] / video["id"]
            return [item["Key"] for item in listed.get("Contents", [])] + (
                [str(p) for p in local.rglob("*")] if local.exists() else []
            )

        wait_until(lambda: not left(), 20, "the stream's objects and files gone")
        time.sleep(3)
        assert left() == []
    finally:
        server.stop()
        worker.stop()
