"""gunicorn, embedded: `video-manager serve` runs the app under gthread workers.

gthread streams request bodies to the app as they arrive and serves files with sendfile();
Werkzeug's development server is never used.
"""

from __future__ import annotations

from typing import Any

from gunicorn.app.base import BaseApplication

from config import Config


class GunicornServer(BaseApplication):
    def __init__(self, config: Config) -> None:
        self.app_config = config
        super().__init__()

    def load_config(self) -> None:
        server = self.app_config.server
        options: dict[str, Any] = {
            "bind": f"{server.host}:{server.port}",
            "workers": server.workers,
            "worker_class": "gthread",
            "threads": server.threads,
            "timeout": 120,
            "graceful_timeout": 30,
            "keepalive": 5,
            "loglevel": server.log_level,
            # No access log: share links carry their token in the path.
            "accesslog": None,
            "errorlog": "-",
            "proc_name": "video-manager-server",
            "control_socket_disable": True,
        }
        for key, value in options.items():
            self.cfg.set(key, value)

    def load(self):
        from server import create_app

        return create_app(self.app_config)


def serve(config: Config) -> None:
    GunicornServer(config).run()
