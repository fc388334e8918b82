"""The job queue, shared by the server (enqueue) and the worker (dequeue)."""

from __future__ import annotations

from redis import Redis
from rq import Queue

from video_manager.config import Config

# Jobs by name: the server queues them without importing the worker's code.
RUN_TASK = "processor.jobs.run_task"
PREPARE = "processor.renditions.prepare"  # poster, short storyboard, faststart copy: at ingest
STORYBOARD = "processor.renditions.storyboard"
STREAM = "processor.renditions.stream"  # HLS


def job_queue(config: Config, connection: Redis) -> Queue:
    return Queue(
        config.redis.queue, connection=connection, default_timeout=int(config.ffmpeg.timeout_s) + 300
    )
