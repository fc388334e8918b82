"""gunicorn, embedded: `video-manager serve` runs the app under gevent workers.

A resumable-upload server holds many slow connections (phones on bad networks, PATCHes that
last hours, idle keep-alives). Under gevent each costs a greenlet, not a thread, so a few hundred
slow or idle clients cannot starve `/health` or a new upload (`server.worker_class = "gthread"`
brings back the thread pool). Bodies still stream to the app as they arrive (the socket fast path
in server.body works on gevent's sockets) and files go out with sendfile(). Werkzeug's
development server is never used.

The app is loaded once, in the master, and forked into the workers (`preload_app`): each worker
would otherwise spend over a second of CPU importing it again, and they share its pages. Under
gevent the master patches the standard library before anything else is imported (ssl, redis and
requests must see the patched sockets), and it closes the database connection that creating the
tables opened, so no worker inherits it.
"""

from __future__ import annotations

import json
import logging
import os
import re
import signal
from typing import Any

from gunicorn import util
from gunicorn.app.base import BaseApplication
from gunicorn.glogging import Logger

from video_manager.config import Config
from video_manager.processes import die_with_parent

SHARE_TOKEN = re.compile(r"/s/[^\s?\"']+")


class RedactShareTokens(logging.Filter):
    """Share links carry their token in the path; no log line may contain one."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if "/s/" in message:
            record.msg, record.args = SHARE_TOKEN.sub("/s/<redacted>", message), ()
        return True


class RedactingLogger(Logger):
    def setup(self, cfg) -> None:
        super().setup(cfg)
        for log in (self.error_log, self.access_log):
            log.addFilter(RedactShareTokens())


def write_json_error(sock, status_int: int, reason: str, mesg: str) -> None:
    """gunicorn's answer to a request it cannot parse (a header with control characters, a bad
    request line), in our error shape instead of its HTML page."""
    from server.errors import CODES_BY_STATUS

    body = json.dumps(
        {"error": CODES_BY_STATUS.get(status_int, "bad_request"), "detail": f"{reason}: {mesg}"[:500]}
    ).encode()
    head = (
        f"HTTP/1.1 {status_int} {reason}\r\nConnection: close\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    ).encode("latin-1")
    util.write_nonblock(sock, head + body)


class GunicornServer(BaseApplication):
    def __init__(self, config: Config) -> None:
        self.app_config = config
        super().__init__()

    def load_config(self) -> None:
        util.write_error = write_json_error  # gunicorn looks it up at call time
        server = self.app_config.server
        options: dict[str, Any] = {
            "bind": f"{server.host}:{server.port}",
            "workers": server.workers,
            "worker_class": server.worker_class,
            "threads": server.threads,
            "worker_connections": server.connections,
            "timeout": 120,
            "graceful_timeout": 30,
            "keepalive": 5,
            "loglevel": server.log_level,
            # No access log: share links carry their token in the path.
            "accesslog": None,
            "errorlog": "-",
            "proc_name": "video-manager-server",
            "control_socket_disable": True,
            "logger_class": RedactingLogger,
            "preload_app": True,
            "post_fork": _worker_dies_with_master,
        }
        for key, value in options.items():
            self.cfg.set(key, value)

    def load(self):
        from server import create_app
        from storage.database import db

        app = create_app(self.app_config)
        db.close()  # a connection is never shared across fork()
        return app


def _worker_dies_with_master(_server, worker) -> None:
    """A worker whose master was killed stops at once (SIGTERM: in-flight requests finish)
    instead of answering on the port for a while: a restarted server must find it free, and
    nobody must mistake the orphan for the new server."""
    die_with_parent(signal.SIGTERM)
    if os.getppid() != worker.ppid:  # the master died before the line above took effect
        os.kill(os.getpid(), signal.SIGTERM)


def serve(config: Config) -> None:
    if config.server.worker_class == "gevent":
        from gevent import monkey

        monkey.patch_all()
    GunicornServer(config).run()
