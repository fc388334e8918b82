"""`GET /metrics` for Prometheus, and the per-request counting behind its HTTP metrics.

The counters themselves live in video_manager.metrics, shared with the worker's processes. Queue
depth is read from Redis at scrape time, so it is right whichever process answers.
"""

from __future__ import annotations

import hmac
import time

from apiflask import APIBlueprint, APIFlask
from flask import Response, g, request
from prometheus_client import generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from prometheus_client.registry import Collector
from redis.exceptions import RedisError

from server.errors import fail, not_found
from server.services import services
from video_manager import metrics
from video_manager.redis_client import RedisNotConfiguredError

bp = APIBlueprint("metrics", __name__, tag="Metrics")


@bp.get("/metrics")
@bp.doc(summary="Prometheus metrics (text format); `metrics.token`, when set, is needed as a Bearer token")
def scrape():
    config = services().config.metrics
    if not config.enabled:
        not_found()
    if config.token:
        sent = request.headers.get("Authorization", "").removeprefix("Bearer ")
        if not hmac.compare_digest(sent.encode(), config.token.encode()):
            fail(401, "unauthorized", "Send the metrics token as `Authorization: Bearer <token>`.",
                 {"WWW-Authenticate": "Bearer"})  # fmt: skip
    registry = metrics.registry(_QueueDepth())
    return Response(generate_latest(registry), content_type=CONTENT_TYPE_LATEST)


class _QueueDepth(Collector):
    """Jobs waiting in the RQ queue, asked of Redis when scraped (absent while Redis is down)."""

    def collect(self):
        try:
            depth = len(services().queue)
        except (RedisError, RedisNotConfiguredError):
            return
        yield GaugeMetricFamily("videomanager_queue_depth", "Jobs waiting in the queue", value=depth)


KNOWN_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


def count_requests(app: APIFlask) -> None:
    """Every answer counts by route template (never the raw path: ids would explode the label)
    and method, a made-up method as `other`: no label value is the client's choice."""

    @app.before_request
    def _started() -> None:
        g.metrics_started = time.perf_counter()

    @app.after_request
    def _answered(response: Response) -> Response:
        route = request.url_rule.rule if request.url_rule else "unmatched"
        method = request.method if request.method in KNOWN_METHODS else "other"
        metrics.HTTP_REQUESTS.labels(route, method, str(response.status_code)).inc()
        started = g.get("metrics_started")
        if started is not None:
            metrics.HTTP_SECONDS.labels(route, method).observe(time.perf_counter() - started)
        return response
