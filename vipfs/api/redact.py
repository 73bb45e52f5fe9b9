"""Keep the API key out of every log record, whoever logs it, and host text to one line.

Owns: keeping the key and control characters out of log records and of messages shown to the user
(`protect`, `redact`, `printable`, `one_line`).
Imports: the standard library only.

httpx and httpcore log request URLs at INFO/DEBUG, and a key in a URL (`?key=...`) would reach
whatever handler the application configured. Filters on a logger do not see records of its
children, so the redaction hooks the record factory instead: every record created in the process
has `key=`/`api_key=` values and each registered key string replaced before any handler sees it,
and its line breaks and other control characters escaped (`\n`), so a host message cannot
forge a log line.

`printable` is the same cleaning for text that is shown elsewhere: every `ApiError` message
passes through it, so what a host says (it may echo the key) reaches `vipfs status`, xattrs and
`status.json` redacted and on one line.
"""

from __future__ import annotations

import logging
import re
import threading
from typing import Any

REDACTED = "***"
_PARAM = re.compile(r"((?:api_)?key=)[^&\s\"'<>]+", re.IGNORECASE)
_CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f\u2028\u2029]")
_ESCAPES = {"\n": "\\n", "\r": "\\r"}

_lock = threading.Lock()
_secrets: set[str] = set()
_installed = False


class Secret:
    """A string that never shows itself in repr/str (so not in tracebacks with locals either)."""

    __slots__ = ("value",)

    def __init__(self, value: str) -> None:
        self.value = value

    def __repr__(self) -> str:
        return "Secret(***)"

    __str__ = __repr__


def redact(text: str) -> str:
    """`text` with key parameters and every registered key replaced."""
    text = _PARAM.sub(lambda m: m.group(1) + REDACTED, text)
    for secret in _secrets:
        if secret in text:
            text = text.replace(secret, REDACTED)
    return text


def one_line(text: str) -> str:
    """`text` with line breaks and control characters (tab aside) escaped: `\\n`, `\\x1b`."""
    if _CONTROL.search(text) is None:
        return text
    return _CONTROL.sub(lambda m: _ESCAPES.get(m.group()) or _escape(m.group()), text)


def _escape(char: str) -> str:
    code = ord(char)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def printable(text: str) -> str:
    """Host text made safe to show: the key redacted, on one line."""
    return one_line(redact(text))


def protect(key: str) -> Secret:
    """Register `key` for redaction, install the record hook (once), and wrap the key."""
    global _installed
    with _lock:
        if len(key) >= 8:  # redacting a short "key" (never a valid one) would mangle messages
            _secrets.add(key)
        if not _installed:
            previous = logging.getLogRecordFactory()

            def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
                record = previous(*args, **kwargs)
                _scrub(record)
                return record

            logging.setLogRecordFactory(factory)
            _installed = True
    return Secret(key)


def _scrub(record: logging.LogRecord) -> None:
    try:
        message = record.getMessage()
    except Exception:  # a broken format string: leave it to logging's own error report
        return
    clean = printable(message)
    if clean != message:
        record.msg = clean
        record.args = None
