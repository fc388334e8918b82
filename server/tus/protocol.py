"""tus 1.0.0 on the wire: constants, header parsing and formatting, checksums. No I/O here."""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
import uuid
import zlib
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import format_datetime
from typing import Protocol
from urllib.parse import urlsplit

from video_manager.errors import ClientError

TUS_VERSION = "1.0.0"
EXTENSIONS = (
    "creation",
    "creation-with-upload",
    "creation-defer-length",
    "termination",
    "expiration",
    "checksum",
    "checksum-trailer",
    "concatenation",
)
OFFSET_CONTENT_TYPE = "application/offset+octet-stream"
MAX_HEADER_INT = 2**62
MAX_CONCAT_PARTS = 100  # tus-js-client's parallelUploads is a handful; more is an amplification attack
_DIGITS = re.compile(r"^[0-9]{1,19}$")
_METADATA_KEY = re.compile(r"^[^\s,]+$")


class TusHeaderError(ClientError, ValueError):
    """A tus header is missing or malformed."""

    code, status = "invalid_header", 400


class ChecksumAlgorithmError(ClientError, ValueError):
    """Upload-Checksum names an algorithm we do not support."""

    code, status = "unsupported_checksum", 400


class ChecksumMismatchError(ClientError, ValueError):
    """The chunk's digest differs from the one the client sent."""

    code, status = "checksum_mismatch", 460


class Hasher(Protocol):
    def update(self, data: bytes, /) -> None: ...
    def digest(self) -> bytes: ...


class Crc32:
    """CRC-32 with hashlib's interface; its digest is the 4 big-endian bytes of the value."""

    def __init__(self) -> None:
        self.value = 0

    def update(self, data: bytes, /) -> None:
        self.value = zlib.crc32(data, self.value)

    def digest(self) -> bytes:
        return self.value.to_bytes(4, "big")


CHECKSUM_ALGORITHMS = {
    "sha1": hashlib.sha1,
    "sha256": hashlib.sha256,
    "md5": hashlib.md5,
    "crc32": Crc32,
}


def parse_length(name: str, value: str | None, *, required: bool = True) -> int | None:
    """A non-negative decimal integer header (Upload-Offset, Upload-Length)."""
    if value is None:
        if required:
            raise TusHeaderError(f"{name} header is required")
        return None
    value = value.strip()
    if not _DIGITS.match(value) or int(value) > MAX_HEADER_INT:
        raise TusHeaderError(f"{name} must be a non-negative integer")
    return int(value)


def parse_metadata(header: str | None) -> dict[str, str]:
    """`key base64,key2 base64,flag` → dict. Values that are not UTF-8 are kept as latin-1 text."""
    metadata: dict[str, str] = {}
    if not header or not header.strip():
        return metadata
    for pair in header.split(","):
        parts = pair.strip().split(" ")
        key = parts[0]
        if not key or not _METADATA_KEY.match(key) or len(parts) > 2:
            raise TusHeaderError("Upload-Metadata must be comma-separated `key base64value` pairs")
        if key in metadata:
            raise TusHeaderError(f"Upload-Metadata repeats the key {key!r}")
        raw = parts[1] if len(parts) == 2 else ""
        try:
            decoded = base64.b64decode(raw, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise TusHeaderError(f"Upload-Metadata value of {key!r} is not valid base64") from exc
        try:
            metadata[key] = decoded.decode("utf-8")
        except UnicodeDecodeError:
            metadata[key] = decoded.decode("latin-1")
    return metadata


def format_metadata(metadata: dict[str, str]) -> str:
    """The Upload-Metadata header for `metadata`; keys tus does not allow are left out."""
    pairs = []
    for key, value in metadata.items():
        if _METADATA_KEY.match(key):
            pairs.append(f"{key} {base64.b64encode(value.encode()).decode()}" if value else key)
    return ",".join(pairs)


def metadata_name(metadata: dict[str, str]) -> str | None:
    """Uppy sends `name` and `filename`; empty values and the string "null" mean absent."""
    for key in ("filename", "name"):
        value = metadata.get(key)
        if value and value != "null":
            return value
    return None


@dataclass(frozen=True)
class Checksum:
    algorithm: str
    digest: bytes

    def new_hasher(self) -> Hasher:
        return CHECKSUM_ALGORITHMS[self.algorithm]()

    def verify(self, hasher: Hasher) -> None:
        if hasher.digest() != self.digest:
            raise ChecksumMismatchError("the chunk's checksum does not match Upload-Checksum")


def parse_checksum(header: str | None) -> Checksum | None:
    if header is None:
        return None
    algorithm, _, encoded = header.strip().partition(" ")
    algorithm = algorithm.lower()
    if algorithm not in CHECKSUM_ALGORITHMS:
        raise ChecksumAlgorithmError(
            f"checksum algorithm {algorithm!r} is not supported; use one of {', '.join(CHECKSUM_ALGORITHMS)}"
        )
    try:
        digest = base64.b64decode(encoded.strip(), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise TusHeaderError("Upload-Checksum digest is not valid base64") from exc
    if not digest:
        raise TusHeaderError("Upload-Checksum needs `algorithm base64digest`")
    return Checksum(algorithm, digest)


@dataclass(frozen=True)
class Concat:
    kind: str  # "partial" or "final"
    parts: tuple[uuid.UUID, ...] = ()


def parse_concat(header: str | None, endpoint_path: str) -> Concat | None:
    """`partial`, or `final;url url ...` where each url (absolute or a path) names one of our uploads."""
    if header is None:
        return None
    header = header.strip()
    if header == "partial":
        return Concat("partial")
    if not header.startswith("final;"):
        raise TusHeaderError("Upload-Concat must be `partial` or `final;<upload urls>`")
    parts = []
    for url in header.removeprefix("final;").split():
        try:
            path = urlsplit(url).path.rstrip("/")
        except ValueError as exc:  # e.g. an unclosed IPv6 host
            raise TusHeaderError(f"{url!r} is not a URL") from exc
        prefix, _, last = path.rpartition("/")
        if prefix.rstrip("/") != endpoint_path.rstrip("/"):
            raise TusHeaderError(f"{url!r} is not an upload of this server")
        try:
            parts.append(uuid.UUID(last))
        except ValueError as exc:
            raise TusHeaderError(f"{url!r} is not an upload of this server") from exc
    if not parts:
        raise TusHeaderError("Upload-Concat final lists no partial uploads")
    if len(set(parts)) != len(parts):
        raise TusHeaderError("Upload-Concat final names a partial upload more than once")
    if len(parts) > MAX_CONCAT_PARTS:
        raise TusHeaderError(f"Upload-Concat final may name at most {MAX_CONCAT_PARTS} partial uploads")
    return Concat("final", tuple(parts))


def format_expires(moment: datetime) -> str:
    """RFC 7231 date, as Upload-Expires requires (`Wed, 25 Jun 2025 16:00:00 GMT`)."""
    return format_datetime(moment.replace(tzinfo=UTC), usegmt=True)
