"""What viewers need, made from a video: the poster and storyboard, thumbnails at any time, and
a `+faststart` copy of an MP4 whose index is at the end (the adaptive ladder is
processor.ladder_jobs').

`Renderer` makes each one (the server uses it for thumbnails on demand and for a poster that
is not there yet); the RQ entry points below are the worker's side: `prepare` at ingest (the
poster and the faststart copy, from the background queue, and the ladder's planning when
`renditions.on_upload`), `storyboard` when first asked for.
"""

from __future__ import annotations

import contextlib
import json
import logging
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from rq import get_current_job

from processor import isobmff, stills, streaming
from processor.ffmpeg import Source
from processor.ingest import media_info
from processor.queue import LADDER, job_queue
from processor.runner import FfmpegError, run_ffmpeg
from storage.database import db, open_database
from storage.factory import blob_store_from_config, media_store_from_config
from storage.locks import Locker, locker_from_config
from storage.models import Video, VideoStatus
from storage.stores import BlobStore, MediaStore
from video_manager import binaries
from video_manager.config import Config

log = logging.getLogger(__name__)
POSTER = "poster.jpg"
SPRITE = "storyboard.jpg"
STORYBOARD = "storyboard.json"
FASTSTART = "faststart.mp4"
THUMBNAILS_KEPT = 64  # per video and host; the oldest go first
PICTURE_TIMEOUT_S = 60


@dataclass(frozen=True)
class Renderer:
    config: Config
    media: MediaStore
    blobs: BlobStore
    locks: Locker
    ffmpeg: str

    @classmethod
    def from_config(cls, config: Config) -> Renderer:
        return cls(
            config=config,
            media=media_store_from_config(config),
            blobs=blob_store_from_config(config),
            locks=locker_from_config(config),
            ffmpeg=binaries.ffmpeg_path(config.ffmpeg.ffmpeg),
        )

    def source(self, video: Video) -> Source:
        return Source(path=self.blobs.source(video.id), media=media_info(video), remote=self.blobs.remote)

    def run_ffmpeg(
        self,
        command: list[str],
        *,
        duration: float = 0.0,
        timeout_s: float = PICTURE_TIMEOUT_S,
        on_progress: Callable[[float], None] | None = None,
    ) -> None:
        run_ffmpeg(
            command,
            expected_duration=duration,
            timeout_s=min(timeout_s, self.config.ffmpeg.timeout_s),
            memory_limit_mb=self.config.ffmpeg.memory_limit_mb,
            on_progress=on_progress,
        )

    # -- pictures ------------------------------------------------------------------------------

    def poster(self, video: Video) -> Path:
        made = self.media.get(video.id, POSTER)
        if made is not None:
            return made
        with self.media.staged(".jpg") as staged:
            for command in stills.poster_attempts(self.ffmpeg, self.source(video), staged):
                self.run_ffmpeg(command)
                if staged.stat().st_size:
                    return self.media.put(video.id, POSTER, staged)
            raise FfmpegError("invalid_output", "ffmpeg wrote no poster: the video has no frame to show")

    def thumbnail(self, video: Video, seconds: float, width: int) -> Path:
        """The frame on screen at `seconds`, kept on this host for the next time it is asked."""
        name = f"thumb-{round(seconds * 1000)}-{width}.jpg"
        made = self.media.get(video.id, name)
        if made is not None:
            return made
        with self.media.staged(".jpg") as staged:
            self.run_ffmpeg(stills.frame_at(self.ffmpeg, self.source(video), seconds, width, staged))
            kept = self.media.cache(video.id, name, staged)
        older = self.media.names(video.id, "thumb-")
        if len(older) > THUMBNAILS_KEPT:
            by_age = sorted(older, key=lambda n: self.media.path(video.id, n).stat().st_mtime)
            self.media.remove(video.id, [n for n in by_age[: len(older) - THUMBNAILS_KEPT] if n != name])
        return kept

    def storyboard(self, video: Video) -> stills.Storyboard:
        made = self.storyboard_if_made(video)
        if made is not None:
            return made
        board = stills.Storyboard.for_duration(video.duration or 0.0)
        with self.media.staged(".jpg") as sprite, self.media.staged(".json") as layout:
            self.run_ffmpeg(stills.storyboard(self.ffmpeg, self.source(video), board, sprite),
                      duration=video.duration or 0.0, timeout_s=self.config.ffmpeg.timeout_s)  # fmt: skip
            layout.write_text(json.dumps(board.as_dict()))
            self.media.put(video.id, SPRITE, sprite)
            self.media.put(video.id, STORYBOARD, layout)  # last: its presence means both are there
        return board

    def storyboard_if_made(self, video: Video) -> stills.Storyboard | None:
        layout = self.media.get(video.id, STORYBOARD)
        return stills.Storyboard(**json.loads(layout.read_text())) if layout else None

    # -- playback ------------------------------------------------------------------------------

    def faststart(self, video: Video) -> Path | None:
        """A copy with the index in front, when the stored MP4 has it at the end (local store)."""
        stored = self.blobs.local_file(video.id)
        if stored is None or video.content_type != "video/mp4" or not isobmff.index_at_end(stored):
            return None
        made = self.media.get(video.id, FASTSTART)
        if made is not None:
            return made
        with self.media.staged(".mp4") as staged:
            self.run_ffmpeg(streaming.faststart(self.ffmpeg, self.source(video), staged),
                      duration=video.duration or 0.0, timeout_s=self.config.ffmpeg.timeout_s)  # fmt: skip
            return self.media.put(video.id, FASTSTART, staged)

    def faststart_if_made(self, video: Video) -> Path | None:
        return None if self.blobs.local_file(video.id) is None else self.media.get(video.id, FASTSTART)

    def delete_all(self, video_id: uuid.UUID) -> None:
        """Everything made for a video, and its lock, when the video goes."""
        self.media.delete_all(video_id)
        self.locks.forget(ladder_lock(video_id))


