"""`video-manager worker`: an RQ worker on the project's queue, plus its maintenance timers."""

from __future__ import annotations

import logging

from rq import Worker

import processor.jobs  # noqa: F401  imported before forking, so each job's work horse starts warm
from config import Config
from processor.maintenance import remove_expired, start_maintenance
from processor.queue import connect, job_queue
from storage.database import create_tables, db, open_database


def run_worker(config: Config, *, burst: bool = False) -> bool:
    open_database(config.database_url)
    create_tables()
    remove_expired(config)
    db.close()  # each forked job opens its own connection
    connection = connect(config, socket_timeout=None)
    queue = job_queue(config, connection)
    stop_maintenance = start_maintenance(config, queue)
    worker = Worker([queue], connection=connection)
    try:
        return worker.work(
            with_scheduler=True,
            burst=burst,
            logging_level=logging.getLevelName(config.server.log_level.upper()),
        )
    finally:
        stop_maintenance.set()
