"""Client-sent file names are display strings only: cleaned here, never used as paths."""

from __future__ import annotations

import unicodedata

MAX_NAME_LENGTH = 255


def display_name(raw: str | None, fallback: str = "video") -> str:
    """Keep the last path component, drop control characters, trim length; never empty."""
    if not raw or raw == "null":
        return fallback
    last = raw.replace("\\", "/").rsplit("/", 1)[-1]
    cleaned = "".join(ch for ch in last if unicodedata.category(ch)[0] != "C").strip().strip(".")
    return cleaned[:MAX_NAME_LENGTH] or fallback


def fit_name(stem: str, suffix: str) -> str:
    """`stem + suffix` cut to the column's width, keeping the suffix (a trim's times, `.mp4`)."""
    return stem[: max(0, MAX_NAME_LENGTH - len(suffix))].rstrip() + suffix
