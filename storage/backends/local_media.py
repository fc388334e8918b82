"""Media files on local disk: `data/media/<xx>/<video id>/<name>`, each linked into place whole.

With object storage, this is also each host's cache of the media it has served.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import uuid
from pathlib import Path

from storage.files import sharded
from storage.scratch import Scratch

NAME = re.compile(r"^[a-z0-9][a-z0-9.-]{0,63}$")


class LocalMediaStore:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.scratch = Scratch(root / "tmp")  # pictures being made: never mistaken for video scratch

    def folder(self, video_id: uuid.UUID) -> Path:
        return sharded(self.root, video_id)

    def path(self, video_id: uuid.UUID, name: str) -> Path:
        if not NAME.match(name):
            raise ValueError(f"not a media file name: {name!r}")
        return self.folder(video_id) / name

    def get(self, video_id: uuid.UUID, name: str) -> Path | None:
        path = self.path(video_id, name)
        return path if path.is_file() else None

    def put(self, video_id: uuid.UUID, name: str, staged: Path) -> Path:
        final = self.path(video_id, name)
        final.parent.mkdir(parents=True, exist_ok=True)
        with contextlib.suppress(FileExistsError):
            os.link(staged, final)
        return final

    def cache(self, video_id: uuid.UUID, name: str, staged: Path) -> Path:
        return self.put(video_id, name, staged)

    def staged(self, suffix: str) -> contextlib.AbstractContextManager[Path]:
        return self.scratch.staged_path(suffix)

    def upload_made(self, video_id: uuid.UUID, names: list[str]) -> None:
        """They are in place already."""

    def names(self, video_id: uuid.UUID, prefix: str) -> list[str]:
        folder = self.folder(video_id)
        return sorted(p.name for p in folder.glob(f"{prefix}*")) if folder.is_dir() else []

    def remove(self, video_id: uuid.UUID, names: list[str]) -> None:
        for name in names:
            self.path(video_id, name).unlink(missing_ok=True)

    def delete_all(self, video_id: uuid.UUID) -> None:
        shutil.rmtree(self.folder(video_id), ignore_errors=True)

    def video_ids(self) -> set[uuid.UUID]:
        found = set()
        for folder in self.root.glob("??/*"):
            with contextlib.suppress(ValueError):
                found.add(uuid.UUID(folder.name))
        return found
