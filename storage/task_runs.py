"""The task lifecycle, in one place (as rq keeps a job's status changes in `job.py`):

    queued ──claim──▶ started ──finish──▶ finished
       ▲                 │ ╲
       └────requeue──────┘  ╲──fail──▶ failed

A `TaskRun` is one attempt: `claim` bumps the task's `attempt`, and every later change is made
only while the row still holds that attempt in `started`. A run that lost its claim (its worker
was presumed dead and the task queued again) therefore cannot overwrite the newer run's outcome;
each change says whether it took. Failing and finishing announce the task in the same
transaction (the events outbox), so a webhook is owed exactly when the change commits.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from storage.database import write_transaction
from storage.events import Announce
from storage.models import Task, TaskStatus, Video, utcnow


@dataclass(frozen=True)
class TaskRun:
    task_id: str
    attempt: int

    @classmethod
    def claim(cls, task_id: str, announce: Announce) -> TaskRun | None:
        """queued → started, atomically; None when the task is not queued (done, or taken)."""
        now = utcnow()
        with write_transaction():
            claimed = (
                Task.update(status=TaskStatus.STARTED, attempt=Task.attempt + 1, started_at=now,
                            heartbeat_at=now, progress=0.0)
                .where((Task.id == task_id) & (Task.status == TaskStatus.QUEUED))
                .execute()
            )  # fmt: skip
            if not claimed:
                return None
            task = Task.get_by_id(task_id)
            announce("task.started", task.owner_id, task)
        return cls(task_id, task.attempt)

    @classmethod
    def of(cls, task: Task) -> TaskRun:
        """The attempt a row records (the maintenance sweep's view of a run it presumes dead)."""
        return cls(str(task.id), task.attempt)

    @property
    def _mine(self):
        return (
            (Task.id == self.task_id) & (Task.attempt == self.attempt) & (Task.status == TaskStatus.STARTED)
        )

    def beat(self, progress: float | None = None) -> bool:
        """Still alive (and, when given, this far along)."""
        changes = {Task.heartbeat_at: utcnow()}
        if progress is not None:
            changes[Task.progress] = round(progress, 4)
        return Task.update(changes).where(self._mine).execute() > 0

    def requeue(self) -> bool:
        """started → queued, for another attempt (a transient failure, a lost worker)."""
        return Task.update(status=TaskStatus.QUEUED, progress=0.0).where(self._mine).execute() > 0

    def fail(self, code: str, detail: str, announce: Announce) -> bool:
        with write_transaction():
            failed = Task.update(
                status=TaskStatus.FAILED, error_code=code, error_detail=detail, ended_at=utcnow()
            ).where(self._mine)
            if not failed.execute():
                return False
            task = Task.get_by_id(self.task_id)
            announce("task.failed", task.owner_id, task)
        return True

    def finish(self, video_id: uuid.UUID, method: str, announce: Announce) -> bool:
        """started → finished with its video; the video and the task are announced together."""
        now = utcnow()
        with write_transaction():
            finished = Task.update(
                status=TaskStatus.FINISHED, progress=1.0, result_video=video_id, result_method=method,
                ended_at=now, heartbeat_at=now,
            ).where(self._mine)  # fmt: skip
            if not finished.execute():
                return False
            task = Task.get_by_id(self.task_id)
            announce("video.ready", task.owner_id, Video.get_by_id(video_id))
            announce("task.finished", task.owner_id, task)
        return True
