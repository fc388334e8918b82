"""Share tokens: itsdangerous-signed `{share id, expiry}`, verified against the current key and
any old keys still listed for rotation. The key is never logged. Playback tokens (an owner's
`<video>` element) are signed with the same key under another salt, and expire by themselves.

With `shares.secret_key` empty, a random key is generated once and kept in the database, so
every server process on every host signs and verifies with the same key. A key an older
version generated into `data/share-secret` is adopted, so the links it signed stay valid.
"""

from __future__ import annotations

import secrets
import uuid
from datetime import UTC, datetime
from pathlib import Path

from itsdangerous import BadData, BadSignature, URLSafeSerializer, URLSafeTimedSerializer
from itsdangerous.encoding import base64_decode, base64_encode

from storage.database import db
from storage.models import Setting
from video_manager.config import Config

SALT = "video-manager.share"
PLAYBACK_SALT = "video-manager.playback"
PLAYBACK_LIFETIME_S = 6 * 3600
SETTING = "share-secret"
LEGACY_SECRET_FILE = "share-secret"  # where earlier versions generated the key


class InvalidShareToken(ValueError):
    """Tampered, signed with an unknown key, or not a share token at all."""


class ShareSigner:
    def __init__(self, current_key: str, old_keys: list[str]) -> None:
        # itsdangerous signs with the last key and accepts any of them.
        self._serializer = URLSafeSerializer([*old_keys, current_key], salt=SALT)
        self._playback = URLSafeTimedSerializer([*old_keys, current_key], salt=PLAYBACK_SALT)

    @classmethod
    def from_config(cls, config: Config) -> ShareSigner:
        """Needs the database open when no key is configured."""
        key = config.shares.secret_key or generated_key(config.data_dir / LEGACY_SECRET_FILE)
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

    def playback_token(self, video_id: uuid.UUID) -> str:
        """Lets a `<video>` element (which cannot send a token header) play one video for
        PLAYBACK_LIFETIME_S; issued to the video's owner only."""
        return self._playback.dumps(uuid.UUID(str(video_id)).hex)

    def allows_playback(self, token: str, video_id: uuid.UUID) -> bool:
        try:
            return self._playback.loads(token, max_age=PLAYBACK_LIFETIME_S) == uuid.UUID(str(video_id)).hex
        except BadData:
            return False


def generated_key(legacy_file: Path) -> str:
    """The database's key; the first process to ask creates it (racing processes agree, as the
    insert of a primary key happens once)."""
    candidate = legacy_file.read_text().strip() if legacy_file.is_file() else ""
    with db.connection_context():
        Setting.insert(
            key=SETTING, value=candidate or secrets.token_urlsafe(48)
        ).on_conflict_ignore().execute()
        return Setting.get_by_id(SETTING).value
