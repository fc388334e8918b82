"""`video-manager worker`: an RQ worker on the project's queue, plus its maintenance process.

A Redis outage of any length costs a wait, never the worker: RQ's own loop quits on an error it
does not expect (a heartbeat sent while Redis is gone, during a job), so the job's work horse is
left to finish (its outcome is in the database, not in Redis) and a fresh RQ worker takes over
once Redis answers again.

RQ forks a work horse per job. A fork taken while another thread of the parent holds SQLite's
(or any driver's) lock leaves the child deadlocked, so the parent does no database work once it
starts working: the maintenance sweeps run in a separate, spawned process, and each job opens
its own connection. Webhook deliveries have a spawned process of their own too
(processor.deliveries), so a slow receiver never holds a job.
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import os
import signal
import time

from redis import Redis
from redis.exceptions import RedisError
from rq import Worker
from rq.defaults import DEFAULT_LOGGING_DATE_FORMAT, DEFAULT_LOGGING_FORMAT
from rq.exceptions import StopRequested
from rq.scheduler import RQScheduler

import processor.jobs  # imported before forking, so each job's work horse starts warm
from processor.deliveries import delivery_loop
from processor.maintenance import maintenance_loop, remove_expired
from processor.queue import background_queue, job_queue, ladder_queue
from storage.database import db, open_database
from storage.schema import create_tables
from video_manager.config import Config
from video_manager.processes import die_with_parent_process
from video_manager.redis_client import connect

log = logging.getLogger(__name__)
REDIS_WAIT_MAX_S = 10.0
JOB_MONITORING_INTERVAL_S = 2  # how often RQ's heartbeat for a running job is sent (RQ's own: 30)


def run_worker(config: Config, *, burst: bool = False) -> bool:
    open_database(config.database_url)
    create_tables()
    processor.jobs.configure(config)  # reads the share signer's key from the database
    remove_expired(config)
    db.close()
    connection = connect(config, socket_timeout=None)
    spawn = multiprocessing.get_context("spawn")
    maintenance = spawn.Process(
        target=maintenance_loop, args=(config,), name="video-manager-maintenance", daemon=True
    )
    maintenance.start()
    deliveries = spawn.Process(
        target=delivery_loop, args=(config,), name="video-manager-webhooks", daemon=True
    )
    deliveries.start()
    stop_wanted, worked = False, False
    try:
        while not stop_wanted:
            signal.signal(signal.SIGTERM, _stop_waiting)  # RQ installs its own once working
            signal.signal(signal.SIGINT, _stop_waiting)
            try:
                _wait_for(connection)
            except StopRequested:
                break
            worker = OutageTolerantWorker(
                queues_for(config, connection),
                connection=connection,
                job_monitoring_interval=JOB_MONITORING_INTERVAL_S,
            )
            try:
                worked = worker.work(
                    with_scheduler=True,
                    burst=burst,
                    logging_level=logging.getLevelName(config.server.log_level.upper()),
                )
            except (RedisError, StopRequested) as exc:  # teardown needs Redis too
                log.warning("the RQ worker stopped on %s", type(exc).__name__)
                worked = False
            stop_wanted = burst or worker.stop_wanted
            _let_horse_finish(worker)
            if not stop_wanted:
                log.warning("the RQ worker lost Redis; a new one starts when Redis answers")
        return worked
    finally:
        for helper in (maintenance, deliveries):
            helper.terminate()
            helper.join(timeout=5)


def queues_for(config: Config, connection: Redis) -> list:
    # In priority order: tasks, then new videos' posters, then ladder encodes.
    return [
        job_queue(config, connection),
        background_queue(config, connection),
        ladder_queue(config, connection),
    ]


class OutageTolerantWorker(Worker):
    """An RQ worker whose bookkeeping rides out Redis going away while a job runs: heartbeats
    that cannot be sent are skipped (the job's own heartbeat is in the database), and a stop
    asked for meanwhile is remembered here rather than lost in a failed Redis call."""

    stop_wanted = False

    def heartbeat(self, timeout: int | None = None, pipeline=None) -> None:
        try:
            super().heartbeat(timeout, pipeline)
        except RedisError as exc:
            log.warning("worker heartbeat skipped: Redis is not answering (%s)", type(exc).__name__)

    def maintain_heartbeats(self, job) -> None:
        try:
            super().maintain_heartbeats(job)
        except RedisError as exc:
            log.warning("job heartbeat skipped: Redis is not answering (%s)", type(exc).__name__)

    def set_current_job_working_time(self, current_job_working_time: float, pipeline=None) -> None:
        with contextlib.suppress(RedisError):
            super().set_current_job_working_time(current_job_working_time, pipeline)

    def _start_scheduler(
        self,
        burst: bool = False,
        logging_level: str | None = "INFO",
        date_format: str = DEFAULT_LOGGING_DATE_FORMAT,
        log_format: str = DEFAULT_LOGGING_FORMAT,
    ) -> None:
        """RQ's own, with a scheduler process that ends when this worker is killed."""
        if burst:
            super()._start_scheduler(burst, logging_level, date_format, log_format)
            return
        self.scheduler = ParentBoundScheduler(
            self.queues, connection=self.connection, logging_level=logging_level or self.log.level,
            date_format=date_format, log_format=log_format, serializer=self.serializer,
        )  # fmt: skip
        self.scheduler.acquire_locks()
        if self.scheduler.acquired_locks:
            self.scheduler.start()

    def request_stop(self, signum, frame) -> None:
        self.stop_wanted = True
        try:
            super().request_stop(signum, frame)
        except RedisError:  # RQ asks Redis whether it is busy: answer that from here
            if self.horse_pid:
                self._stop_requested = True
            else:
                raise StopRequested() from None


class ParentBoundScheduler(RQScheduler):
    """RQ's scheduler, in a process the kernel ends with its worker (not left holding the lock)."""

    def work(self) -> None:
        die_with_parent_process(signal.SIGTERM)
        super().work()


def _let_horse_finish(worker: Worker) -> None:
    """A job still running when RQ's loop quit finishes before the next one may start."""
    horse = worker.horse_pid
    if horse:
        log.warning("waiting for the job in work horse %d to finish", horse)
        with contextlib.suppress(ChildProcessError):
            os.waitpid(horse, 0)


def _stop_waiting(_signum, _frame) -> None:
    raise StopRequested()


def _wait_for(connection: Redis) -> None:
    """RQ rides out a Redis outage once working, but cannot start without Redis: a worker
    started during one waits for it (and starts again if it goes away meanwhile) instead of
    exiting."""
    delay_s = 0.5
    while True:
        try:
            connection.ping()
            return
        except RedisError as exc:
            log.warning("Redis is not answering (%s); trying again in %.1f s", exc, delay_s)
            time.sleep(delay_s)
            delay_s = min(delay_s * 2, REDIS_WAIT_MAX_S)
