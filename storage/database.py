"""One database handle for the whole process, bound at start-up from `database.url`.

SQLite runs in WAL mode with a busy timeout because the server's processes and the worker
write to the same file; a `postgresql://` URL works unchanged through playhouse.db_url.
"""

from __future__ import annotations

from pathlib import Path

from peewee import Database, DatabaseProxy, SqliteDatabase
from playhouse.db_url import connect

db = DatabaseProxy()

# busy_timeout first: switching a new file to WAL takes a write lock, and processes that start
# together (gunicorn workers, the worker, the CLI) must wait for it instead of failing.
SQLITE_PRAGMAS = {
    "busy_timeout": 15000,
    "journal_mode": "wal",
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


def is_sqlite() -> bool:
    return isinstance(db.obj, SqliteDatabase)


def write_transaction():
    """A transaction that reads, then writes. On SQLite it takes the write lock at BEGIN: a read
    first would pin a WAL snapshot, and another process's commit before our first write would
    then fail that write at once (SQLITE_BUSY_SNAPSHOT) instead of waiting its turn."""
    return db.atomic(lock_type="IMMEDIATE") if is_sqlite() else db.atomic()
