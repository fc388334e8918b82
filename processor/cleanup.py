"""Expiration: remove unfinished uploads past `tus.expiry_s` with their bytes, and stale temp files.

Run on a timer by the worker daemon (every `tus.cleanup_interval_s`) and by `video-manager cleanup`.
"""

from __future__ import annotations

import logging
import threading

from config import Config
from storage.blobs import BlobStore
from storage.chunks import ChunkStore
from storage.database import db
from storage.uploads import UploadStore

log = logging.getLogger(__name__)


def remove_expired(config: Config) -> dict[str, int]:
    with db.connection_context():
        removed = {
            "uploads": UploadStore.from_config(config).remove_expired(),
            "chunked_uploads": ChunkStore.from_config(config).remove_expired(),
        }
    removed["temp_files"] = BlobStore(config.data_dir).sweep_stale_temps()
    if any(removed.values()):
        log.info("cleanup removed %s", removed)
    return removed


def start_cleanup_timer(config: Config) -> threading.Event:
    """A daemon thread in the worker's main process; set the returned event to stop it."""
    stop = threading.Event()

    def loop() -> None:
        while not stop.wait(config.tus.cleanup_interval_s):
            try:
                remove_expired(config)
            except Exception:
                log.exception("cleanup failed; will retry")

    threading.Thread(target=loop, name="cleanup", daemon=True).start()
    return stop
