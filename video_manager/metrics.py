"""Prometheus metrics, counted in every process that does the work: gunicorn workers (requests,
uploads), the RQ worker's jobs (tasks) and the maintenance process (expiry).

prometheus_client's multiprocess mode sums them: each process writes its samples to files in
`PROMETHEUS_MULTIPROC_DIR` (`Config.metrics_dir`, in memory by default; set by the CLI before
anything imports this module, emptied by `video-manager run`)
and `/metrics` reads them all. Without that variable (tests that build the app in-process) the
metrics live in the process, as usual.

Counting never breaks the work it counts: that folder can vanish under a running system (a tmp
cleaner, systemd's RemoveIPC, an operator), and a sample that cannot be written is dropped,
logged once per process, and the folder made again for the next one.
"""

from __future__ import annotations

import contextlib
import logging
import os
from typing import Generic, TypeVar

from prometheus_client import CollectorRegistry, Counter, Histogram, multiprocess
from prometheus_client.metrics import MetricWrapperBase
from prometheus_client.registry import REGISTRY, Collector

MULTIPROCESS_ENV = "PROMETHEUS_MULTIPROC_DIR"
log = logging.getLogger(__name__)
_warned = False


def ensure_folder() -> None:
    """The samples' folder exists (again), in multiprocess mode."""
    folder = os.environ.get(MULTIPROCESS_ENV)
    if folder:
        os.makedirs(folder, exist_ok=True)


def _dropped(exc: OSError) -> None:
    global _warned
    if not _warned:
        _warned = True
        log.warning("a metric sample could not be written (%s); dropping it", exc)
    with contextlib.suppress(OSError):
        ensure_folder()


class _Child:
    """One labelled series: its updates never raise."""

    def __init__(self, child) -> None:
        self._child = child

    def inc(self, amount: float = 1) -> None:
        try:
            self._child.inc(amount)
        except OSError as exc:
            _dropped(exc)

    def observe(self, amount: float) -> None:
        try:
            self._child.observe(amount)
        except OSError as exc:
            _dropped(exc)


M = TypeVar("M", bound=MetricWrapperBase)


class Guarded(Generic[M]):
    """A metric whose series are made (a sample file opened) without ever raising to the caller."""

    def __init__(self, metric: M) -> None:
        self._metric = metric

    def labels(self, *values: str) -> _Child:
        try:
            return _Child(self._metric.labels(*values))
        except OSError as exc:
            _dropped(exc)
            try:  # once more, in the folder made again
                return _Child(self._metric.labels(*values))
            except OSError:
                return _Child(_Nothing())


class _Nothing:
    def inc(self, amount: float = 1) -> None:
        pass

    def observe(self, amount: float) -> None:
        pass


HTTP_REQUESTS = Guarded(Counter(
    "videomanager_http_requests_total", "HTTP requests answered, by route template, method and status",
    ["route", "method", "status"],
))  # fmt: skip
HTTP_SECONDS = Guarded(Histogram(
    "videomanager_http_request_duration_seconds", "Time until the handler returned its answer",
    ["route", "method"],
))  # fmt: skip
BYTES_RECEIVED = Guarded(
    Counter("videomanager_upload_bytes_received_total", "Upload bytes stored, by way of uploading", ["kind"])
)  # fmt: skip  kind: tus, plain, chunk
UPLOADS = Guarded(Counter(
    "videomanager_uploads_total", "tus uploads by event: created, finished, terminated, expired", ["event"]
))  # fmt: skip
TASKS = Guarded(
    Counter(
        "videomanager_tasks_total",
        "Tasks that ended, by kind, mode (trims) and outcome",
        ["kind", "mode", "outcome"],
    )
)  # fmt: skip  outcome: finished, failed, retried
TASK_SECONDS = Guarded(Histogram(
    "videomanager_task_duration_seconds", "Run time of tasks that ended, by kind and mode", ["kind", "mode"],
    buckets=(0.25, 0.5, 1, 2, 5, 10, 30, 60, 120, 300, 600, 1800, 3600),
))  # fmt: skip
WEBHOOK_DELIVERIES = Guarded(
    Counter("videomanager_webhook_deliveries_total", "Webhook delivery attempts by outcome", ["outcome"])
)  # fmt: skip  outcome: delivered, retrying (failed, will be retried), failed (no retries left)


def registry(*extra: Collector) -> CollectorRegistry:
    """A fresh registry for one scrape: every process's samples in multiprocess mode, else this
    one's, plus `extra` collectors (registered here, so concurrent scrapes never share one)."""
    collected = CollectorRegistry()
    if MULTIPROCESS_ENV in os.environ:
        ensure_folder()
        multiprocess.MultiProcessCollector(collected)
    else:
        collected.register(REGISTRY)
    for collector in extra:
        collected.register(collector)
    return collected
