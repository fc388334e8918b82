"""Absolute URLs for clients: `server.public_url` when set, else the request's own host.

With `server.trust_proxy` on, ProxyFix has already applied X-Forwarded-Proto/Host to the request.
"""

from __future__ import annotations

from flask import request, url_for

from server.services import services
from storage.representation import Representer


def external_url(endpoint: str, **values: object) -> str:
    return base_url() + url_for(endpoint, **values)


def base_url() -> str:
    public = services().config.server.public_url
    return public.rstrip("/") if public else request.host_url.rstrip("/")


def representer() -> Representer:
    """Rows described as the API answers, with URLs on this request's base."""
    return Representer(base_url(), services().signer)
