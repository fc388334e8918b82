"""The Redis connection every part shares: the job queue, login throttling, upload locks."""

from __future__ import annotations

from pathlib import Path

from redis import Redis

from video_manager.config import Config

EMBEDDED_URL_FILE = Path("redis") / "url"


class RedisNotConfiguredError(RuntimeError):
    pass


def redis_url(config: Config) -> str:
    """`redis.url`, else the URL of the embedded redis-server that `video-manager run` started."""
    if config.redis.url:
        return config.redis.url
    state = config.data_dir / EMBEDDED_URL_FILE
    if state.is_file():
        return state.read_text().strip()
    raise RedisNotConfiguredError(
        "redis.url is empty and no embedded Redis is running: start `video-manager run` or set redis.url"
    )


def connect(config: Config, *, socket_timeout: float | None = 5.0) -> Redis:
    """A client that fails fast (1 s connect timeout) so a dead Redis gives a 503, not a hang."""
    return Redis.from_url(redis_url(config), socket_connect_timeout=1.0, socket_timeout=socket_timeout)
