"""The work: `trim` and `merge` are plain functions that take ids and return the new video's id.

`run_task` is what RQ calls. It claims the task row, runs the function, and records the outcome:
`finished` with the video, or `failed` with a reason. Transient failures (ffmpeg stopped by a
shutdown, I/O and lost database connections) are retried up to `jobs.retries` times; bad input,
limits and data errors never are. While it runs, a heartbeat thread tells the maintenance sweep
the run is alive, however long ffmpeg stays silent.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import json
import logging
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from peewee import DatabaseError, InterfaceError, OperationalError
from redis.exceptions import RedisError
from rq import Queue, get_current_job

from processor import av_child, containers, ffmpeg, isobmff, side_tracks
from processor.cut_plan import CutPlan
from processor.dispatch import dispatch
from processor.ingest import Ingestor, media_info
from processor.probe import MediaInfo, frame_rate
from processor.queue import RUN_TASK, queue_preparation
from processor.runner import FfmpegError, run_ffmpeg
from processor.smart_cut import SmartCutter, SpliceError
from storage import quota
from storage.database import db, open_database, write_transaction
from storage.events import Announce, Announcer
from storage.models import Method, Task, TaskKind, TaskStatus, Video, VideoStatus
from storage.names import fit_name
from storage.stores import BlobStore
from storage.task_runs import TaskRun
from video_manager import binaries, metrics
from video_manager.config import Config
from video_manager.errors import InvalidVideoError

log = logging.getLogger(__name__)
PROGRESS_INTERVAL_S = 0.5
# The PyAV helpers a job runs as children, forked from the worker (see av_child.preload).
AV_HELPERS = ("processor.smart_cut_av", "processor.side_tracks_av", "processor.ladder_av")
REMUXED_FORMAT = "mov,mp4,m4a,3gp,3g2,mj2"  # what a remuxed window probes as
Progress = Callable[[float], None]


class JobInputError(ValueError):
    """The task cannot succeed as asked (a source vanished, for instance); never retried."""


_process_config: Config | None = None
_process_announce: Announcer | None = None


def configure(config: Config) -> None:
    """The worker process records the config it was started with; its jobs use that one. Its
    announcer is made ready here (the database open), before RQ forks a work horse per job."""
    global _process_config, _process_announce
    _process_config = config
    _process_announce = Announcer(config)
    _process_announce.warm()
    av_child.preload(*AV_HELPERS)


@dataclass(frozen=True)
class JobContext:
    config: Config
    ingestor: Ingestor
    ffmpeg: str
    encoding: ffmpeg.Encoding
    announce: Announce  # events for webhooks
    task_id: str = ""  # tags temp files, so a dead run's leftovers can be found

    @property
    def blobs(self) -> BlobStore:
        return self.ingestor.blobs

    def staged(self, suffix: str) -> contextlib.AbstractContextManager[Path]:
        """A scratch file for this task's output, tagged with the task so a dead run's
        leftovers can be found."""
        return self.blobs.scratch.staged_path(suffix, self.task_id)

    @classmethod
    def from_config(cls, config: Config, announce: Announce | None = None) -> JobContext:
        return cls(
            config=config,
            ingestor=Ingestor.from_config(config),
            ffmpeg=binaries.ffmpeg_path(config.ffmpeg.ffmpeg),
            encoding=ffmpeg.Encoding(crf=config.jobs.x264_crf, preset=config.jobs.x264_preset),
            announce=announce or Announcer(config),
        )


# -- the work ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Outcome:
    """What a job made, and how."""

    video_id: uuid.UUID
    method: Method


def trim(
    ctx: JobContext, owner_id: int, video_id: str, start: float, end: float, mode: str, progress: Progress
) -> Outcome:
    (source,) = _sources(ctx, owner_id, [video_id])
    video = Video.get_by_id(video_id)
    window = f" [{start:.3f}-{end:.3f}]"
    copied = functools.partial(
        _trim_copied, ctx, source, owner_id, Path(video.name).stem, window, end - start, progress
    )
    if mode == "fast":
        return copied(
            ffmpeg.result_muxer(source),
            source.media,
            lambda out: ffmpeg.trim_fast(ctx.ffmpeg, source, start, end, out),
            {"keyframe_for": start, "until": end},
        )
    cutter = _cutter(ctx)
    plan = cutter.plan(source, start, end)
    if plan and plan.intra_only:
        every_frame = ffmpeg.Window.from_plan(plan)
        return copied(
            ffmpeg.intra_copy_muxer(source),
            dataclasses.replace(source.media, audio_codec=ffmpeg.intra_copy_audio_codec(source)),
            lambda out: ffmpeg.trim_intra_copy(ctx.ffmpeg, source, every_frame, out),
            _result_window(every_frame),
        )
    name = fit_name(Path(video.name).stem, window + ".mp4")
    exact = ffmpeg.Window.from_plan(plan) if plan else ffmpeg.Window(start, end)

    def published(staged: Path, method: Method) -> Outcome:
        carried = _carry_side_tracks(ctx, source, staged, containers.MP4, _result_window(exact))
        known = None
        if method == Method.SMART:  # the source's video; its audio re-encoded as AAC at its rate
            audio = "aac" if source.has_audio else None
            known = _known_media(
                dataclasses.replace(source.media, audio_codec=audio, **carried), staged, containers.MP4
            )
        return Outcome(_publish(ctx, staged, owner_id, name, TaskKind.TRIM, known), method)

    with ctx.staged(".mp4") as staged:
        if plan and ctx.config.jobs.smart_cut and (plan.qualified or plan.remuxable):
            try:
                if plan.qualified:
                    cutter.cut(source, plan, staged, ctx.staged, progress)
                    return published(staged, Method.SMART)
                if _smart_cut_remuxed(ctx, cutter, source, plan, staged, progress):
                    return published(staged, Method.SMART)
            except SpliceError as exc:
                log.warning("smart cut could not join its pieces (%s); re-encoding the window", exc)
        _run(ctx, ffmpeg.trim_precise(ctx.ffmpeg, source, exact, staged, ctx.encoding), end - start, progress)
        return published(staged, Method.REENCODE)


def _trim_copied(
    ctx: JobContext,
    source: ffmpeg.Source,
    owner_id: int,
    stem: str,
    window: str,
    seconds: float,
    progress: Progress,
    muxer: containers.Muxer,
    media: MediaInfo,
    command_for: Callable[[Path], list[str]],
    result_window: dict,
) -> Outcome:
    """A stream-copied trim (fast, or every frame of an all-intra source) into the muxer chosen
    for its source, named after the source, the window and that muxer's suffix; `media` is what
    the copy holds, `result_window` where the source's subtitles and chapters are cut."""
    with ctx.staged(muxer.suffix) as staged:
        _run(ctx, command_for(staged), seconds, progress)
        carried = _carry_side_tracks(ctx, source, staged, muxer, result_window)
        name = fit_name(stem, window + muxer.suffix)
        known = _known_media(dataclasses.replace(media, **carried), staged, muxer)
        return Outcome(_publish(ctx, staged, owner_id, name, TaskKind.TRIM, known), Method.COPY)


