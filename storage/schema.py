"""Creating the tables, from every process that starts (server workers, the worker, the CLI).

Apart from database.py (the connection) so that models.py can import the connection without a
cycle: this module is the one that knows both.
"""

from __future__ import annotations

import logging
import time

from peewee import OperationalError, PostgresqlDatabase

from storage import migrations
from storage.database import db, is_sqlite
from storage.models import ALL_MODELS, User

SCHEMA_LOCK_ID = 0x766D5F736368  # "vm_sch": the PostgreSQL advisory lock held while creating tables
LOCKED_ATTEMPTS = 4  # each waits out SQLite's busy timeout (15 s) first
LOCKED_PAUSE_S = 1.0
log = logging.getLogger(__name__)


def create_tables() -> None:
    """Create missing tables, then bring older tables up to date (storage.migrations); safe to
    call from every process at start-up.

    Several processes start at once. Each takes the database's schema lock first and waits its
    turn, instead of failing when two of them check-then-create at the same moment. A SQLite
    file still locked after the busy timeout is tried again for a while: a gunicorn worker that
    fails to boot takes the whole server down with it.
    """
    for attempt in range(LOCKED_ATTEMPTS):
        try:
            _create_tables_once()
            return
        except OperationalError as exc:
            if "locked" not in str(exc) or attempt == LOCKED_ATTEMPTS - 1:
                raise
            log.warning("database locked at start-up (%s); trying again", exc)
            time.sleep(LOCKED_PAUSE_S)


def _create_tables_once() -> None:
    with db.connection_context():
        if is_sqlite():
            with db.atomic(lock_type="IMMEDIATE"):  # SQLite's write lock, waited for via busy_timeout
                _create_and_upgrade()
        elif isinstance(db.obj, PostgresqlDatabase):
            with db.atomic():
                db.execute_sql("SELECT pg_advisory_xact_lock(%s)", (SCHEMA_LOCK_ID,))
                _create_and_upgrade()
        else:
            with db.atomic():
                _create_and_upgrade()


def _create_and_upgrade() -> None:
    fresh = not db.table_exists(User._meta.table_name)
    db.create_tables(ALL_MODELS, safe=True)
    migrations.upgrade(db.obj, fresh=fresh)
