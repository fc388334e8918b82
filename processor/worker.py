"""`video-manager worker`: an RQ worker on the project's queue, with the scheduler for retries."""

from __future__ import annotations

import logging

from rq import Worker

from config import Config
from processor.cleanup import remove_expired, start_cleanup_timer
from processor.queue import connect, job_queue
from storage.database import create_tables, db, open_database


def run_worker(config: Config, *, burst: bool = False) -> bool:
    open_database(config.database_url)
    create_tables()
    db.close()  # each forked job opens its own connection
    connection = connect(config, socket_timeout=None)
    remove_expired(config)
    stop_cleanup = start_cleanup_timer(config)
    worker = Worker([job_queue(config, connection)], connection=connection)
    try:
        return worker.work(
            with_scheduler=True,
            burst=burst,
            logging_level=logging.getLevelName(config.server.log_level.upper()),
        )
    finally:
        stop_cleanup.set()