def _result_window(window: ffmpeg.Window) -> dict:
    """Where a frame-exact trim's result starts and ends, in seconds from the file's start."""
    return {"zero": window.start - window.origin, "until": window.end - window.origin}


def _carry_side_tracks(
    ctx: JobContext, source: ffmpeg.Source, output: Path, muxer: containers.Muxer, result_window: dict
) -> dict:
    """The source's subtitle cues and chapters in the window and its timecode moved on to the
    result's first frame, muxed into `output`; what it then holds (MediaInfo's fields). A source
    whose side tracks cannot be read still gets its cut, without them (logged)."""
    if not _has_side_tracks(source):
        return NO_SIDE_TRACKS
    carried = _read_side_tracks(ctx, source, result_window)
    return _mux_side_tracks(ctx, carried, output, muxer, source.media) if carried else NO_SIDE_TRACKS


def _carry_merged_side_tracks(
    ctx: JobContext, sources: list[ffmpeg.Source], output: Path, muxer: containers.Muxer
) -> dict:
    """Each input's subtitle cues and chapters, at its place in the merge's `output`; the first
    input's timecode."""
    if not any(map(_has_side_tracks, sources)):
        return NO_SIDE_TRACKS
    parts, offset = [], 0.0
    for source in sources:
        whole = {"zero": 0.0, "until": source.media.duration}
        carried = _read_side_tracks(ctx, source, whole) if _has_side_tracks(source) else None
        parts.append((offset, carried or side_tracks.SideTracks([], [])))
        offset += source.media.duration
    return _mux_side_tracks(ctx, side_tracks.joined(parts), output, muxer, sources[0].media)


