"""A data directory written by round 1 keeps working: its database (tests/fixtures), its video
files and its generated share key, opened by today's server."""

from __future__ import annotations

import contextlib
import shutil
import sqlite3
from datetime import UTC, datetime
from pathlib import Path

import pytest
import requests
from peewee import OperationalError

from storage import migrations
from storage.database import db, open_database
from storage.schema import create_tables
from storage.signing import ShareSigner
from tests.api import send_chunk
from tests.servers import LiveServer, auth, process_env

pytestmark = pytest.mark.e2e

FIXTURE = Path(__file__).parent / "fixtures" / "round1-database.sql"
OLD_TOKEN = "Zc9iogCBS5IwPuolUoohN1v672rlN6Rb4cTZ-MA4P1c"
VIDEO_ID = "0badc0de-0000-4000-8000-000000000001"
SHARE_ID = "0badc0de-0000-4000-8000-000000000002"
LEGACY_KEY = "a-key-round-one-generated-into-data-share-secret"


def round_one_data_dir(data_dir: Path, video: Path) -> None:
    with sqlite3.connect(data_dir / "video-manager.db") as database:
        database.executescript(FIXTURE.read_text())
        database.execute("UPDATE video SET size = ?", (video.stat().st_size,))
    stored = data_dir / "videos" / VIDEO_ID.replace("-", "")[:2] / VIDEO_ID
    stored.parent.mkdir(parents=True)
    shutil.copy(video, stored)
    (data_dir / "share-secret").write_text(LEGACY_KEY)


def test_a_round_one_data_directory_opens_unchanged(tmp_path, redis_server, sample_video):
    round_one_data_dir(tmp_path, sample_video)
    server = LiveServer(process_env(tmp_path, redis_server.url)).start()
    try:
        login = requests.post(
            f"{server.url}/api-token-auth/",
            json={"username": "legacy", "password": "round-one-password"},
            timeout=30,
        )
        assert login.status_code == 200, login.text
        for token in (OLD_TOKEN, login.json()["token"]):
            listed = requests.get(f"{server.url}/api/videos/", headers=auth(token), timeout=30).json()
            assert [video["id"] for video in listed["results"]] == [VIDEO_ID]
        download = requests.get(f"{server.url}/api/videos/{VIDEO_ID}/download/", headers=auth(OLD_TOKEN))
        assert download.content == sample_video.read_bytes()

        # A link round 1 signed with the key it generated into data/share-secret still opens.
        old_link = ShareSigner(LEGACY_KEY, []).token(SHARE_ID, datetime(2099, 1, 1, tzinfo=UTC))
        assert requests.get(f"{server.url}/s/{old_link}", timeout=30).content == sample_video.read_bytes()

        # The chunk form session round 1 left half-sent is still there and can be finished.
        pieces = [sample_video.read_bytes()[:1000], sample_video.read_bytes()[1000:]]
        assert send_chunk(server, OLD_TOKEN, "half-sent", 1, pieces).status_code == 202
        finished = send_chunk(server, OLD_TOKEN, "half-sent", 2, pieces)
        assert finished.status_code == 201, finished.text
        assert finished.json()["video"]["name"] == "half.mp4"
    finally:
        server.stop()
    with sqlite3.connect(tmp_path / "video-manager.db") as database:  # every later step ran, once
        columns = [row[1] for row in database.execute("PRAGMA table_info(task)")]
        hook_columns = [row[1] for row in database.execute("PRAGMA table_info(webhook)")]
        video_columns = [row[1] for row in database.execute("PRAGMA table_info(video)")]
        version = database.execute("SELECT value FROM setting WHERE key = 'schema-version'").fetchone()
    assert columns.count("result_method") == 1 and version == (str(len(migrations.STEPS)),)
    assert all(hook_columns.count(name) == 1 for name in ("status", "failures", "paused_until"))
    assert video_columns.count("color_transfer") == 1 and video_columns.count("subtitle_tracks") == 1


def test_a_round_two_webhook_table_gains_its_health_columns(tmp_path, config):
    path = tmp_path / "round2.db"
    with contextlib.closing(sqlite3.connect(path)) as database:
        database.executescript(FIXTURE.read_text())
        database.executescript(ROUND_TWO_WEBHOOKS)
        database.commit()
    open_database(f"sqlite:///{path}")
    try:
        create_tables()
    finally:
        db.close()
        open_database(config.database_url)  # the session's database, for the tests after this one
    with contextlib.closing(sqlite3.connect(path)) as database:
        row = database.execute("SELECT status, failures, paused_until FROM webhook").fetchone()
    assert row == ("active", 0, None)


ROUND_TWO_WEBHOOKS = """
ALTER TABLE task ADD COLUMN result_method VARCHAR(16);
CREATE TABLE setting (key VARCHAR(64) NOT NULL PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE webhook (id TEXT NOT NULL PRIMARY KEY, owner_id INTEGER NOT NULL, url TEXT NOT NULL,
    events TEXT NOT NULL, secret VARCHAR(64) NOT NULL, created_at DATETIME NOT NULL);
INSERT INTO webhook VALUES ('0badc0de-0000-4000-8000-00000000000a', 1, 'https://example.com/hook', '["*"]',
    'whsec_x', '2026-11-01 00:00:00');
INSERT INTO setting (key, value) VALUES ('schema-version', '1');
"""


def test_start_up_waits_out_a_database_still_locked(monkeypatch):
    """A SQLite file locked past the busy timeout is tried again: a gunicorn worker that fails to
    boot takes its whole server down."""
    from storage import schema

    calls = []

    def locked_twice() -> None:
        calls.append(1)
        if len(calls) <= 2:
            raise OperationalError("database is locked")

    monkeypatch.setattr(schema, "_create_tables_once", locked_twice)
    monkeypatch.setattr(schema, "LOCKED_PAUSE_S", 0)
    schema.create_tables()
    assert len(calls) == 3

    def broken() -> None:
        raise OperationalError("no such table")

    monkeypatch.setattr(schema, "_create_tables_once", broken)
    with pytest.raises(OperationalError):
        schema.create_tables()  # anything but a lock is not waited for
