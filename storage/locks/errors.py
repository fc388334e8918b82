"""What a locker raises, and how a client is answered."""

from video_manager.errors import ClientError


class UploadLockedError(ClientError, RuntimeError):
    """The holder did not let go in time."""

    code, status = "upload_locked", 423


class LockUnavailableError(ClientError, RuntimeError):
    """The lock service (Redis) cannot be reached."""

    code, status = "lock_unavailable", 503
