"""Processing requests: trim and merge are checked completely here, then queued as tasks for the worker."""

from __future__ import annotations

import contextlib
import json
import math
import re
import uuid
from typing import Annotated, Literal

from apiflask import APIBlueprint
from pydantic import BaseModel, BeforeValidator, Field, model_validator
from redis.exceptions import RedisError

from processor.dispatch import dispatch, unfinished_tasks
from processor.probe import frame_rate
from server import admission
from server.auth import current_user, owned, token_auth
from server.errors import fail, not_found
from server.schemas import TaskOut
from server.services import services
from server.urls import representer
from server.videos import owned_video, require_ready
from storage import quota
from storage.models import Task, TaskKind, Video
from video_manager.redis_client import RedisNotConfiguredError

bp = APIBlueprint("tasks", __name__, tag="Processing")

_CLOCK = re.compile(r"^(?:(?:(\d+):)?([0-5]?\d):)?(\d+(?:\.\d+)?)$")
TASK_RESERVATION_S = 7 * 86400.0  # a waiting task holds its room this long at most (released when it ends)
DURATION_SLACK_S = 0.0005  # the probe reports milliseconds; `end_time` equal to the duration is fine


def parse_seconds(value: object) -> float:
    """Seconds as a number, a numeric string, or `[[HH:]MM:]SS[.mmm]`."""
    try:
        return _seconds(value)
    except OverflowError:  # an integer too large for a float
        raise ValueError("is too large to be a time") from None


def _seconds(value: object) -> float:
    if isinstance(value, bool) or value is None:
        raise ValueError("must be seconds (a number) or HH:MM:SS.mmm")
    if isinstance(value, int | float):
        seconds = float(value)
    elif isinstance(value, str):
        match = _CLOCK.match(value.strip())
        if not match:
            raise ValueError(f"{value!r} is not seconds or HH:MM:SS.mmm")
        hours, minutes, rest = match.groups()
        if minutes is not None and float(rest) >= 60:
            raise ValueError(f"{value!r} has 60 or more seconds")
        seconds = int(hours or 0) * 3600 + int(minutes or 0) * 60 + float(rest)
    else:
        raise ValueError("must be seconds (a number) or HH:MM:SS.mmm")
    if not math.isfinite(seconds) or seconds < 0:
        raise ValueError("must be a finite, non-negative time")
    return round(seconds, 3)


Seconds = Annotated[float, BeforeValidator(parse_seconds)]


class TrimIn(BaseModel):
    start_time: Seconds
    end_time: Seconds
    mode: Literal["precise", "fast"] = "precise"

    @model_validator(mode="after")
    def _end_after_start(self) -> TrimIn:
        if self.end_time <= self.start_time:
            raise ValueError("end_time must be greater than start_time")
        return self


class MergeIn(BaseModel):
    video_ids: list[uuid.UUID] = Field(min_length=2, max_length=100)


@bp.post("/api/videos/<uuid:video_id>/trim/")
@bp.auth_required(token_auth)
@bp.input(TrimIn, arg_name="body")
@bp.output(TaskOut, status_code=202)
@bp.doc(summary="Trim a video (precise: frame-accurate re-encode; fast: keyframe stream copy)")
def trim(video_id: uuid.UUID, body: TrimIn):
    video = require_ready(owned_video(video_id))
    if body.end_time > video.duration + DURATION_SLACK_S:
        fail(
            400,
            "out_of_range",
            f"end_time {body.end_time:g} is beyond the video's duration {video.duration:g}.",
        )
    rate = frame_rate(video.frame_rate)
    if rate is not None and body.end_time - body.start_time < 1 / rate:
        fail(
            400,
            "out_of_range",
            f"The window is shorter than one frame ({float(1 / rate):.3f} s at {float(rate):g} fps).",
        )
    params = {"video_id": str(video.id), "start": body.start_time, "end": body.end_time, "mode": body.mode}
    share_of_source = (body.end_time - body.start_time) / video.duration if video.duration else 1.0
    return representer().task(
        _enqueue(TaskKind.TRIM, params, output_estimate=int(video.size * min(1.0, share_of_source)))
    )


@bp.post("/api/videos/merge/")
@bp.auth_required(token_auth)
@bp.input(MergeIn, arg_name="body")
@bp.output(TaskOut, status_code=202)
@bp.doc(summary="Join videos in the order given (stream copy when they all match)")
def merge(body: MergeIn):
    found = {
        v.id: v
        for v in Video.select().where((Video.id.in_(body.video_ids)) & (Video.owner == current_user().id))
    }
    for video_id in body.video_ids:
        if video_id not in found:
            not_found(f"video {video_id}")
        require_ready(found[video_id])
    estimate = sum(found[video_id].size for video_id in body.video_ids)
    return representer().task(
        _enqueue(TaskKind.MERGE, {"video_ids": [str(v) for v in body.video_ids]}, output_estimate=estimate)
    )


@bp.get("/api/videos/tasks/<uuid:task_id>/status/")
@bp.auth_required(token_auth)
@bp.output(TaskOut)
@bp.doc(summary="A task's status, progress and result")
def status(task_id: uuid.UUID):
    return representer().task(owned(Task, task_id, "task"))


def _enqueue(kind: TaskKind, params: dict, *, output_estimate: int) -> Task:
    """Row first, then the job when its owner's turn comes (processor.dispatch). Redis down is
    a 503 with nothing kept; past the user's ceiling of unfinished tasks, a 429; an output that
    would take the user past the quota (estimated from the inputs' sizes), a 413. The estimate
    is held against the quota until the task ends (the worker checks the real size)."""
    owner = current_user().id
    limits = services().config.limits
    if unfinished_tasks(owner) >= limits.user_queued_tasks:
        fail(429, "too_many", f"You have {limits.user_queued_tasks} unfinished tasks, the most one user may "
             "have (limits.user_queued_tasks); wait for some to finish.")  # fmt: skip
    try:
        queue = services().queue
        queue.connection.ping()
    except (RedisError, RedisNotConfiguredError):
        fail(503, "queue_unavailable", "The job queue (Redis) is unavailable; try again shortly.")
    task = Task.create(owner=owner, kind=kind, params=json.dumps(params))
    try:
        quota.reserve(owner, output_estimate, limits.user_quota_bytes, purpose=quota.task_purpose(task.id),
                      lifetime_s=TASK_RESERVATION_S)  # fmt: skip
    except quota.QuotaExceededError:
        task.delete_instance()
        admission.over_quota(limits.user_quota_bytes)
    with contextlib.suppress(RedisError):  # let in by the maintenance sweep, then
        dispatch(owner, limits.user_jobs_in_flight, queue)
    return task
