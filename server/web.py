"""The browser page at `/` and the third-party assets it needs, served from `web/node_modules`.

The assets are installed from npm by `make` (web/package.json) into the checkout;
`server.web_assets_dir` points elsewhere. Nothing is loaded from a CDN; without the assets the
page still loads and says what is missing.
"""

from __future__ import annotations

from apiflask import APIBlueprint
from flask import current_app, send_from_directory

from server.errors import not_found
from server.services import services

bp = APIBlueprint("web", __name__, enable_openapi=False)

VENDORED = {"uppy": "uppy/dist", "swagger-ui": "swagger-ui-dist", "hls.js": "hls.js/dist"}


@bp.get("/")
def index():
    return send_from_directory(current_app.static_folder, "index.html", max_age=0)


@bp.get("/favicon.ico")
def favicon():
    """Browsers ask for it on every page that names no icon (the API docs, a raw share)."""
    folder = current_app.static_folder
    return send_from_directory(folder, "favicon.svg", mimetype="image/svg+xml", max_age=86400)


@bp.get("/static/vendor/<library>/<path:filename>")
def vendor(library: str, filename: str):
    """send_from_directory refuses paths that leave the library's folder."""
    relative = VENDORED.get(library)
    folder = services().config.web_assets_dir / relative if relative else None
    if folder is None or not folder.is_dir():
        not_found("asset")
    return send_from_directory(folder, filename, max_age=3600)
