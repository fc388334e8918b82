"""Token login (as DRF's obtain_auth_token) and the token check every other route uses."""

from __future__ import annotations

import hashlib
import logging
import uuid
from typing import TypeVar

from apiflask import APIBlueprint, HTTPTokenAuth
from flask import current_app, request
from pydantic import BaseModel, Field
from redis.exceptions import RedisError
from werkzeug.datastructures import Authorization

from server.errors import ApiError, fail, not_found
from server.services import services
from storage import accounts
from storage.models import Share, Task, User, Video, Webhook
from video_manager.redis_client import RedisNotConfiguredError

bp = APIBlueprint("auth", __name__, tag="Auth")
log = logging.getLogger(__name__)

# Password guessing is slow (scrypt) and limited per client address and username together,
# across all server processes through Redis: an attacker who fails for `bob` is held back, while
# bob, from his own address, still logs in (a per-user lockout would let anyone lock him out).
# Tokens are 256 random bits, so guessing them is hopeless. While Redis is down the limit is not
# enforced (logins keep working); scrypt's cost still applies.
LOGIN_FAILURES_ALLOWED = 10
LOGIN_FAILURE_WINDOW_S = 300


class TokenAuth(HTTPTokenAuth):
    """Accepts DRF's `Authorization: Token <key>` as well as `Bearer <key>`."""

    SCHEMES = ("token", "bearer")

    def get_auth(self) -> Authorization | None:
        scheme, _, token = request.headers.get("Authorization", "").strip().partition(" ")
        if scheme.lower() not in self.SCHEMES or not token.strip():
            return None
        auth = Authorization(scheme.lower())
        auth.token = token.strip()
        return auth


token_auth = TokenAuth(scheme="Bearer", description="`Authorization: Token <key>` or `Bearer <key>`")


@token_auth.verify_token
def _verify(token: str) -> User | None:
    return accounts.user_for_token(token)


@token_auth.error_processor
def _unauthorized(_error):
    return current_app.error_callback(
        ApiError(401, "unauthorized", "Missing or invalid token: send `Authorization: Token <key>`.")
    )


def current_user() -> User:
    return token_auth.current_user


Row = TypeVar("Row", Video, Task, Share, Webhook)


def owned(model: type[Row], row_id: uuid.UUID, what: str) -> Row:
    """The caller's row of `model`, or 404 whether it is missing or someone else's."""
    row = model.get_or_none((model.id == row_id) & (model.owner == current_user().id))
    if row is None:
        not_found(what)
    return row


class LoginIn(BaseModel):
    username: str = Field(min_length=1, max_length=150)
    password: str = Field(min_length=1, max_length=4096)


class TokenOut(BaseModel):
    token: str


@bp.post("/api-token-auth/")
@bp.doc(summary="Exchange username and password for an API token")
@bp.output(TokenOut)
def login():
    """Accepts JSON or form fields, like DRF. Each login issues a new token (tokens are stored hashed)."""
    data = request.get_json(silent=True) if request.is_json else request.form
    try:
        credentials = LoginIn.model_validate(dict(data or {}))
    except ValueError:
        fail(400, "invalid_request", "Send `username` and `password` as JSON or form fields.")
    failures_key = _failures_key(request.remote_addr or "", credentials.username)
    if _failures(failures_key) >= LOGIN_FAILURES_ALLOWED:
        fail(429, "too_many_attempts", "Too many failed logins from here for this user; try again later.",
             {"Retry-After": str(LOGIN_FAILURE_WINDOW_S)})  # fmt: skip
    user = accounts.authenticate(credentials.username, credentials.password)
    if user is None:
        _count_failure(failures_key)
        fail(400, "invalid_credentials", "Unable to log in with provided credentials.")
    return {"token": accounts.issue_token(user)}


def _failures_key(address: str, username: str) -> str:
    subject = f"{address}\0{username}".encode()
    return "video-manager:login-failures:" + hashlib.sha256(subject).hexdigest()


def _failures(key: str) -> int:
    try:
        return int(services().redis.get(key) or 0)
    except (RedisError, RedisNotConfiguredError):
        return 0


def _count_failure(key: str) -> None:
    try:
        redis = services().redis
        if redis.incr(key) == 1:  # the window starts with the first failure
            redis.expire(key, LOGIN_FAILURE_WINDOW_S)
    except (RedisError, RedisNotConfiguredError) as exc:
        log.warning("login failure not counted: %s", type(exc).__name__)
