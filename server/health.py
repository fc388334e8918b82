"""Liveness for load balancers and `make run` users: the database and Redis must both answer."""

from __future__ import annotations

import shutil

from apiflask import APIBlueprint
from redis.exceptions import RedisError

from server.errors import fail
from server.services import services
from storage.database import db
from video_manager.redis_client import RedisNotConfiguredError

bp = APIBlueprint("health", __name__, tag="Health")
MIB = 1024 * 1024


@bp.get("/health")
@bp.doc(summary="200 when Redis and the database answer and the disk has room, else 503")
def health():
    problems = []
    try:
        db.execute_sql("SELECT 1")
    except Exception as exc:  # any driver error means the database is not usable
        problems.append(f"database: {type(exc).__name__}")
    try:
        services().redis.ping()
    except (RedisError, RedisNotConfiguredError) as exc:
        problems.append(f"redis: {type(exc).__name__}")
    config = services().config
    free = shutil.disk_usage(config.data_dir).free
    if free < config.limits.min_free_mb * MIB:
        problems.append(f"disk: {free // MIB} MiB free, below {config.limits.min_free_mb} MiB")
    if problems:
        fail(503, "unhealthy", "Not ready: " + ", ".join(problems) + ".")
    return {"status": "ok", "database": "ok", "redis": "ok"}
