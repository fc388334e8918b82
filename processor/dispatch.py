"""Tasks reach the job queue fairly across users.

With one FIFO queue, one user's batch would hold every worker: behind 50 of their trims anyone
else waits for all 50. So at most `limits.user_jobs_in_flight` of a user's tasks are in the RQ
queue or running at a time; the rest wait in the database (`dispatched_at` unset), oldest
first. Each task that ends lets the next of its owner in, behind whatever other users queued
meanwhile: round-robin between users, without a queue per user. The maintenance sweep lets in
whatever a crash or a Redis outage left waiting.

The count and the promotion happen in one write transaction (SQLite's write lock), so two
processes never both let in a task past the limit there; on PostgreSQL the limit may be passed
by one now and then, which costs fairness nothing.
"""

from __future__ import annotations

from peewee import fn
from rq import Queue

from processor.queue import RUN_TASK
from storage.database import write_transaction
from storage.models import Task, TaskStatus, utcnow

UNFINISHED = (TaskStatus.QUEUED, TaskStatus.STARTED)


def dispatch(owner_id: int, limit: int, queue: Queue) -> int:
    """Let the owner's waiting tasks into `queue`, oldest first, while fewer than `limit` are in
    it or running; how many went in. Raises Redis' errors (the task then waits again)."""
    sent = 0
    while True:
        with write_transaction():
            in_flight = (
                Task.select()
                .where(
                    (Task.owner == owner_id) & Task.dispatched_at.is_null(False) & Task.status.in_(UNFINISHED)
                )
                .count()
            )
            if in_flight >= max(1, limit):
                return sent
            waiting = (
                Task.select()
                .where(
                    (Task.owner == owner_id)
                    & (Task.status == TaskStatus.QUEUED)
                    & Task.dispatched_at.is_null()
                )
                .order_by(Task.created_at, Task.id)
                .first()
            )
            if waiting is None:
                return sent
            Task.update(dispatched_at=utcnow()).where(Task.id == waiting.id).execute()
        try:
            queue.enqueue(RUN_TASK, str(waiting.id), job_id=str(waiting.id))
        except Exception:
            Task.update(dispatched_at=None).where(Task.id == waiting.id).execute()
            raise
        sent += 1


def owners_waiting() -> list[int]:
    """Users with tasks waiting to be let in."""
    rows = (
        Task.select(Task.owner, fn.COUNT(Task.id))
        .where((Task.status == TaskStatus.QUEUED) & Task.dispatched_at.is_null())
        .group_by(Task.owner)
    )
    return [row.owner_id for row in rows]


def unfinished_tasks(owner_id: int) -> int:
    return Task.select().where((Task.owner == owner_id) & Task.status.in_(UNFINISHED)).count()
