"""The worker's jobs about a video (pictures, renditions), queued from requests.

Never a reason to fail the request: while Redis is down they are not queued, and whatever
they would have made is made when first asked for (or queued again then).
"""

from __future__ import annotations

import uuid

from redis.exceptions import RedisError

from processor.queue import PREPARE
from server.services import services
from storage.models import Video
from video_manager.redis_client import RedisNotConfiguredError


def queue_job(function: str, video_id: uuid.UUID, *, background: bool = False) -> bool:
    """Queue `function(video_id)` by name (on the background queue, behind every task); whether
    Redis took it."""
    job_id = f"{function.rsplit('.', 1)[1]}-{video_id}"
    queue = services().background_queue if background else services().queue
    try:
        queue.enqueue(function, str(video_id), job_id=job_id)
    except (RedisError, RedisNotConfiguredError):
        return False
    return True


def prepare_for_viewing(video: Video) -> None:
    """A new video's poster and faststart copy, made by the worker when it has nothing else to do."""
    queue_job(PREPARE, video.id, background=True)