NO_SIDE_TRACKS = {"subtitle_tracks": 0, "chapters": 0, "timecode": None}


def _has_side_tracks(source: ffmpeg.Source) -> bool:
    return bool(source.media.subtitle_tracks or source.media.chapters or source.media.timecode)


def _read_side_tracks(
    ctx: JobContext, source: ffmpeg.Source, result_window: dict
) -> side_tracks.SideTracks | None:
    limits = ctx.config.ffmpeg
    try:
        return side_tracks.read_window(
            source, **result_window, timeout_s=limits.timeout_s, memory_limit_mb=limits.memory_limit_mb
        )
    except side_tracks.SideTracksUnreadable as exc:
        log.warning("the source's subtitles, chapters and timecode could not be read (%s); cut without", exc)
        return None


def _mux_side_tracks(
    ctx: JobContext, carried: side_tracks.SideTracks, output: Path, muxer: containers.Muxer, media: MediaInfo
) -> dict:
    rate = frame_rate(media.frame_rate)
    timecode = None
    if media.timecode and rate:
        timecode = side_tracks.shifted_timecode(media.timecode, round(carried.zero * rate), rate)
    run = functools.partial(_run, ctx, duration=1.0, progress=lambda _fraction: None)
    side_tracks.carry(ctx.ffmpeg, carried, output, muxer, ctx.staged, run, timecode)
    tracks = sum(bool(track.cues) for track in carried.tracks)
    return {"subtitle_tracks": tracks, "chapters": len(carried.chapters), "timecode": timecode}


def _known_media(media: MediaInfo, output: Path, muxer: containers.Muxer) -> MediaInfo | None:
    """What a result in MP4 or MOV made of its source's own streams holds (a stream copy, or a
    smart cut: copied frames and pieces in the same codec and format), known without probing
    it (a child process and a tenth of a second or more): `media`, for as long as its movie
    header says. None, so that it is probed, for other containers or a header we cannot read."""
    if muxer not in (containers.MP4, containers.MOV):
        return None
    duration = isobmff.presentation_duration(output)
    if not duration or duration <= 0:
        return None
    return dataclasses.replace(
        media, duration=duration, format_name=REMUXED_FORMAT, content_type=containers.ALLOWED["mov"]
    )


