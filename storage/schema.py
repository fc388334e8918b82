"""Creating the tables, from every process that starts (server workers, the worker, the CLI).

Apart from database.py (the connection) so that models.py can import the connection without a
cycle: this module is the one that knows both.
"""

from __future__ import annotations

from peewee import PostgresqlDatabase

from storage import migrations
from storage.database import db, is_sqlite
from storage.models import ALL_MODELS, User

SCHEMA_LOCK_ID = 0x766D5F736368  # "vm_sch": the PostgreSQL advisory lock held while creating tables


def create_tables() -> None:
    """Create missing tables, then bring older tables up to date (storage.migrations); safe to
    call from every process at start-up.

    Several processes start at once. Each takes the database's schema lock first and waits its
    turn, instead of failing when two of them check-then-create at the same moment.
    """
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
