"""The worker's jobs about a video (pictures, renditions), queued from requests.

Never a reason to fail the request: while Redis is down they are not queued, and whatever
they would have made is made when first asked for (or queued again then). Renders a viewer
waits for (storyboards, HLS) count against their owner's `limits.user_pending_renders`.
"""

from __future__ import annotations

import contextlib

from redis import Redis
from redis.exceptions import RedisError
from rq.job import Job, JobStatus

from processor.queue import queue_preparation
from server.errors import fail
from server.services import services
from storage.models import Video
from video_manager.redis_client import RedisNotConfiguredError

PENDING = {JobStatus.QUEUED, JobStatus.STARTED, JobStatus.DEFERRED, JobStatus.SCHEDULED}


def queue_render(function: str, video: Video) -> bool:
    """Queue a render of `video` a viewer waits for; whether Redis took it. 429 `too_many` when
    its owner already has `limits.user_pending_renders` renders of other videos waiting."""
    svc = services()
    job_id = f"{function.rsplit('.', 1)[1]}-{video.id}"
    ceiling = svc.config.limits.user_pending_renders
    key = f"{svc.config.redis.queue}:renders:{video.owner_id}"
    try:
        redis = svc.redis
        if len(_still_pending(redis, key, besides=job_id)) >= ceiling:
            detail = (
                f"{ceiling} renders of this user's videos are waiting already, the most one user may "
                "have (limits.user_pending_renders); try again when they are done."
            )
            fail(429, "too_many", detail)
        svc.queue.enqueue(function, str(video.id), job_id=job_id)
        redis.sadd(key, job_id)
    except (RedisError, RedisNotConfiguredError):
        return False
    return True


def _still_pending(redis: Redis, key: str, *, besides: str) -> set[str]:
    """The renders listed under `key` still waiting or running (those that ended are forgotten)."""
    listed = {member.decode() for member in redis.smembers(key)} - {besides}
    if not listed:
        return set()
    jobs = dict(zip(listed, Job.fetch_many(sorted(listed), connection=redis), strict=True))
    ended = [
        job_id for job_id, job in jobs.items() if job is None or job.get_status(refresh=False) not in PENDING
    ]
    if ended:
        redis.srem(key, *ended)
    return listed - set(ended)


def prepare_for_viewing(video: Video) -> None:
    """A new video's poster and faststart copy, made by the worker when it has nothing else to do
    (on the background queue, behind every task)."""
    with contextlib.suppress(RedisError, RedisNotConfiguredError):
        queue_preparation(services().config, services().redis, video.id)
