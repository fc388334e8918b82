"""The browser page at `/` and the third-party assets it needs, served from `web/node_modules`.

The assets are installed from npm by `make` (web/package.json); nothing is loaded from a CDN.
"""

from __future__ import annotations

from apiflask import APIBlueprint
from flask import current_app, send_from_directory

from config import PROJECT_ROOT
from server.errors import not_found

bp = APIBlueprint("web", __name__, enable_openapi=False)

NODE_MODULES = PROJECT_ROOT / "web" / "node_modules"
VENDORED = {
    "uppy": NODE_MODULES / "uppy" / "dist",
    "swagger-ui": NODE_MODULES / "swagger-ui-dist",
}


@bp.get("/")
def index():
    return send_from_directory(current_app.static_folder, "index.html", max_age=0)


@bp.get("/static/vendor/<library>/<path:filename>")
def vendor(library: str, filename: str):
    """send_from_directory refuses paths that leave the library's folder."""
    folder = VENDORED.get(library)
    if folder is None or not folder.is_dir():
        not_found("asset")
    return send_from_directory(folder, filename, max_age=3600)
