"""X-HTTP-Method-Override for tus clients behind proxies that only pass GET and POST.

Applied before routing (a WSGI middleware), and only to POSTs under the tus endpoint.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

OVERRIDABLE = frozenset({"PATCH", "DELETE", "HEAD", "OPTIONS", "GET"})


class MethodOverride:
    def __init__(self, app: Callable[..., Iterable[bytes]], prefix: str) -> None:
        self.app = app
        self.prefix = prefix

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        override = environ.get("HTTP_X_HTTP_METHOD_OVERRIDE", "").strip().upper()
        if (
            override in OVERRIDABLE
            and environ.get("REQUEST_METHOD") == "POST"
            and environ.get("PATH_INFO", "").startswith(self.prefix)
        ):
            environ["REQUEST_METHOD"] = override
        return self.app(environ, start_response)
