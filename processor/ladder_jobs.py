"""The adaptive ladder, made by the whole fleet: RQ jobs that split one video's encode.

`plan` reads the source's frames, plans the ladder (processor.ladder), records a Rendition row
per rung and queues the work: the audio once, whole; the copied rung (if any); one job per
chunk of the lowest encoded rung, one per chunk of the others together (one decode of the
source for all of them); and per rung a `stitch` job that depends on its chunks (RQ's
`depends_on`, allowing failure so a rung whose chunk failed for good is marked failed, not left
waiting).
Lowest rungs are queued first and stitches jump the queue, so a share plays before the ladder
is done. Any worker on any host takes any job: chunks go through the media store (S3 too).

A chunk job retries alone (RQ's Retry), a worker killed mid-chunk included. Every chunk is
checked against the plan (frame count, last frame and keyframe times) before it is kept, and
every stitched rung's segments against the plan's boundaries before it is listed.
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import time
import uuid
from collections.abc import Iterator
from datetime import timedelta
from fractions import Fraction
from pathlib import Path

from redis import Redis
from rq import Retry, get_current_job
from rq.job import Dependency, Job

from processor import hls, isobmff, ladder, streaming
from processor.av_child import AvChildFailed, run_av_child
from processor.hardware import h264_encoder
from processor.ladder import Chunk, Frames, Rung
from processor.queue import ladder_queue
from processor.renditions import Renderer, ladder_lock, ready_video
from processor.runner import FfmpegError
from storage.database import db
from storage.models import Rendition, RenditionChunk, RenditionStatus, Video, utcnow
from storage.stores import MediaStore
from video_manager.config import Config

log = logging.getLogger(__name__)
AUDIO_HEIGHT = Rendition.AUDIO_HEIGHT
AUDIO_FILE = "audio.m4a"
CHUNK_RETRIES = 2
FRAME_TOLERANCE = 0.5  # of the shortest frame: how far a chunk's frame times may be from the plan's
CHUNK_TIMEOUT_S = 3600


def chunk_name(height: int, index: int) -> str:
    return f"chunk-{height}-{index:05d}.mp4"


def rendition_job_id(video_id: object, height: int) -> str:
    """The job that publishes a rendition (its stitch, the copied rung's, or the audio's)."""
    return f"ladder-{video_id}-{height or 'audio'}"


LADDER_FILES = ("hls-", "chunk-", "rendition-", AUDIO_FILE)  # what a ladder keeps in the media store
LOST_AFTER_S = 600  # an unfinished rendition this old whose job RQ no longer has was lost


def forget_lost_ladders(media: MediaStore, connection: Redis) -> int:
    """Ladders whose unfinished renditions' jobs are gone from Redis (flushed, or lost in an
    outage) would answer `rendition_pending` for ever: their rows and files go, so the next
    request plans them again. How many videos' ladders went."""
    cutoff = utcnow() - timedelta(seconds=LOST_AFTER_S)
    unfinished = Rendition.select(Rendition.video, Rendition.height).where(
        Rendition.status.in_([RenditionStatus.QUEUED, RenditionStatus.ENCODING])
        & (Rendition.created_at < cutoff)
    )
    lost = {
        row.video_id
        for row in unfinished
        if not Job.exists(rendition_job_id(row.video_id, row.height), connection)
    }
    for video_id in lost:
        Rendition.delete().where(Rendition.video == video_id).execute()
        media.remove(video_id, [name for prefix in LADDER_FILES for name in media.names(video_id, prefix)])
    if lost:
        log.warning(
            "forgot %d ladders whose jobs were lost; they are planned again when asked for", len(lost)
        )
    return len(lost)


# -- planning ---------------------------------------------------------------------------------


def plan(video_id: str) -> None:
    """Plan the ladder and queue its jobs; nothing if it is planned already (or being planned)."""
    with _job(video_id) as (config, renderer, video):
        if video is None:
            return
        with renderer.locks.hold_if_free(ladder_lock(video.id)) as taken:
            if taken and not Rendition.select().where(Rendition.video == video.id).exists():
                _plan_and_queue(config, renderer, video)


