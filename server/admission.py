"""Whether a new upload may start, decided before its bytes are kept: the operator's
pre-create hook (as tusd's) and the per-user quota.

The hook gets `{"user", "filename", "size" (null when not known yet), "metadata", "kind"}`
(`kind`: tus, plain, chunk). A 2xx admits the upload, and `{"metadata": {...}}` in its answer
replaces the metadata; a 4xx refuses it with that status and the answer's `detail`; anything
else, no answer or a late one refuses it with 503: a broken hook never admits by accident.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Iterator
from typing import NoReturn

import requests

from server.auth import current_user
from server.errors import fail
from server.services import services
from storage.quota import QuotaExceededError, bytes_used, release, reserve, unfinished_uploads

MAX_DETAIL = 500


def admit(kind: str, filename: str, size: int | None, metadata: dict[str, str]) -> dict[str, str]:
    """Check the quota (and, for uploads that stay unfinished between requests, the user's
    ceiling on those), then ask the hook; returns the metadata to use. Refusals raise."""
    check_quota(size or 0)
    if kind != "plain":
        check_unfinished_uploads()
    config = services().config.hooks
    if not config.pre_create_url:
        return metadata
    question = {"user": current_user().username, "filename": filename, "size": size,
                "metadata": metadata, "kind": kind}  # fmt: skip
    try:
        answer = requests.post(config.pre_create_url, json=question, timeout=config.timeout_s)
    except requests.RequestException:
        fail(503, "hook_unavailable", "The upload admission hook did not answer in time; try again later.")
    if 200 <= answer.status_code < 300:
        changed = _body(answer).get("metadata")
        if isinstance(changed, dict):
            return {str(key): str(value) for key, value in changed.items()}
        return metadata
    if 400 <= answer.status_code < 500:
        detail = str(_body(answer).get("detail") or "The upload was refused.")[:MAX_DETAIL]
        fail(answer.status_code, "upload_refused", detail)
    fail(503, "hook_unavailable", f"The admission hook answered {answer.status_code}; try again later.")


def check_quota(adding: int, *, besides: uuid.UUID | None = None) -> None:
    """413 when `adding` more bytes would take the user past `limits.user_quota_bytes`."""
    quota = services().config.limits.user_quota_bytes
    if quota and bytes_used(current_user().id, besides=besides) + adding > quota:
        over_quota(quota)


@contextlib.contextmanager
def holding_quota(size: int) -> Iterator[None]:
    """Room for `size` bytes of the user's quota while the block stores them where they are
    counted (413 when there is none): the check and the hold are one step."""
    quota = services().config.limits.user_quota_bytes
    try:
        reservation = reserve(current_user().id, size, quota)
    except QuotaExceededError:
        over_quota(quota)
    try:
        yield
    finally:
        release(reservation)


def over_quota(quota: int) -> NoReturn:
    fail(413, "quota_exceeded", f"This would take your videos and uploads past your {quota}-byte quota.")


def check_unfinished_uploads() -> None:
    """429 when the user already has `limits.user_unfinished_uploads` uploads still receiving."""
    ceiling = services().config.limits.user_unfinished_uploads
    if unfinished_uploads(current_user().id) >= ceiling:
        fail(429, "too_many", f"You have {ceiling} unfinished uploads, the most one user may have "
             "(limits.user_unfinished_uploads); finish or delete some first.")  # fmt: skip


def _body(answer: requests.Response) -> dict:
    try:
        body = answer.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}
