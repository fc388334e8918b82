"""Share tokens: itsdangerous-signed `{share id, expiry}`, verified against the current key and
any old keys still listed for rotation. The key is never logged.

With `shares.secret_key` empty, a random key is generated once into `data/share-secret`
(mode 0600) and shared by every server process that uses the same data directory.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

from itsdangerous import BadData, BadSignature, URLSafeSerializer
from itsdangerous.encoding import base64_decode, base64_encode

from video_manager.config import Config

SALT = "video-manager.share"
SECRET_FILE = "share-secret"


class InvalidShareToken(ValueError):
    """Tampered, signed with an unknown key, or not a share token at all."""


class ShareSigner:
    def __init__(self, current_key: str, old_keys: list[str]) -> None:
        # itsdangerous signs with the last key and accepts any of them.
        self._serializer = URLSafeSerializer([*old_keys, current_key], salt=SALT)

    @classmethod
    def from_config(cls, config: Config) -> ShareSigner:
        key = config.shares.secret_key or _generated_key(config.data_dir / SECRET_FILE)
        return cls(key, list(config.shares.old_secret_keys))

    def token(self, share_id: uuid.UUID, expires_at: datetime) -> str:
        expires = int(expires_at.replace(tzinfo=UTC).timestamp())
        return self._serializer.dumps({"s": uuid.UUID(str(share_id)).hex, "e": expires})

    def verify(self, token: str) -> tuple[uuid.UUID, datetime]:
        """Also refuses non-canonical base64 (spare bits set in the last character), so a token
        with any one character changed is never accepted."""
        try:
            if not all(base64_encode(base64_decode(part)).decode() == part for part in token.split(".")):
                raise BadSignature("not canonical base64")
            payload = self._serializer.loads(token)
            share_id = uuid.UUID(hex=payload["s"])
            expires_at = datetime.fromtimestamp(int(payload["e"]), UTC).replace(tzinfo=None)
        except (BadData, KeyError, TypeError, ValueError) as exc:
            raise InvalidShareToken("not a valid share token") from exc
        return share_id, expires_at


def _generated_key(path: Path) -> str:
    with contextlib.suppress(FileExistsError):
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(secrets.token_urlsafe(48))
    for _ in range(50):  # another process may be between creating and writing it
        key = path.read_text().strip()
        if key:
            return key
        time.sleep(0.01)
    raise RuntimeError(f"{path} is empty")
