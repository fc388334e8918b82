"""One database handle for the whole process, bound at start-up from `database.url`.

SQLite runs in WAL mode with a busy timeout because the server's processes and the worker
write to the same file; a `postgresql://` URL works unchanged through playhouse.db_url.
"""

from __future__ import annotations

from pathlib import Path

from peewee import Database, DatabaseProxy, PostgresqlDatabase, SqliteDatabase
from playhouse.db_url import connect

db = DatabaseProxy()
SCHEMA_LOCK_ID = 0x766D5F736368  # "vm_sch": the PostgreSQL advisory lock held while creating tables

SQLITE_PRAGMAS = {
    "journal_mode": "wal",
    "busy_timeout": 15000,
    "foreign_keys": 1,
    "synchronous": "normal",
}


def open_database(url: str) -> Database:
    """Bind the proxy to the database at `url`, creating the SQLite file's folder if needed."""
    if url.startswith("sqlite:///"):
        Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
        database = connect(url, pragmas=SQLITE_PRAGMAS)
    else:
        database = connect(url)
    db.initialize(database)
    return database


def create_tables() -> None:
    """Create missing tables; safe to call from every process at start-up."""
    from storage.models import ALL_MODELS

    # Several processes start at once (server workers, the worker, the CLI). Each takes the
    # database's schema lock first and waits its turn, instead of failing when two of them
    # check-then-create at the same moment.
    with db.connection_context():
        if is_sqlite():
            with db.atomic(lock_type="IMMEDIATE"):  # SQLite's write lock, waited for via busy_timeout
                db.create_tables(ALL_MODELS, safe=True)
        elif isinstance(db.obj, PostgresqlDatabase):
            with db.atomic():
                db.execute_sql("SELECT pg_advisory_xact_lock(%s)", (SCHEMA_LOCK_ID,))
                db.create_tables(ALL_MODELS, safe=True)
        else:
            db.create_tables(ALL_MODELS, safe=True)


def is_sqlite() -> bool:
    return isinstance(db.obj, SqliteDatabase)
