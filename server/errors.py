"""One error shape for everything: `{"error": code, "detail": sentence}`, never HTML or a traceback."""

from __future__ import annotations

import errno
import logging
from typing import Any, NoReturn

from apiflask import APIFlask
from apiflask.exceptions import HTTPError
from flask import has_request_context, request
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge

log = logging.getLogger(__name__)

CODES_BY_STATUS = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    410: "gone",
    411: "length_required",
    412: "precondition_failed",
    413: "too_large",
    414: "uri_too_long",
    415: "unsupported_media_type",
    416: "range_not_satisfiable",
    417: "expectation_failed",
    422: "invalid_request",
    429: "too_many_requests",
    431: "headers_too_large",
    460: "checksum_mismatch",
    500: "internal_error",
    501: "not_implemented",
    503: "service_unavailable",
    507: "insufficient_storage",
}


DISK_FULL = (errno.ENOSPC, errno.EDQUOT)

# Status codes outside the HTTP registry need their reason phrase spelled out.
STATUS_LINES = {460: "460 Checksum Mismatch"}


class ApiError(HTTPError):
    """Raise with a machine code and a sentence for the client."""

    def __init__(self, status: int, code: str, detail: str, headers: dict[str, str] | None = None) -> None:
        # APIFlask only accepts codes Werkzeug knows; tus's 460 is set after construction.
        super().__init__(None, message=detail, headers=headers, extra_data={"error": code})
        self.status_code = status


def fail(status: int, code: str, detail: str, headers: dict[str, str] | None = None) -> NoReturn:
    raise ApiError(status, code, detail, headers)


def not_found(what: str = "resource") -> NoReturn:
    fail(404, "not_found", f"No such {what}.")


def register_error_handlers(app: APIFlask) -> None:
    @app.error_processor
    def render(error: HTTPError) -> tuple[dict[str, Any], int, Any]:
        code = error.extra_data.get("error") or CODES_BY_STATUS.get(error.status_code, "error")
        if isinstance(error.detail, dict) and error.detail:
            code = "invalid_request"
            detail = _validation_sentence(error.detail)
        else:
            detail = error.message or "Request failed."
        body = {"error": code, "detail": detail}
        return body, STATUS_LINES.get(error.status_code, error.status_code), error.headers

    @app.errorhandler(HTTPException)
    def from_werkzeug(exc: HTTPException):
        headers = {k: v for k, v in exc.get_headers() if k.lower() != "content-type"}
        return app.error_callback(HTTPError(exc.code or 500, message=exc.description, headers=headers))

    @app.errorhandler(RequestEntityTooLarge)
    def too_large(exc: RequestEntityTooLarge):
        """Werkzeug says the same vague sentence for a body over the limit and for an oversized
        form field (a malformed multipart body ends up there too); tell them apart."""
        limit = getattr(request, "body_limit", request.max_content_length)
        length = request.content_length
        if limit is not None and length is not None and length > limit:
            detail = f"The body is {length} bytes; this request takes at most {limit} bytes."
        elif limit is not None and length is None:  # chunked, cut off at the limit
            detail = f"The body is over {limit} bytes; this request takes at most {limit} bytes."
        else:
            detail = (
                "A form field is too large, or the multipart body is malformed; "
                "send the video as the field `file`."
            )
        return app.error_callback(ApiError(413, "too_large", detail))

    @app.errorhandler(OSError)
    def os_error(exc: OSError):
        if exc.errno in DISK_FULL:
            log.error("disk full on %s", _safe_path())
            return app.error_callback(
                ApiError(507, "insufficient_storage", "The server's disk is full; try again later.")
            )
        return unexpected(exc)

    @app.errorhandler(Exception)
    def unexpected(exc: Exception):
        log.exception("unhandled error on %s", _safe_path())
        return app.error_callback(ApiError(500, "internal_error", "The server failed to handle the request."))


def _validation_sentence(detail: dict[str, Any]) -> str:
    parts = []
    for location_errors in detail.values():
        if isinstance(location_errors, dict):
            for field, messages in location_errors.items():
                items = messages if isinstance(messages, list) else [messages]
                text = "; ".join(str(m).removeprefix("Value error, ") for m in items)
                parts.append(text if field in ("_schema", "") else f"{field}: {text}")
    return ". ".join(parts) or "The request is invalid."


def _safe_path() -> str:
    """The request path without share tokens, which are secrets."""
    if not has_request_context():
        return "-"
    return "/s/<redacted>" if request.path.startswith("/s/") else request.path
