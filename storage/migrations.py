"""Changes to tables that already exist, applied once per database at start-up (playhouse.migrate).

`create_tables` makes every missing table in its current shape, so a new database needs no
step. A database made by an older version gets the steps it has not had yet: the database keeps
the number of steps applied (`setting` row `schema-version`; none means round 1's schema).
Steps run inside the schema lock and transaction of `create_tables`, so processes starting at
once apply each step once. Add a step at the end; never edit or reorder one that shipped.
"""

from __future__ import annotations

from collections.abc import Callable

from peewee import BigIntegerField, CharField, Database, DateTimeField, Field, IntegerField
from playhouse.migrate import SchemaMigrator

from storage.models import Setting

VERSION_KEY = "schema-version"


def task_result_method(migrator: SchemaMigrator) -> list:
    """Round 2: a trim's result says how it was cut (`smart`, `reencode` or `copy`)."""
    return [migrator.add_column("task", "result_method", CharField(max_length=16, null=True))]


def webhook_health(migrator: SchemaMigrator) -> list:
    """Round 3: a failing receiver is backed off as a whole, and disabled after the retry schedule.
    (A round-1 database gets its webhook table made in today's shape: nothing to add there.)"""
    return _missing_columns(migrator, "webhook", {
        "status": CharField(max_length=16, default="active"),
        "failures": IntegerField(default=0),
        "paused_until": DateTimeField(null=True),
    })  # fmt: skip


def _missing_columns(migrator: SchemaMigrator, table: str, columns: dict[str, Field]) -> list:
    present = {column.name for column in migrator.database.get_columns(table)}
    return [migrator.add_column(table, name, field) for name, field in columns.items() if name not in present]


def task_dispatch(migrator: SchemaMigrator) -> list:
    """Round 3: tasks wait in the database until their owner's turn (processor.dispatch). A task
    queued before the upgrade is let in once more by the maintenance sweep; its claim makes
    sure it still runs once."""
    return _missing_columns(migrator, "task", {"dispatched_at": DateTimeField(null=True)})


def upload_received(migrator: SchemaMigrator) -> list:
    """Round 3: an upload of deferred length counts against the quota by what it received."""
    return _missing_columns(migrator, "upload", {"received": BigIntegerField(default=0)})


def video_color_transfer(migrator: SchemaMigrator) -> list:
    """Round 3: a video's transfer characteristics, so its HLS rendition of an HDR source is
    tone-mapped to SDR. Videos from before it have none and are treated as SDR."""
    return _missing_columns(migrator, "video", {"color_transfer": CharField(max_length=32, null=True)})


def video_side_tracks(migrator: SchemaMigrator) -> list:
    """Round 3: how many text subtitle tracks and chapters a video has, and its timecode, so a
    cut carries them. Videos from before it have none: their cuts keep picture and sound."""
    columns = {
        "subtitle_tracks": IntegerField(null=True),
        "chapters": IntegerField(null=True),
        "timecode": CharField(max_length=16, null=True),
    }
    return _missing_columns(migrator, "video", columns)


STEPS: list[Callable[[SchemaMigrator], list]] = [
    task_result_method, webhook_health, task_dispatch, upload_received, video_color_transfer,
    video_side_tracks,
]  # fmt: skip


def applied_version() -> int:
    row = Setting.get_or_none(Setting.key == VERSION_KEY)
    return int(row.value) if row else 0


def upgrade(database: Database, *, fresh: bool) -> int:
    """Apply the steps a database made by an older version lacks; returns how many ran. A
    `fresh` database (its tables were made just now, in their current shape) needs none."""
    done = len(STEPS) if fresh else applied_version()
    pending = STEPS[done:]
    migrator = SchemaMigrator.from_database(database)
    for step in pending:
        for operation in step(migrator):
            operation.run()
    version = str(len(STEPS))
    Setting.insert(key=VERSION_KEY, value=version).on_conflict(
        conflict_target=[Setting.key], update={Setting.value: version}
    ).execute()
    return len(pending)
