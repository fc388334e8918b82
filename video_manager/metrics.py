"""Prometheus metrics, counted in every process that does the work: gunicorn workers (requests,
uploads), the RQ worker's jobs (tasks) and the maintenance process (expiry).

prometheus_client's multiprocess mode sums them: each process writes its samples to files in
`PROMETHEUS_MULTIPROC_DIR` (`Config.metrics_dir`, in memory by default; set by the CLI before
anything imports this module, emptied by `video-manager run`)
and `/metrics` reads them all. Without that variable (tests that build the app in-process) the
metrics live in the process, as usual.
"""

from __future__ import annotations

import os

from prometheus_client import CollectorRegistry, Counter, Histogram, multiprocess
from prometheus_client.registry import REGISTRY, Collector

MULTIPROCESS_ENV = "PROMETHEUS_MULTIPROC_DIR"

HTTP_REQUESTS = Counter(
    "videomanager_http_requests_total", "HTTP requests answered, by route template, method and status",
    ["route", "method", "status"],
)  # fmt: skip
HTTP_SECONDS = Histogram(
    "videomanager_http_request_duration_seconds", "Time until the handler returned its answer",
    ["route", "method"],
)  # fmt: skip
BYTES_RECEIVED = Counter(
    "videomanager_upload_bytes_received_total", "Upload bytes stored, by way of uploading", ["kind"]
)  # kind: tus, plain, chunk
UPLOADS = Counter(
    "videomanager_uploads_total", "tus uploads by event: created, finished, terminated, expired", ["event"]
)
TASKS = Counter(
    "videomanager_tasks_total",
    "Tasks that ended, by kind, mode (trims) and outcome",
    ["kind", "mode", "outcome"],
)  # outcome: finished, failed, retried
TASK_SECONDS = Histogram(
    "videomanager_task_duration_seconds", "Run time of tasks that ended, by kind and mode", ["kind", "mode"],
    buckets=(0.25, 0.5, 1, 2, 5, 10, 30, 60, 120, 300, 600, 1800, 3600),
)  # fmt: skip
WEBHOOK_DELIVERIES = Counter(
    "videomanager_webhook_deliveries_total", "Webhook delivery attempts by outcome", ["outcome"]
)  # outcome: delivered, retrying (failed, will be retried), failed (no retries left)


def registry(*extra: Collector) -> CollectorRegistry:
    """A fresh registry for one scrape: every process's samples in multiprocess mode, else this
    one's, plus `extra` collectors (registered here, so concurrent scrapes never share one)."""
    collected = CollectorRegistry()
    if MULTIPROCESS_ENV in os.environ:
        multiprocess.MultiProcessCollector(collected)
    else:
        collected.register(REGISTRY)
    for collector in extra:
        collected.register(collector)
    return collected
