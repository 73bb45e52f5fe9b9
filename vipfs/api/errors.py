"""One error tree for everything an XVS host can answer.

Owns: the one tree of API errors and the cleaning of their messages.
Imports: `vipfs.api.redact` only.

XVS hosts answer API errors with HTTP 200 and a JSON `status`; the client maps those, transport
failures and non-JSON pages onto this tree at one place, so callers decide by type alone:

* ApiError                     anything the API layer raises; `status` and `msg` from the server
  + AuthError                  bad or disabled key: fatal, never retried
  + NotFoundError              404, or "Folder not exist" style 403s about a missing object
  + RequestRejectedError       a refusal that a retry would repeat (bad name, not empty, 451)
  + UnsupportedError           the host lacks the operation (disabled, or an older build)
  + UploadRejectedError        an upload node refused one file; `reason` is the node's own text
  + TransientError             worth retrying: network, timeouts, 5xx, HTML or Cloudflare pages
    + RateLimitedError         "Requests limit reached: N per min|day"; `retry_after` in seconds
    + NotSentError             the request surely never reached the server (connect failed)
    + LinkExpiredError         a direct-link URL answered 403/410: fetch a fresh link and retry
    + TooSlowError             a transfer moved less than --low-speed-limit over --low-speed-time
  + ProtocolError              a JSON answer whose shape makes no sense even leniently

Messages never contain the API key: the client builds them from the path and the server's `msg`,
and every message (a host may echo the key, or put line breaks in) is made `printable` here.
"""

from __future__ import annotations

from vipfs.api.redact import printable


class ApiError(Exception):
    """Base of every error the API layer raises."""

    def __init__(self, msg: str, *, status: int | None = None, op: str | None = None) -> None:
        msg = printable(msg)
        self.msg = msg
        self.status = status
        self.op = op
        where = f"{op}: " if op else ""
        code = f" (status {status})" if status is not None else ""
        super().__init__(f"{where}{msg}{code}")


class AuthError(ApiError):
    """The key is malformed, wrong, or the account has no API access. Retrying cannot help."""


class NotFoundError(ApiError):
    """The file or folder does not exist, or is not the caller's."""


class RequestRejectedError(ApiError):
    """The server refused the request as asked (bad name, folder not empty, legal block, ...)."""


class UnsupportedError(ApiError):
    """The host does not offer this operation (disabled by config, or an older build)."""


class UploadRejectedError(ApiError):
    """An upload node refused a file for good; `reason` is the node's per-file status text."""

    def __init__(self, reason: str, *, filename: str | None = None) -> None:
        reason = printable(reason)
        self.reason = reason
        self.filename = filename
        super().__init__(reason, op="upload")


class TransientError(ApiError):
    """A failure that may pass: network trouble, timeouts, 5xx, HTML or Cloudflare pages."""


class RateLimitedError(TransientError):
    """The host's request quota is spent; `retry_after` says how long to wait (seconds)."""

    def __init__(self, msg: str, *, retry_after: float, scope: str, op: str | None = None) -> None:
        self.retry_after = retry_after
        self.scope = scope  # "min" or "day"
        super().__init__(msg, status=403, op=op)


class NotSentError(TransientError):
    """The connection could not be made, so the server never saw the request.

    The one transport failure after which even a non-idempotent call (folder/create, an upload)
    may be repeated without risking a duplicate.
    """


class LinkExpiredError(TransientError):
    """A direct-link URL was refused (expired, or bound to another address): get a new link."""


class ProtocolError(ApiError):
    """A JSON answer whose shape cannot be understood even with lenient parsing."""


class TooSlowError(TransientError):
    """An upload or download moved less than its minimum rate (`lowspeed.SpeedFloor`) and was
    aborted, so a crawling node or link cannot hold a transfer slot forever."""