def merge(ctx: JobContext, owner_id: int, video_ids: list[str], progress: Progress) -> Outcome:
    sources = _sources(ctx, owner_id, video_ids)
    total = sum(source.media.duration for source in sources)
    first = Video.get_by_id(video_ids[0])
    more = f" + {len(sources) - 1} more"
    if ffmpeg.can_concat_by_copy(sources) and not _hides_frames(ctx, sources):
        muxer = ffmpeg.result_muxer(sources[0])
        with ctx.staged(muxer.suffix) as staged:
            with ctx.staged(".txt") as list_file:
                list_file.write_text(ffmpeg.concat_list(sources))
                command = ffmpeg.merge_copy(ctx.ffmpeg, list_file, staged, muxer, remote=ctx.blobs.remote)
                _run(ctx, command, total, progress)
            carried = _carry_merged_side_tracks(ctx, sources, staged, muxer)
            named = fit_name(Path(first.name).stem, more + muxer.suffix)
            streams = dataclasses.replace(sources[0].media, **carried)
            known = _known_media(streams, staged, muxer)  # every input holds the same streams
            return Outcome(_publish(ctx, staged, owner_id, named, TaskKind.MERGE, known), Method.COPY)
    name = fit_name(Path(first.name).stem, more + ".mp4")
    with ctx.staged(".mp4") as staged:
        _run(ctx, ffmpeg.merge_normalised(ctx.ffmpeg, sources, staged, ctx.encoding), total, progress)
        _carry_merged_side_tracks(ctx, sources, staged, containers.MP4)
        return Outcome(_publish(ctx, staged, owner_id, name, TaskKind.MERGE), Method.REENCODE)


def _smart_cut_remuxed(ctx: JobContext, cutter: SmartCutter, source: ffmpeg.Source, plan: CutPlan,
                       output: Path, progress: Progress) -> bool:  # fmt: skip
    """A smart cut of a Matroska or MPEG-TS source, spliced from its window's GOPs remuxed into
    MP4. False (the caller re-encodes) when the remux fails or its plan does not qualify or
    would hold other frames than the source's plan."""
    window = ffmpeg.Window.from_plan(plan)
    with ctx.staged(".mp4") as remuxed:
        command = ffmpeg.remux_window(
            ctx.ffmpeg, source, window, plan.seconds(plan.keyframe_before), plan.time_base, remuxed
        )
        try:
            _run(ctx, command, window.end - window.start, lambda _fraction: None)
        except FfmpegError as exc:
            if exc.transient:
                raise
            log.info("the window could not be remuxed for a smart cut (%s)", exc.detail)
            return False
        media = dataclasses.replace(source.media, format_name=REMUXED_FORMAT, content_type="video/mp4")
        copy = ffmpeg.Source(remuxed, media)
        again = cutter.plan(copy, window.start, window.end, ticks=(plan.first_pts, plan.end_pts))
        if again is None or not again.qualified or again.first_pts != plan.first_pts:
            log.info("the remuxed window cannot be smart-cut; re-encoding it")
            return False
        # the source's own last frame duration (Matroska's are rounded to its ticks) ends the audio
        cutter.cut(copy, dataclasses.replace(again, video_end=plan.video_end), output, ctx.staged, progress)
        return True


def _cutter(ctx: JobContext) -> SmartCutter:
    limits = ctx.config.ffmpeg
    return SmartCutter(ctx.ffmpeg, ctx.encoding, limits.timeout_s, limits.memory_limit_mb)


def _hides_frames(ctx: JobContext, sources: list[ffmpeg.Source]) -> bool:
    """Whether an MP4/MOV input's edit list hides frames at its start (a copy cut made
    elsewhere): the concat demuxer would show them, so such a merge is re-encoded."""
    cutter = _cutter(ctx)
    unique = {str(source.path): source for source in sources if source.media.demuxer == "mov"}
    return any(_edit_list_hides_frames(cutter, source) for source in unique.values())


def _edit_list_hides_frames(cutter: SmartCutter, source: ffmpeg.Source) -> bool:
    """Read from the file's boxes where it is here (no child process: a copy merge's fixed
    cost), else (object storage, or boxes it cannot read) by the PyAV child."""
    known = None if source.remote else isobmff.hides_frames(Path(source.path))
    return cutter.hides_frames(source) if known is None else known


