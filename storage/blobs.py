"""Video files, and the scratch space beside them. Every finished file appears at its final
place in one atomic step.

Writers fill a temporary file inside `data/tmp` (same filesystem as `data/videos`) and only a
link/rename publishes it, so a crash, a dropped client or a failed ffmpeg run can never leave a
half-written file where a finished one is expected. With object storage (`S3BlobStore`) the
scratch stays local and a finished video is one object, uploaded whole before it is recorded.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import IO, TYPE_CHECKING

from storage.offload import off_loop

if TYPE_CHECKING:
    from storage.backends.local_uploads import LocalUploadData
from video_manager.config import Config

STALE_TEMP_AGE_S = 24 * 3600
COPY_BLOCK = 64 * 1024 * 1024


def append_file(source: Path, target_fd: int, count: int) -> None:
    """Append `count` bytes of `source` at the target's position, copied inside the kernel."""
    with open(source, "rb") as handle:
        while count > 0:
            copied = os.copy_file_range(handle.fileno(), target_fd, min(count, COPY_BLOCK))
            if copied == 0:
                raise OSError(f"{source.name} is shorter than expected")
            count -= copied


def sharded(root: Path, video_id: uuid.UUID) -> Path:
    """`root/<first two hex digits>/<id>`: paths come from our own UUIDs only, never from names
    a client sent."""
    video_id = uuid.UUID(str(video_id))
    return root / video_id.hex[:2] / str(video_id)


@contextlib.contextmanager
def staged_file(directory: Path, prefix: str, suffix: str) -> Iterator[Path]:
    """A new empty file in `directory` for a program to write; removed on exit unless it was
    moved or linked into place meanwhile (then only this name goes)."""
    fd, name = tempfile.mkstemp(dir=directory, prefix=prefix, suffix=suffix)
    os.close(fd)
    path = Path(name)
    try:
        yield path
    finally:
        path.unlink(missing_ok=True)


class BlobStore:
    """Videos on local disk (`data/videos/`)."""

    remote = False

    def __init__(self, data_dir: Path) -> None:
        self.videos_dir = data_dir / "videos"
        self.tmp_dir = data_dir / "tmp"
        self.videos_dir.mkdir(parents=True, exist_ok=True)
        self.tmp_dir.mkdir(parents=True, exist_ok=True)

    def video_path(self, video_id: uuid.UUID) -> Path:
        return sharded(self.videos_dir, video_id)

    def temp_file(self) -> IO[bytes]:
        """A temp file that deletes its name when closed; `publish` links the bytes first."""
        return tempfile.NamedTemporaryFile(dir=self.tmp_dir, prefix="upload-", delete=True)

    @contextlib.contextmanager
    def staged_path(self, suffix: str = "", tag: str = "") -> Iterator[Path]:
        """A temp path for a program (ffmpeg) to write; removed afterwards (published or not).

        `tag` (a task id) names the file so that the leftovers of a killed worker can be found.
        """
        with staged_file(self.tmp_dir, f"stage-{tag}-", suffix) as path:
            yield path

    def publish(self, staged: Path, video_id: uuid.UUID) -> Path:
        """Make a finished file durable and hard-link it to the video's final path.

        Linking never overwrites an existing video; the staged name is removed by its owner
        (the temp file's close, or `staged_path`'s exit).
        """
        with open(staged, "rb") as handle:
            off_loop(os.fsync, handle.fileno())
        final = self.video_path(video_id)
        final.parent.mkdir(parents=True, exist_ok=True)
        os.link(staged, final)
        return final

    def publish_upload(self, data: LocalUploadData, upload_id: uuid.UUID, video_id: uuid.UUID) -> None:
        """A finished tus upload becomes the video's file (a hard link: no copy). Linked already
        by a run that died before recording the video, it is left as it is."""
        received, final = data.local_path(upload_id), self.video_path(video_id)
        if final.exists() and os.path.samefile(received, final):
            return
        self.publish(received, video_id)

    def touch_staged(self, tag: str) -> None:
        """A live run marks its temp files fresh, so `remove_staged` never takes them."""
        for staged in self.tmp_dir.glob(f"stage-{tag}-*"):
            with contextlib.suppress(FileNotFoundError):
                os.utime(staged)

    def remove_staged(self, tag: str, older_than_s: float) -> int:
        """Remove a dead run's temp files: those its heartbeat stopped touching."""
        cutoff = time.time() - older_than_s
        removed = 0
        for leftover in self.tmp_dir.glob(f"stage-{tag}-*"):
            with contextlib.suppress(FileNotFoundError):
                if leftover.stat().st_mtime < cutoff:
                    leftover.unlink()
                    removed += 1
        return removed

    def delete_video(self, video_id: uuid.UUID) -> None:
        self.video_path(video_id).unlink(missing_ok=True)

    def exists(self, video_id: uuid.UUID) -> bool:
        return self.video_path(video_id).is_file()

    def source(self, video_id: uuid.UUID) -> Path | str:
        """Where ffmpeg reads the video: here the file itself."""
        return self.video_path(video_id)

    def sweep_stale_temps(self, max_age_s: float = STALE_TEMP_AGE_S) -> int:
        return sweep_stale(self.tmp_dir, max_age_s)


def sweep_stale(directory: Path, max_age_s: float = STALE_TEMP_AGE_S) -> int:
    """Remove temp files left by a process that was killed; returns how many went."""
    cutoff = time.time() - max_age_s
    removed = 0
    for entry in directory.iterdir():
        with contextlib.suppress(FileNotFoundError):
            if entry.is_file() and entry.stat().st_mtime < cutoff:
                entry.unlink()
                removed += 1
    return removed


def blob_store_from_config(config: Config) -> BlobStore:
    if not config.on_object_storage:
        return BlobStore(config.data_dir)
    from storage.backends.s3_uploads import s3_client_from_config
    from storage.s3_blobs import S3BlobStore

    return S3BlobStore(
        config.data_dir,
        s3_client_from_config(config),
        config.s3.bucket,
        prefix=config.s3.prefix,
        part_size=config.s3.part_size,
    )
