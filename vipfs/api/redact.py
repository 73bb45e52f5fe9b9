"""Keep the API key out of every log record, whoever logs it.

httpx and httpcore log request URLs at INFO/DEBUG, and a key in a URL (`?key=...`) would reach
whatever handler the application configured. Filters on a logger do not see records of its
children, so the redaction hooks the record factory instead: every record created in the process
has `key=`/`api_key=` values and each registered key string replaced before any handler sees it.
"""

from __future__ import annotations

import logging
import re
import threading
from typing import Any

REDACTED = "***"
_PARAM = re.compile(r"((?:api_)?key=)[^&\s\"'<>]+", re.IGNORECASE)

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


def protect(key: str) -> Secret:
    """Register `key` for redaction, install the record hook (once), and wrap the key."""
    global _installed
    with _lock:
        if len(key) >= 4:  # redacting a 1-3 character "key" would mangle every message
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
    clean = redact(message)
    if clean != message:
        record.msg = clean
        record.args = None
