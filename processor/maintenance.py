"""Housekeeping the worker daemon does on timers, besides running jobs.

- Lost tasks: a `started` task whose heartbeat stopped (its worker was killed) is retried while
  it has retries left, else marked `failed` with `worker_lost`; it never stays `started`.
- Expiration: unfinished uploads past `tus.expiry_s` go with their bytes; stale temp files too.
  `video-manager cleanup` runs this part once.
"""

from __future__ import annotations

import logging
import threading
import time
from datetime import timedelta

from rq import Queue

from config import Config
from storage.blobs import BlobStore
from storage.chunks import ChunkStore
from storage.database import db
from storage.models import Task, TaskStatus, utcnow
from storage.uploads import UploadStore

log = logging.getLogger(__name__)


def remove_expired(config: Config) -> dict[str, int]:
    with db.connection_context():
        removed = {
            "uploads": UploadStore.from_config(config).remove_expired(),
            "chunked_uploads": ChunkStore.from_config(config).remove_expired(),
        }
    removed["temp_files"] = BlobStore(config.data_dir).sweep_stale_temps()
    if any(removed.values()):
        log.info("cleanup removed %s", removed)
    return removed


def recover_lost_tasks(config: Config, queue: Queue) -> int:
    from processor.jobs import run_task

    cutoff = utcnow() - timedelta(seconds=config.jobs.heartbeat_timeout_s)
    recovered = 0
    blobs = BlobStore(config.data_dir)
    with db.connection_context():
        lost = list(Task.select().where((Task.status == TaskStatus.STARTED) & (Task.heartbeat_at < cutoff)))
        for task in lost:
            blobs.remove_staged(str(task.id))
            still_lost = (
                (Task.id == task.id) & (Task.attempt == task.attempt) & (Task.status == TaskStatus.STARTED)
            )
            if task.attempt <= config.jobs.retries:
                if Task.update(status=TaskStatus.QUEUED, progress=0.0).where(still_lost).execute():
                    queue.enqueue(run_task, str(task.id), job_id=f"{task.id}-recover{task.attempt}")
                    log.warning("task %s lost its worker; queued again", task.id)
            else:
                Task.update(
                    status=TaskStatus.FAILED,
                    error_code="worker_lost",
                    error_detail="the worker running this task stopped, and no retries are left",
                    ended_at=utcnow(),
                ).where(still_lost).execute()
                log.warning("task %s lost its worker; failed", task.id)
            recovered += 1
    return recovered


def start_maintenance(config: Config, queue: Queue) -> threading.Event:
    """A daemon thread in the worker's main process; set the returned event to stop it."""
    stop = threading.Event()
    lost_every = max(1.0, config.jobs.heartbeat_timeout_s / 3)

    def loop() -> None:
        next_cleanup = time.monotonic() + config.tus.cleanup_interval_s
        while not stop.wait(lost_every):
            try:
                recover_lost_tasks(config, queue)
                if time.monotonic() >= next_cleanup:
                    next_cleanup = time.monotonic() + config.tus.cleanup_interval_s
                    remove_expired(config)
            except Exception:
                log.exception("maintenance failed; will retry")

    threading.Thread(target=loop, name="maintenance", daemon=True).start()
    return stop
