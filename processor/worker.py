"""`video-manager worker`: an RQ worker on the project's queue, plus its maintenance process.

RQ forks a work horse per job. A fork taken while another thread of the parent holds SQLite's
(or any driver's) lock leaves the child deadlocked, so the parent does no database work once it
starts working: the maintenance sweeps run in a separate, spawned process, and each job opens
its own connection. Webhook deliveries have a spawned process of their own too
(processor.deliveries), so a slow receiver never holds a job.
"""

from __future__ import annotations

import logging
import multiprocessing
import time

from redis import Redis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError
from rq import Worker

import processor.jobs  # imported before forking, so each job's work horse starts warm
from processor.deliveries import delivery_loop
from processor.maintenance import maintenance_loop, remove_expired
from processor.queue import background_queue, job_queue
from storage.database import db, open_database
from storage.schema import create_tables
from video_manager.config import Config
from video_manager.redis_client import connect

log = logging.getLogger(__name__)
REDIS_WAIT_MAX_S = 10.0


def run_worker(config: Config, *, burst: bool = False) -> bool:
    processor.jobs.configure(config)
    open_database(config.database_url)
    create_tables()
    remove_expired(config)
    db.close()
    connection = connect(config, socket_timeout=None)
    queue = job_queue(config, connection)
    spawn = multiprocessing.get_context("spawn")
    maintenance = spawn.Process(
        target=maintenance_loop, args=(config,), name="video-manager-maintenance", daemon=True
    )
    maintenance.start()
    deliveries = spawn.Process(
        target=delivery_loop, args=(config,), name="video-manager-webhooks", daemon=True
    )
    deliveries.start()
    try:
        while True:
            _wait_for(connection)
            try:
                queues = [queue, background_queue(config, connection)]  # in this order of priority
                return Worker(queues, connection=connection).work(
                    with_scheduler=True,
                    burst=burst,
                    logging_level=logging.getLevelName(config.server.log_level.upper()),
                )
            except RedisConnectionError as exc:  # lost while starting, before RQ's own retries
                log.warning("Redis went away while the worker started (%s)", exc)
    finally:
        for helper in (maintenance, deliveries):
            helper.terminate()
            helper.join(timeout=5)


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
