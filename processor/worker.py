"""`video-manager worker`: an RQ worker on the project's queue, plus its maintenance process.

RQ forks a work horse per job. A fork taken while another thread of the parent holds SQLite's
(or any driver's) lock leaves the child deadlocked, so the parent does no database work once it
starts working: the maintenance sweeps run in a separate, spawned process, and each job opens
its own connection.
"""

from __future__ import annotations

import logging
import multiprocessing

from rq import Worker

import processor.jobs  # imported before forking, so each job's work horse starts warm
from processor.maintenance import maintenance_loop, remove_expired
from processor.queue import job_queue
from storage.database import db, open_database
from storage.schema import create_tables
from video_manager.config import Config
from video_manager.redis_client import connect


def run_worker(config: Config, *, burst: bool = False) -> bool:
    processor.jobs.configure(config)
    open_database(config.database_url)
    create_tables()
    remove_expired(config)
    db.close()
    connection = connect(config, socket_timeout=None)
    queue = job_queue(config, connection)
    maintenance = multiprocessing.get_context("spawn").Process(
        target=maintenance_loop, args=(config,), name="video-manager-maintenance", daemon=True
    )
    maintenance.start()
    worker = Worker([queue], connection=connection)
    try:
        return worker.work(
            with_scheduler=True,
            burst=burst,
            logging_level=logging.getLevelName(config.server.log_level.upper()),
        )
    finally:
        maintenance.terminate()
        maintenance.join(timeout=5)