def _sources(ctx: JobContext, owner_id: int, video_ids: list[str]) -> list[ffmpeg.Source]:
    """The inputs for ffmpeg: local files, or presigned URLs on object storage (a video named
    twice is looked up once)."""
    fetched: dict[str, ffmpeg.Source] = {}
    for video_id in dict.fromkeys(video_ids):
        video = Video.get_or_none(
            (Video.id == video_id) & (Video.owner == owner_id) & (Video.status == VideoStatus.READY)
        )
        if video is None or not ctx.blobs.exists(video.id):
            raise JobInputError(f"video {video_id} no longer exists")
        where = ctx.blobs.source(video.id)
        fetched[video_id] = ffmpeg.Source(path=where, media=media_info(video), remote=ctx.blobs.remote)
    return [fetched[video_id] for video_id in video_ids]


def _run(ctx: JobContext, command: list[str], duration: float, progress: Progress) -> None:
    run_ffmpeg(
        command,
        expected_duration=duration,
        timeout_s=ctx.config.ffmpeg.timeout_s,
        memory_limit_mb=ctx.config.ffmpeg.memory_limit_mb,
        on_progress=progress,
    )


def _publish(
    ctx: JobContext, staged: Path, owner_id: int, name: str, source: str, known: MediaInfo | None = None
) -> uuid.UUID:
    _hold_output(ctx, owner_id, staged.stat().st_size)
    try:
        video = ctx.ingestor.ingest(
            staged, video_id=uuid.uuid4(), owner_id=owner_id, name=name, source=source, known=known
        )
    except InvalidVideoError as exc:
        raise FfmpegError("invalid_output", f"ffmpeg produced no usable video ({exc})") from exc
    return video.id


def _hold_output(ctx: JobContext, owner_id: int, size: int) -> None:
    """The output's real size takes the place of the task's estimate in the quota; past the
    quota the task fails, and nothing of its output is stored (it is still scratch)."""
    limit = ctx.config.limits.user_quota_bytes
    if not limit:
        return
    purpose = quota.task_purpose(ctx.task_id)
    try:
        with write_transaction():
            quota.release_for(purpose)
            quota.reserve(owner_id, size, limit, purpose=purpose)
    except quota.QuotaExceededError:
        raise FfmpegError(
            "quota_exceeded",
            f"The result ({size} bytes) would take your storage past your {limit}-byte quota.",
        ) from None


WORK = {TaskKind.TRIM: trim, TaskKind.MERGE: merge}


# -- the RQ entry point ------------------------------------------------------------------------


def process_config() -> Config:
    """The config of the worker running this job."""
    if _process_config is None:
        raise RuntimeError("jobs run in a worker started by `video-manager worker` (no config)")
    return _process_config


def run_task(task_id: str) -> str | None:
    """Claim the task, do its work, record the outcome. Returns the new video id, if any."""
    config = process_config()
    open_database(config.database_url)
    with db.connection_context():
        ctx = dataclasses.replace(JobContext.from_config(config, _process_announce), task_id=task_id)
        made = _run_task(ctx, task_id, requeue=_requeue_with_rq)
        _next_in_line(config, task_id)
    if made is not None:
        connection = get_current_job().connection
        try:  # its poster; without Redis now, it is made when first asked for
            queue_preparation(config, connection, made)
        except RedisError as exc:
            log.warning("poster of %s not queued: Redis is not answering (%s)", made, type(exc).__name__)
    return made


def _next_in_line(config: Config, task_id: str) -> None:
    """A task that ended lets its owner's next one into the queue (processor.dispatch)."""
    task = Task.get_or_none(Task.id == task_id)
    if task is None or task.status not in (TaskStatus.FINISHED, TaskStatus.FAILED):
        return
    quota.release_for(quota.task_purpose(task_id))  # its output counts as a video now, if any
    try:
        dispatch(task.owner_id, config.limits.user_jobs_in_flight, _current_queue())
    except RedisError as exc:  # the maintenance sweep lets it in later
        log.warning("next task of user %s not queued: %s", task.owner_id, type(exc).__name__)


