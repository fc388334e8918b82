"""Token login (as DRF's obtain_auth_token) and the token check every other route uses."""

from __future__ import annotations

from apiflask import APIBlueprint, HTTPTokenAuth
from flask import current_app, request
from pydantic import BaseModel, Field
from werkzeug.datastructures import Authorization

from server.errors import ApiError, fail
from storage import accounts
from storage.models import User

bp = APIBlueprint("auth", __name__, tag="Auth")


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
    user = accounts.authenticate(credentials.username, credentials.password)
    if user is None:
        fail(400, "invalid_credentials", "Unable to log in with provided credentials.")
    return {"token": accounts.issue_token(user)}
