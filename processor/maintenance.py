"""Housekeeping beside the worker, in a process of its own (see processor.worker for why).

- Lost tasks: a `started` task whose heartbeat stopped (its worker was killed) is retried while
  it has retries left, else marked `failed` with `worker_lost`; it never stays `started`. Only
  temp files the dead run stopped touching are removed, never those of a run still alive.
- Orphaned tasks: a `queued` task whose RQ job is gone (Redis lost it, or a worker died between
  taking the job and claiming the row) is queued again.
- Waiting tasks: tasks waiting for their owner's turn (processor.dispatch) are let in when it
  has come and nothing else did it (an outage, a dead worker).
- Lost ladders: adaptive ladders whose unfinished renditions' jobs Redis no longer has are
  forgotten, so the next request for them plans them again.
- Expiration: unfinished uploads past `tus.expiry_s` go with their bytes, unless a request holds
  them; stale temp files, old webhook deliveries and media of videos that no longer exist
  too. `video-manager cleanup` runs this part once.
"""

from __future__ import annotations

import logging
import signal
import time
from datetime import timedelta

from rq import Queue
from rq.registry import DeferredJobRegistry, ScheduledJobRegistry, StartedJobRegistry

from processor.dispatch import UNFINISHED, dispatch, owners_waiting
from processor.ladder_jobs import forget_lost_ladders
from processor.queue import RUN_TASK
from processor.renditions import sweep_orphaned_media
from storage import quota, webhooks
from storage.chunks import ChunkStore
from storage.database import db, open_database
from storage.events import Announce, Announcer
from storage.factory import media_store_from_config, scratch_spaces, video_scratch
from storage.models import Reservation, Task, TaskStatus, utcnow
from storage.task_runs import TaskRun
from storage.uploads import UploadStore
from video_manager import metrics
from video_manager.config import Config
from video_manager.processes import die_with_parent_process

log = logging.getLogger(__name__)
DELIVERY_HISTORY_S = 30 * 86400  # ended webhook deliveries are listed this long, then forgotten


def remove_expired(config: Config) -> dict[str, int]:
    with db.connection_context():
        removed = {
            "uploads": UploadStore.from_config(config).remove_expired(),
            "chunked_uploads": ChunkStore.from_config(config).remove_expired(),
            "webhook_deliveries": webhooks.prune_finished(DELIVERY_HISTORY_S),
        }
        removed["orphaned_media"] = sweep_orphaned_media(media_store_from_config(config))
        removed["reservations"] = quota.forget_expired() + _release_ended_tasks()
    metrics.UPLOADS.labels("expired").inc(removed["uploads"])
    removed["temp_files"] = sum(scratch.sweep_stale_temps() for scratch in scratch_spaces(config))
    if any(removed.values()):
        log.info("cleanup removed %s", removed)
    return removed


def _release_ended_tasks() -> int:
    """Room held for tasks that ended without letting go (their worker died at the end)."""
    unfinished = {
        quota.task_purpose(task.id) for task in Task.select(Task.id).where(Task.status.in_(UNFINISHED))
    }
    held = Reservation.select().where(Reservation.purpose.startswith("task:"))
    ended = [row.id for row in held if row.purpose not in unfinished]
    return Reservation.delete().where(Reservation.id.in_(ended)).execute() if ended else 0


def recover_lost_tasks(config: Config, queue: Queue, announce: Announce) -> int:
    cutoff = utcnow() - timedelta(seconds=config.jobs.heartbeat_timeout_s)
    recovered = 0
    scratch = video_scratch(config)
    with db.connection_context():
        lost = list(Task.select().where((Task.status == TaskStatus.STARTED) & (Task.heartbeat_at < cutoff)))
        for task in lost:
            scratch.remove_staged(str(task.id), older_than_s=config.jobs.heartbeat_timeout_s)
            run = TaskRun.of(task)
            if task.attempt <= config.jobs.retries:
                if run.requeue():
                    queue.enqueue(RUN_TASK, str(task.id), job_id=f"{task.id}-recover{task.attempt}")
                    log.warning("task %s lost its worker; queued again", task.id)
            else:
                detail = "the worker running this task stopped, and no retries are left"
                run.fail("worker_lost", detail, announce)
                log.warning("task %s lost its worker; failed", task.id)
            recovered += 1
    return recovered


def requeue_orphans(config: Config, queue: Queue) -> int:
    """Queue again the `queued` tasks let into the queue that no RQ job will ever run."""
    cutoff = utcnow() - timedelta(seconds=config.jobs.heartbeat_timeout_s)
    with db.connection_context():
        waiting = list(
            Task.select().where(
                (Task.status == TaskStatus.QUEUED)
                & (Task.dispatched_at < cutoff)
                & (Task.created_at < cutoff)
            )
        )
        if not waiting:
            return 0
        known = _task_ids_with_jobs(queue)
        orphans = [task for task in waiting if str(task.id) not in known]
        for task in orphans:
            queue.enqueue(RUN_TASK, str(task.id), job_id=f"{task.id}-orphan{int(time.time())}")
            log.warning("task %s had no job in the queue; queued again", task.id)
    return len(orphans)


def let_in_waiting(config: Config, queue: Queue) -> int:
    """Tasks still waiting for their owner's turn while it has come (their owner's last task
    ended during a Redis outage, or its worker died): let them in now."""
    with db.connection_context():
        return sum(dispatch(owner, config.limits.user_jobs_in_flight, queue) for owner in owners_waiting())


def _task_ids_with_jobs(queue: Queue) -> set[str]:
    """Task ids of every job RQ still holds: waiting, scheduled (a retry), deferred or running."""
    job_ids = set(queue.get_job_ids())
    for registry in (ScheduledJobRegistry, DeferredJobRegistry, StartedJobRegistry):
        job_ids.update(registry(queue=queue).get_job_ids())
    return {job_id[:36] for job_id in job_ids}


def maintenance_loop(config: Config) -> None:
    """The maintenance process: sweeps every heartbeat_timeout/3 s, cleanup every interval."""
    die_with_parent_process(signal.SIGTERM)  # a SIGKILLed worker leaves no helper behind
    from processor.queue import job_queue
    from video_manager.redis_client import connect

    logging.basicConfig(level=config.server.log_level.upper(), format="%(asctime)s %(name)s %(message)s")
    open_database(config.database_url)
    queue = job_queue(config, connect(config))
    announce = Announcer(config)
    every = max(1.0, config.jobs.heartbeat_timeout_s / 3)
    next_cleanup = time.monotonic() + config.tus.cleanup_interval_s
    while True:
        time.sleep(every)
        try:
            recover_lost_tasks(config, queue, announce)
            requeue_orphans(config, queue)
            let_in_waiting(config, queue)
            if time.monotonic() >= next_cleanup:
                next_cleanup = time.monotonic() + config.tus.cleanup_interval_s
                remove_expired(config)
                with db.connection_context():
                    forget_lost_ladders(media_store_from_config(config), queue.connection)
        except Exception:
            log.exception("maintenance failed; will retry")