def _run_task(ctx: JobContext, task_id: str, requeue: Callable[[str, int, float], None]) -> str | None:
    run = TaskRun.claim(task_id, ctx.announce)
    if run is None:
        log.info("task %s is not queued any more; skipping", task_id)
        return None
    task = Task.get_by_id(task_id)
    params = json.loads(task.params)
    started = time.monotonic()

    def ended(how: str) -> None:
        mode = params.get("mode", "")
        metrics.TASKS.labels(task.kind, mode, how).inc()
        metrics.TASK_SECONDS.labels(task.kind, mode).observe(time.monotonic() - started)

    try:
        with _heartbeat(ctx, run):
            outcome = WORK[task.kind](ctx, task.owner_id, progress=_progress_writer(run), **params)
    except (JobInputError, FfmpegError, DatabaseError, OSError) as exc:
        code, detail, transient = _describe(exc)
        if transient and run.attempt <= ctx.config.jobs.retries:
            log.warning("task %s attempt %d failed (%s); retrying", task_id, run.attempt, code)
            if run.requeue():
                requeue(task_id, run.attempt, ctx.config.jobs.retry_delay_s)
            ended("retried")
            return None
        run.fail(code, detail, ctx.announce)
        ended("failed")
        return None
    if not run.finish(outcome.video_id, outcome.method, ctx.announce):
        # Presumed dead and retried elsewhere meanwhile: the newer run owns the outcome.
        Video.delete().where(Video.id == outcome.video_id).execute()
        ctx.blobs.delete_video(outcome.video_id)
        return None
    ended("finished")
    return str(outcome.video_id)


@contextlib.contextmanager
def _heartbeat(ctx: JobContext, run: TaskRun):
    """While the work runs, a thread marks the task alive (and keeps its temp files fresh), so a
    long silent stretch of ffmpeg (a sparse-keyframe seek) is never taken for a dead worker."""
    stop = threading.Event()
    interval = max(0.5, ctx.config.jobs.heartbeat_timeout_s / 4)

    def beat() -> None:
        while not stop.wait(interval):
            ctx.blobs.scratch.touch_staged(ctx.task_id)
            try:
                with db.connection_context():
                    run.beat()
            except DatabaseError as exc:
                log.warning("heartbeat not written: %s", type(exc).__name__)

    thread = threading.Thread(target=beat, name=f"heartbeat-{ctx.task_id}", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()


def _progress_writer(run: TaskRun) -> Progress:
    """Progress and heartbeat, written at most every PROGRESS_INTERVAL_S."""
    last = 0.0

    def write(fraction: float) -> None:
        nonlocal last
        now = time.monotonic()
        if now - last >= PROGRESS_INTERVAL_S or fraction >= 1.0:
            last = now
            run.beat(progress=fraction)

    return write


def _describe(exc: Exception) -> tuple[str, str, bool]:
    """(error code, detail for the client, transient?)"""
    if isinstance(exc, FfmpegError):
        return exc.code, exc.detail, exc.transient
    if isinstance(exc, JobInputError):
        return "invalid_input", f"{exc}", False
    if isinstance(exc, DatabaseError) and not isinstance(exc, OperationalError | InterfaceError):
        return "database_error", f"the database refused the result ({type(exc).__name__})", False
    return "internal_error", f"the worker hit a temporary error ({type(exc).__name__})", True


def _current_queue() -> Queue:
    """The queue of the job this worker is running."""
    job = get_current_job()
    return Queue(job.origin, connection=job.connection)


def _requeue_with_rq(task_id: str, attempt: int, delay_s: float) -> None:
    retry_id = f"{task_id}-retry{attempt}"
    _current_queue().enqueue_in(timedelta(seconds=delay_s), RUN_TASK, task_id, job_id=retry_id)