def _plan_and_queue(config: Config, renderer: Renderer, video: Video) -> None:
    frames, origin = read_frames(config, renderer, video)
    traits = ladder.SourceTraits(
        width=video.width or 0,
        height=video.height or 0,
        video_codec=video.video_codec or "",
        pix_fmt=video.pix_fmt,
        hdr=renderer.source(video).media.hdr,
        bitrate_kbps=int(video.size * 8 / video.duration / 1000) if video.duration else 0,
    )
    made = ladder.plan_ladder(
        traits, frames, config.renditions.ladder, segment_s=config.renditions.segment_s,
        chunk_s=config.renditions.chunk_s,
    )  # fmt: skip
    has_audio = video.audio_codec is not None
    with db.atomic():
        if has_audio:
            Rendition.create(video=video.id, height=AUDIO_HEIGHT, width=0)
        for rung in made.rungs:
            Rendition.create(video=video.id, height=rung.height, width=rung.width, copy=int(rung.copy),
                             max_kbps=rung.max_kbps)  # fmt: skip
    queue = ladder_queue(config, get_current_job().connection)
    prefix = f"ladder-{video.id}"
    audio_job = (
        queue.enqueue(audio, str(video.id), job_id=rendition_job_id(video.id, AUDIO_HEIGHT), at_front=True)
        if has_audio
        else None
    )
    waits_for = [audio_job] if audio_job else []
    expected = ladder.segment_durations(made, frames.end)
    encoded = sorted((rung for rung in made.rungs if not rung.copy), key=lambda r: r.width * r.height)
    for rung in made.rungs:
        if rung.copy:
            queue.enqueue(
                copied, str(video.id), rung, expected, frames.frame_s,
                job_id=rendition_job_id(video.id, rung.height), depends_on=_after(waits_for), at_front=True,
            )  # fmt: skip
    for group in encode_groups(encoded):
        chunk_jobs = [
            queue.enqueue(
                encode_chunk, str(video.id), group, chunk, origin, frames.frame_s, traits.hdr,
                job_id=f"{prefix}-{'-'.join(str(r.height) for r in group)}-{chunk.index}",
                retry=Retry(max=CHUNK_RETRIES), job_timeout=CHUNK_TIMEOUT_S,
            )
            for chunk in made.chunks
        ]  # fmt: skip
        for rung in group:
            queue.enqueue(
                stitch, str(video.id), rung, made.chunks, expected, frames.frame_s, origin,
                job_id=rendition_job_id(video.id, rung.height), depends_on=_after([*chunk_jobs, *waits_for]),
            )  # fmt: skip
    log.info("video %s: ladder of %d rungs in %d chunks queued", video.id, len(made.rungs), len(made.chunks))


def encode_groups(encoded: list[Rung]) -> list[list[Rung]]:
    """The rungs each chunk job encodes from one decode of the source, smallest first: the lowest
    alone (it is queued first, so a share plays it soon), the others together (decoding the
    source once for all of them: a 1080p decode costs about as much as a 480p encode)."""
    return [encoded[:1], encoded[1:]] if len(encoded) > 1 else [encoded]


def _after(jobs: list) -> Dependency | None:
    return Dependency(jobs=jobs, allow_failure=True, enqueue_at_front=True) if jobs else None


def read_frames(config: Config, renderer: Renderer, video: Video) -> tuple[Frames, float]:
    """The source's frames (processor.ladder_av in a limited child), and the first frame's time
    on the clock `-ss` seeks by."""
    source = renderer.source(video)
    answer = run_av_child(
        "processor.ladder_av", "frames",
        {"source": str(source.path), "demuxer": source.media.demuxer, "remote": source.remote},
        timeout_s=config.ffmpeg.timeout_s, memory_limit_mb=config.ffmpeg.memory_limit_mb,
    )  # fmt: skip
    return frames_from(answer), answer["origin"]


