"""The Flask application factory: one app per process, built from a Config, nothing global."""

from __future__ import annotations

from apiflask import APIFlask
from flask import g
from flask_cors import CORS
from werkzeug.middleware.proxy_fix import ProxyFix

from server import auth, health, media, metrics, shares, streams, tasks, videos, web, webhooks
from server.errors import register_error_handlers
from server.openapi import complete_spec
from server.requests import StreamingRequest, refuse_big_bodies
from server.services import Services
from server.tus import handler as tus
from server.tus import ietf
from server.tus.method_override import MethodOverride
from storage.database import db, open_database
from storage.schema import create_tables
from video_manager.config import Config, load_config

TUS_HEADERS = [
    "Tus-Resumable",
    "Tus-Version",
    "Tus-Extension",
    "Tus-Max-Size",
    "Tus-Checksum-Algorithm",
    "Upload-Length",
    "Upload-Offset",
    "Upload-Metadata",
    "Upload-Defer-Length",
    "Upload-Concat",
    "Upload-Checksum",
    "Upload-Expires",
    *ietf.HEADERS,
]
BROWSER_REQUEST_HEADERS = [
    "Authorization",
    "Content-Type",
    "X-HTTP-Method-Override",
    "X-Requested-With",
    "Range",
    "Content-Disposition",
    *TUS_HEADERS,
]
BROWSER_RESPONSE_HEADERS = [
    "Location",
    "Content-Range",
    "Accept-Ranges",
    "Content-Disposition",
    "ETag",
    *TUS_HEADERS,
]


def create_app(config: Config | None = None) -> APIFlask:
    config = config or load_config()
    app = APIFlask(
        __name__,
        title="video-manager",
        version="0.1.0",
        spec_path="/api/openapi.json",
        docs_path="/api/docs",
        json_errors=False,
    )
    app.request_class = StreamingRequest
    app.config.update(
        MAX_CONTENT_LENGTH=config.limits.max_upload_bytes,
        VALIDATION_ERROR_STATUS_CODE=400,
        SYNC_LOCAL_SPEC=False,
        USE_X_SENDFILE=config.server.x_sendfile,
        SWAGGER_UI_CSS="/static/vendor/swagger-ui/swagger-ui.css",
        SWAGGER_UI_BUNDLE_JS="/static/vendor/swagger-ui/swagger-ui-bundle.js",
        SWAGGER_UI_STANDALONE_PRESET_JS="/static/vendor/swagger-ui/swagger-ui-standalone-preset.js",
        DOCS_FAVICON="data:,",
    )
    open_database(config.database_url)
    create_tables()
    app.extensions["video_manager"] = Services.from_config(config)

    app.before_request(refuse_big_bodies)

    @app.before_request
    def _open_db() -> None:
        g.opened_db = db.connect(reuse_if_open=True)

    @app.teardown_request
    def _close_db(_exc: BaseException | None) -> None:
        """Only what the request opened (a request context built to make URLs, as the worker's
        events do, must not close the connection its process is using)."""
        if g.get("opened_db") and not db.is_closed():
            db.close()

    app.spec_processor(complete_spec)
    register_error_handlers(app)
    blueprints = (
        auth.bp, videos.bp, media.bp, streams.bp, tus.bp, tasks.bp, shares.bp, webhooks.bp, health.bp,
        metrics.bp, web.bp,
    )  # fmt: skip
    for blueprint in blueprints:
        app.register_blueprint(blueprint)
    metrics.count_requests(app)

    CORS(
        app,
        origins=config.server.cors_origins,
        methods=["GET", "HEAD", "POST", "PATCH", "DELETE", "OPTIONS"],
        allow_headers=BROWSER_REQUEST_HEADERS,
        expose_headers=BROWSER_RESPONSE_HEADERS,
        max_age=86400,
    )
    app.wsgi_app = MethodOverride(app.wsgi_app, tus.ENDPOINT)
    if config.server.trust_proxy:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=1, x_proto=1, x_host=1, x_port=1)
    return app
