"""One XVS reply, decoded, and the single place where replies become errors.

Owns: decoding an HTTP answer into a `Reply`, and the one mapping of replies onto the error tree.
Imports: `vipfs.api` clock, errors, offloop, wire.

XVS answers API errors with HTTP 200 and a JSON `status`/`msg`; proxies and dead nodes answer
with HTML, Cloudflare pages or truncated bodies. `decode` turns any HTTP answer into a `Reply` or
a TransientError; `error_for` maps a decoded reply onto the error tree (by `msg` for the messages
whose meaning does not depend on the status, then by status).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from vipfs.api import offloop
from vipfs.api.clock import ServerClock, seconds_to_midnight, seconds_to_next_minute
from vipfs.api.errors import (
    ApiError,
    AuthError,
    NotFoundError,
    ProtocolError,
    RateLimitedError,
    RequestRejectedError,
    TransientError,
    UnsupportedError,
)
from vipfs.api.wire import to_date, to_int, to_str

BIG_BODY = 256 * 1024  # bytes from which a reply is parsed off the loop

# A wait past the server's minute boundary, for the skew between its clock and ours.
QUOTA_MARGIN = 0.5

_CLOUDFLARE_MARKS = (
    "just a moment",
    "_cf_chl_opt",
    "challenge-platform",
    "cf-browser-verification",
)
_LIMIT = re.compile(r"requests? limit reached(?::\s*(\d+))?(?:\s*per\s*(\w+))?", re.IGNORECASE)
_AUTH_PREFIXES = ("invalid key", "wrong auth", "api not enabled")
_UNSUPPORTED_MARKS = ("not allowed in api", "special", "invalid operation", "disabled")
_MISSING_PREFIXES = ("folder not exist", "parent folder not exist", "not your file", "no file")


@dataclass(frozen=True, slots=True)
class Reply:
    """A JSON envelope: `status` and `msg` normalised, `result` as sent (any type, or None)."""

    status: int
    msg: str
    result: Any
    body: Mapping[str, Any]
    server_time: datetime | None
    requests_available: int | None
    size: int = 0  # bytes of the body: big replies are parsed off the loop


def decode(op: str, http_status: int, headers: Mapping[str, str], body: bytes | bytearray) -> Reply:
    """Any HTTP answer → a Reply, or TransientError/ProtocolError when it is not an envelope.
    The caller turns any other exception (RecursionError of a deep body...) into ProtocolError.
    A bytearray body is consumed: emptied once decoded to text."""
    if 300 <= http_status < 400:
        where = headers.get("location", "elsewhere")
        raise ProtocolError(f"redirected to {_clip(where)}: check --api-url", op=op)
    size = len(body)
    text = body.decode("utf-8", errors="replace")
    if isinstance(body, bytearray):
        body.clear()  # the client's read buffer: freed now, not after the parse
    try:
        data = _loads(text) if text and not text.isspace() else None  # no copy of 60 MB
    except ValueError:
        raise TransientError(describe_page(http_status, headers, text), op=op) from None
    if data is None:
        raise TransientError(f"empty reply (HTTP {http_status})", op=op)
    if not isinstance(data, Mapping):
        if http_status != 200:
            raise TransientError(f"unexpected reply (HTTP {http_status})", op=op)
        raise ProtocolError(f"reply is a JSON {type(data).__name__}, not an object", op=op)
    status = to_int(data.get("status"))
    if http_status >= 500 or (status is None and http_status != 200):
        raise TransientError(f"HTTP {http_status}", op=op)
    if status is None:
        raise ProtocolError("reply has no status", op=op)
    return Reply(
        status=status,
        msg=to_str(data.get("msg")) or "",
        result=data.get("result"),
        body=data,
        server_time=to_date(data.get("server_time")),
        requests_available=to_int(data.get("requests_available")),
        size=size,
    )


def error_for(op: str, reply: Reply, clock: ServerClock) -> ApiError | None:
    """The error a reply stands for, or None for a success (`status == 200`, whatever `msg`)."""
    msg, status, lowered = reply.msg, reply.status, reply.msg.strip().lower()
    limit = _LIMIT.match(lowered)
    if limit or status == 429:
        scope = "day" if limit and (limit.group(2) or "").startswith("day") else "min"
        stamp = reply.server_time or clock.server_now()
        wait = seconds_to_midnight(stamp) if scope == "day" else seconds_to_next_minute(stamp)
        if status == 429 and not limit:
            wait = 60.0
        return RateLimitedError(
            msg or "rate limited", retry_after=wait + QUOTA_MARGIN, scope=scope, op=op
        )
    if status == 200:
        return None
    if lowered.startswith(_AUTH_PREFIXES):
        return AuthError(msg, status=status, op=op)
    if any(mark in lowered for mark in _UNSUPPORTED_MARKS):
        return UnsupportedError(msg, status=status, op=op)
    if status == 404 or (status == 403 and lowered.startswith(_MISSING_PREFIXES)):
        return NotFoundError(msg or "not found", status=status, op=op)
    if status >= 500:
        return TransientError(msg or "server error", status=status, op=op)
    return RequestRejectedError(msg or "request rejected", status=status, op=op)


def _loads(text: str) -> Any:
    """Big bodies are decoded entry by entry (they are decoded in a worker thread, and one
    long json.loads would hold the GIL, hence the trio loop, all along)."""
    return offloop.loads(text) if len(text) >= BIG_BODY else json.loads(text)


def is_cloudflare(headers: Mapping[str, str], text: str) -> bool:
    lowered = text[:4096].lower()
    return "cf-mitigated" in headers or any(mark in lowered for mark in _CLOUDFLARE_MARKS)


def describe_page(http_status: int, headers: Mapping[str, str], text: str) -> str:
    """A short, key-free description of a body that is not JSON (for logs and errors)."""
    stripped = text.strip()
    if is_cloudflare(headers, text):
        return f"Cloudflare challenge page (HTTP {http_status})"
    if stripped.lower().startswith("error code:"):
        return f"proxy error '{_clip(stripped)}' (HTTP {http_status})"
    if stripped.startswith("<") or "html" in headers.get("content-type", ""):
        return f"HTML page instead of JSON (HTTP {http_status})"
    if stripped.startswith(("{", "[")):
        return f"truncated or invalid JSON (HTTP {http_status})"
    return f"unreadable reply (HTTP {http_status})"


def _clip(text: str, limit: int = 60) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"