def frames_from(answer: dict) -> Frames:
    time_base = Fraction(*answer["time_base"])
    first = answer["pts"][0]
    return Frames(
        times=[float((pts - first) * time_base) for pts in answer["pts"]],
        keyframes=answer["keyframes"],
        end=float((answer["end_pts"] - first) * time_base),
        rotation=answer["rotation"],
    )


# -- encoding ---------------------------------------------------------------------------------


def encode_chunk(
    video_id: str, rungs: list[Rung], chunk: Chunk, origin: float, frame_s: float, hdr: bool
) -> None:
    """One chunk of one or more rungs, each kept in the media store once it matches the plan.
    Raises on failure, so RQ retries it (alone)."""
    with _job(video_id) as (config, renderer, video):
        if video is None:
            return
        renditions = [_rendition(video.id, rung.height, RenditionStatus.ENCODING) for rung in rungs]
        names = [chunk_name(rung.height, chunk.index) for rung in rungs]
        if None in renditions or all(renderer.media.get(video.id, name) for name in names):
            return  # the ladder went with its video, or an earlier attempt kept the chunk
        started = time.monotonic()
        encoder = h264_encoder(config.ffmpeg.encoder, renderer.ffmpeg)
        with contextlib.ExitStack() as staging:
            outputs = [staging.enter_context(renderer.media.staged(".mp4")) for _ in rungs]
            command = streaming.encoded_chunk(
                renderer.ffmpeg, renderer.source(video), chunk, rungs, outputs, origin=origin,
                frame_s=frame_s, hdr=hdr, encoder=encoder, threads=config.ffmpeg.threads,
            )  # fmt: skip
            renderer.run_ffmpeg(command, duration=chunk.span, timeout_s=CHUNK_TIMEOUT_S)
            for output in outputs:
                check_chunk(config, output, chunk, frame_s)
            for name, output in zip(names, outputs, strict=True):
                renderer.media.put(video.id, name, output)
        job = get_current_job()
        retries_left = job.retries_left if job is not None and job.retries_left is not None else CHUNK_RETRIES
        made = {"worker": _worker_name(), "seconds": time.monotonic() - started,
                "attempts": 1 + CHUNK_RETRIES - retries_left}  # fmt: skip
        for rendition in renditions:
            RenditionChunk.insert(rendition=rendition, index=chunk.index, **made).on_conflict(
                conflict_target=[RenditionChunk.rendition, RenditionChunk.index], update=made
            ).execute()


def check_chunk(config: Config, path: Path, chunk: Chunk, frame_s: float) -> None:
    """The chunk holds the planned frames at their times: their count, the last frame where the
    source's is and the keyframes where the segments start (each relative to the chunk's first
    frame). That the seek landed on the right first frame is what tests/test_ladder_e2e.py
    measures, frame by frame against the source."""
    answer = run_av_child(
        "processor.ladder_av",
        "frames",
        {"source": str(path), "demuxer": "mov"},
        timeout_s=config.limits.probe_timeout_s,
        memory_limit_mb=config.ffmpeg.memory_limit_mb,
    )
    made = frames_from(answer)
    tolerance = FRAME_TOLERANCE * frame_s
    if len(made.times) != chunk.count:
        raise FfmpegError(
            "invalid_output", f"chunk {chunk.index} has {len(made.times)} frames, not {chunk.count}"
        )
    if abs(made.times[-1] - chunk.last_at) > tolerance:
        raise FfmpegError("invalid_output", f"chunk {chunk.index}'s last frame is at {made.times[-1]:.6f} s, "
                          f"not {chunk.last_at:.6f} s")  # fmt: skip
    keyframes = [made.times[index] for index in made.keyframes]
    if len(keyframes) != len(chunk.keyframes_at) or any(
        abs(a - b) > tolerance for a, b in zip(keyframes, chunk.keyframes_at, strict=True)
    ):
        raise FfmpegError(
            "invalid_output", f"chunk {chunk.index}'s keyframes are not where its segments start"
        )


