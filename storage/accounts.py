"""Users and API tokens. Passwords use a slow salted hash; tokens are random and stored hashed."""

from __future__ import annotations

import hashlib
import secrets

from peewee import IntegrityError
from werkzeug.security import check_password_hash, generate_password_hash

from storage.database import db
from storage.models import Token, User

# Checked against when the user does not exist, so the response time does not reveal usernames.
# Written out rather than computed at import: scrypt costs every process that imports this module
# (each server worker, each CLI run) 0.2 s of CPU. tests/test_accounts.py checks it still has the
# cost werkzeug's current default gives real hashes.
DUMMY_HASH = (
    "scrypt:32768:8:1$pOwqqdOY6FXf9ZLB$f6daeb031afe44cb00b542105e242c30db3f25681611a1c89e8e35fd5b0a7b8f"
    "a9f43297005177d8504ce99cecb8276be4ce76d78f6204046bce7c830149412e"
)


class UserExistsError(ValueError):
    pass


def create_user(username: str, password: str) -> tuple[User, str]:
    """Create a user and return it with a first API token."""
    if not username or not password:
        raise ValueError("username and password must not be empty")
    with db.atomic():
        try:
            user = User.create(username=username, password_hash=generate_password_hash(password))
        except IntegrityError as exc:
            raise UserExistsError(f"user {username!r} already exists") from exc
        return user, issue_token(user)


def issue_token(user: User) -> str:
    token = secrets.token_urlsafe(32)
    Token.create(user=user, key_hash=_token_hash(token))
    return token


def authenticate(username: str, password: str) -> User | None:
    user = User.get_or_none(User.username == username)
    if user is None:
        check_password_hash(DUMMY_HASH, password)
        return None
    return user if check_password_hash(user.password_hash, password) else None


def user_for_token(token: str) -> User | None:
    if not token:
        return None
    row = Token.select(Token, User).join(User).where(Token.key_hash == _token_hash(token)).first()
    return row.user if row else None


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()
