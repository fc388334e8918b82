"""What a locker raises; the tus handler maps each to one status code."""


class UploadLockedError(RuntimeError):
    """The holder did not let go in time (423)."""


class LockUnavailableError(RuntimeError):
    """The lock service (Redis) cannot be reached (503)."""