def audio(video_id: str) -> None:
    """The audio rendition: the whole track once (AAC encoded in pieces drifts at the joins)."""
    with _finishing(video_id, AUDIO_HEIGHT) as found:
        if found is None:
            return
        renderer, video, folder = found
        config = renderer.config
        with renderer.media.staged(".m4a") as staged:
            encode = streaming.whole_audio(renderer.ffmpeg, renderer.source(video), staged)
            renderer.run_ffmpeg(encode, duration=video.duration or 0.0, timeout_s=config.ffmpeg.timeout_s)
            kept = renderer.media.put(video.id, AUDIO_FILE, staged)
        renderer.run_ffmpeg(
            streaming.audio_segments(renderer.ffmpeg, kept, folder, config.renditions.segment_s)
        )
        _publish(renderer, video, AUDIO_HEIGHT, folder, codecs=hls.AUDIO_CODECS)


def copied(video_id: str, rung: Rung, expected: list[float], frame_s: float) -> None:
    """The source's own video as the top rung, cut by the plan's rule."""
    with _finishing(video_id, rung.height) as found:
        if found is None:
            return
        renderer, video, folder = found
        source = renderer.source(video)
        config = renderer.config
        renderer.run_ffmpeg(
            streaming.copied_rung(renderer.ffmpeg, source, folder, rung.height, config.renditions.segment_s),
            duration=video.duration or 0.0,
            timeout_s=config.ffmpeg.timeout_s,
        )
        _check_segments(folder, rung.height, expected, frame_s)
        _mp4(renderer, video, rung.height, source.input())
        _publish(renderer, video, rung.height, folder)


def stitch(
    video_id: str, rung: Rung, chunks: list[Chunk], expected: list[float], frame_s: float, origin: float
) -> None:
    """The rung from its chunks, by copy, segment by segment, its first frame at `origin` (where
    the source has it, on the clock the audio keeps); then its MP4."""
    with _finishing(video_id, rung.height) as found:
        if found is None:
            return
        renderer, video, folder = found
        names = [chunk_name(rung.height, chunk.index) for chunk in chunks]
        paths = [renderer.media.get(video.id, name) for name in names]
        missing = [name for name, path in zip(names, paths, strict=True) if path is None]
        if missing:
            raise FfmpegError(
                "invalid_output", f"{len(missing)} chunks of the {rung.height} rung were not made"
            )
        listing = folder / f"chunks-{rung.height}.txt"
        listing.write_text(streaming.concat_list([(p, c.span) for p, c in zip(paths, chunks, strict=True)]))
        try:
            segment_s = renderer.config.renditions.segment_s
            command = streaming.stitched_rung(
                renderer.ffmpeg, listing, origin, folder, rung.height, segment_s
            )
            renderer.run_ffmpeg(command, duration=sum(expected), timeout_s=renderer.config.ffmpeg.timeout_s)
            _check_segments(folder, rung.height, expected, frame_s)
            _mp4(renderer, video, rung.height, streaming.stitched_chunks(listing, origin))
        finally:
            listing.unlink(missing_ok=True)
        _publish(renderer, video, rung.height, folder)
        renderer.media.remove(video.id, names)


def _check_segments(folder: Path, height: int, expected: list[float], frame_s: float) -> None:
    """Every segment starts where the plan says (so every rung switches on the same frame)."""
    playlist = hls.MediaPlaylist.parse((folder / streaming.rung_names(height)[0]).read_text())
    made = [segment.duration for segment in playlist.segments]
    tolerance = FRAME_TOLERANCE * frame_s
    if len(made) != len(expected) or any(
        abs(sum(made[:i]) - sum(expected[:i])) > tolerance for i in range(1, len(made) + 1)
    ):
        raise FfmpegError("invalid_output", f"the {height} rung's segments are {made}, planned {expected}")