def ladder_lock(video_id: uuid.UUID) -> str:
    return f"ladder-{video_id}"


def sweep_orphaned_media(media: MediaStore) -> int:
    """Remove what was made for videos that no longer exist (a render that outlived a deletion
    on a host that crashed, say); how many videos' media went."""
    found = media.video_ids()
    if not found:
        return 0
    existing = {row.id for row in Video.select(Video.id).where(Video.id.in_(list(found)))}
    gone = found - existing
    for video_id in gone:
        media.delete_all(video_id)
    return len(gone)


# -- the worker's jobs -----------------------------------------------------------------------------


def prepare(video_id: str) -> None:
    """At ingest: the poster, and the faststart copy if needed."""
    with _video(video_id) as (renderer, video):
        if video is None:
            return
        started = time.monotonic()
        renderer.poster(video)
        renderer.faststart(video)
        if renderer.config.renditions.enabled and renderer.config.renditions.on_upload:
            job_queue(renderer.config, get_current_job().connection).enqueue(
                LADDER, video_id, job_id=f"ladder-{video_id}"
            )
        log.info("video %s prepared for viewing in %.2f s", video_id, time.monotonic() - started)


def storyboard(video_id: str) -> None:
    with _video(video_id) as (renderer, video):
        if video is not None:
            renderer.storyboard(video)


@contextlib.contextmanager
def ready_video(video_id: str) -> Iterator[tuple[Renderer, Video | None]]:
    """A job's renderer (on the worker's config) and the ready video (None if it went
    meanwhile), with a database connection."""
    from processor.jobs import process_config

    config = process_config()
    open_database(config.database_url)
    renderer = Renderer.from_config(config)
    with db.connection_context():
        yield renderer, Video.get_or_none((Video.id == video_id) & (Video.status == VideoStatus.READY))


@contextlib.contextmanager
def _video(video_id: str) -> Iterator[tuple[Renderer, Video | None]]:
    """`ready_video`, a failure logged, not retried: whoever asks for the picture next has it
    made then."""
    with ready_video(video_id) as (renderer, video):
        try:
            yield renderer, video
        except (FfmpegError, OSError) as exc:
            log.warning("could not make what viewers need of video %s: %s", video_id, exc)
