"""What the request handlers share: config, blob store, programs and the Redis connection.

Built once per app in `create_app` and kept in `app.extensions`, so there is no import-time state.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from flask import current_app
from redis import Redis
from rq import Queue

from processor.ingest import Ingestor
from processor.queue import job_queue
from processor.renditions import Renderer
from storage.chunks import ChunkStore
from storage.factory import media_store_from_config
from storage.signing import ShareSigner
from storage.stores import BlobStore
from storage.uploads import UploadStore
from video_manager import binaries
from video_manager.config import Config
from video_manager.redis_client import connect


@dataclass
class Services:
    config: Config
    ingestor: Ingestor
    uploads: UploadStore
    chunks: ChunkStore
    signer: ShareSigner
    renderer: Renderer
    _redis: Redis | None = field(default=None, repr=False)

    @classmethod
    def from_config(cls, config: Config) -> Services:
        uploads = UploadStore.from_config(config)
        ingestor = Ingestor.from_config(config)
        renderer = Renderer(
            config=config,
            media=media_store_from_config(config),
            blobs=ingestor.blobs,
            locks=uploads.locks,
            ffmpeg=binaries.ffmpeg_path(config.ffmpeg.ffmpeg),
        )
        return cls(
            config=config,
            ingestor=ingestor,
            uploads=uploads,
            chunks=ChunkStore.from_config(config, uploads.data),
            signer=ShareSigner.from_config(config),
            renderer=renderer,
        )

    @property
    def blobs(self) -> BlobStore:
        return self.ingestor.blobs

    @property
    def redis(self) -> Redis:
        """Connected lazily: the server starts (and reports 503) even while Redis is down."""
        if self._redis is None:
            self._redis = connect(self.config)
        return self._redis

    @property
    def queue(self) -> Queue:
        return job_queue(self.config, self.redis)


def services() -> Services:
    return current_app.extensions["video_manager"]
