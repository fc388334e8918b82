"""The job queues, shared by the server (enqueue) and the worker (dequeue).

Tasks and what a viewer waits for (a storyboard, the planning of a ladder) go to the main queue;
the pictures made for every new video go to a second queue that the worker takes from only when
the main one is empty, so a trim never waits behind the posters of a batch of uploads; the
adaptive ladders' encodes (hundreds of jobs for a long video) go to a third, taken when both
others are empty, so neither a trim nor a new video's poster waits behind them."""

from __future__ import annotations

from redis import Redis
from rq import Queue

from video_manager.config import Config

# Jobs by name: the server queues them without importing the worker's code.
RUN_TASK = "processor.jobs.run_task"
PREPARE = "processor.renditions.prepare"  # poster and faststart copy, at ingest (background queue)
STORYBOARD = "processor.renditions.storyboard"
LADDER = "processor.ladder_jobs.plan"  # the adaptive ladder (HLS and MP4 renditions)


def job_queue(config: Config, connection: Redis) -> Queue:
    return Queue(
        config.redis.queue, connection=connection, default_timeout=int(config.ffmpeg.timeout_s) + 300
    )


def background_queue(config: Config, connection: Redis) -> Queue:
    return Queue(
        f"{config.redis.queue}-background",
        connection=connection,
        default_timeout=int(config.ffmpeg.timeout_s) + 300,
    )


def ladder_queue(config: Config, connection: Redis) -> Queue:
    return Queue(
        f"{config.redis.queue}-ladder",
        connection=connection,
        default_timeout=int(config.ffmpeg.timeout_s) + 300,
    )


def queue_preparation(config: Config, connection: Redis, video_id: object) -> None:
    """A new video's poster and faststart copy, behind every task; one job per video (a second
    call while it waits is the same job). Raises RedisError when Redis is not answering."""
    background_queue(config, connection).enqueue(PREPARE, str(video_id), job_id=f"prepare-{video_id}")
