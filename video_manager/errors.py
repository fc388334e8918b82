"""Errors that cross layers: raised by the store, the lockers or the media code, answered by
the server. Each carries the code and HTTP status a client gets (and, where the message is not
for clients, a fixed sentence), so one handler answers them all by walking the class hierarchy,
as Flask's own error handlers do: a new subclass needs no table entry. A leaf module: it
imports nothing of ours."""

from __future__ import annotations


class ClientError(Exception):
    """A request that cannot be done as asked; the subclass says how it is answered."""

    code = "bad_request"
    status = 400
    detail: str | None = None  # a fixed sentence; else the message, as a sentence

    def sentence(self) -> str:
        if self.detail:
            return self.detail
        text = str(self)
        return (text[:1].upper() + text[1:] + ".") if text else "The request was refused."


class InvalidVideoError(ClientError, ValueError):
    """The file cannot be read as a video, or asks too much; the message says why, without paths."""

    code = "invalid_video"
    status = 422