def _mp4(renderer: Renderer, video: Video, height: int, video_input: list[str]) -> None:
    audio_file = renderer.media.get(video.id, AUDIO_FILE) if video.audio_codec else None
    with renderer.media.staged(".mp4") as staged:
        renderer.run_ffmpeg(streaming.mp4_rendition(renderer.ffmpeg, video_input, audio_file, staged),
                     duration=video.duration or 0.0, timeout_s=renderer.config.ffmpeg.timeout_s)  # fmt: skip
        renderer.media.put(video.id, streaming.mp4_name(height), staged)


def _publish(renderer: Renderer, video: Video, height: int, folder: Path, *, codecs: str = "") -> None:
    """Measure the rendition's segments, write its I-frame playlist, keep its files wherever
    media is kept, and list it (the row's status)."""
    playlist_name = streaming.rung_names(height)[0]
    playlist = hls.MediaPlaylist.parse((folder / playlist_name).read_text())
    measured = hls.measure(folder, playlist)
    names = [playlist_name, playlist.init or "", *(segment.uri for segment in playlist.segments)]
    frame_rate = 0.0
    if height != AUDIO_HEIGHT:
        (folder / streaming.iframes_name(height)).write_text(hls.iframe_playlist(folder, playlist))
        names.append(streaming.iframes_name(height))
        codecs = f"avc1.{isobmff.avc_profile(folder / (playlist.init or '')) or '640028'}"
        frame_rate = _frame_rate(video)
    renderer.media.upload_made(video.id, [name for name in names if name])
    Rendition.update(
        status=RenditionStatus.READY, peak_bps=measured.peak_bps, average_bps=measured.average_bps,
        codecs=codecs, frame_rate=frame_rate, error=None,
    ).where((Rendition.video == video.id) & (Rendition.height == height)).execute()  # fmt: skip


def _frame_rate(video: Video) -> float:
    try:
        return float(Fraction(video.frame_rate or "0"))
    except (ValueError, ZeroDivisionError):
        return 0.0


# -- the jobs' surroundings ---------------------------------------------------------------------


@contextlib.contextmanager
def _job(video_id: str) -> Iterator[tuple[Config, Renderer, Video | None]]:
    """`ready_video` with the worker's config. Whatever is made for a video deleted meanwhile
    goes with it."""
    with ready_video(video_id) as (renderer, video):
        try:
            yield renderer.config, renderer, video
        finally:
            if video is not None and not Video.select().where(Video.id == video.id).exists():
                renderer.delete_all(video.id)


@contextlib.contextmanager
def _finishing(video_id: str, height: int) -> Iterator[tuple[Renderer, Video, Path] | None]:
    """A job that publishes a rendition: None (nothing to do) when the video or its row is gone;
    a failure marks the row failed (logged, not retried: the rung is simply not offered)."""
    with _job(video_id) as (_config, renderer, video):
        if video is None or _rendition(video.id, height, RenditionStatus.ENCODING) is None:
            yield None
            return
        folder = renderer.media.path(video.id, streaming.rung_names(height)[0]).parent
        folder.mkdir(parents=True, exist_ok=True)
        try:
            yield renderer, video, folder
        except (FfmpegError, AvChildFailed, OSError, ValueError) as exc:
            log.warning("video %s: the %s rendition failed: %s", video.id, height or "audio", exc)
            Rendition.update(status=RenditionStatus.FAILED, error=str(exc)[:500]).where(
                (Rendition.video == video.id) & (Rendition.height == height)
            ).execute()


def _rendition(video_id: uuid.UUID, height: int, status: RenditionStatus) -> Rendition | None:
    """The row, moved to `status` unless it is ready or failed already."""
    Rendition.update(status=status).where(
        (Rendition.video == video_id) & (Rendition.height == height)
        & Rendition.status.in_([RenditionStatus.QUEUED, RenditionStatus.ENCODING])
    ).execute()  # fmt: skip
    return Rendition.get_or_none((Rendition.video == video_id) & (Rendition.height == height))


def _worker_name() -> str:
    job = get_current_job()
    return (job.worker_name if job and job.worker_name else None) or f"{socket.gethostname()}:{os.getppid()}"
