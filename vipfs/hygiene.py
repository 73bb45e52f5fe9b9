"""What the mount process does so the key stays its own: no core dumps, no key in its
environment, a private log file whose lines a host message cannot forge.

Owns: the mount process's hygiene: core dumps off, `$VIPFS_KEY` wiped, the private log file and its
indented tracebacks.
Imports: `vipfs.api.redact` only.

* A core dump holds the key (and file data) and lands wherever `core_pattern` says, often
  readable by others: the soft and hard limits go to 0 at start.
* `$VIPFS_KEY` is removed from `os.environ` once read, and its bytes are wiped from the
  process's initial environment block, which `/proc/PID/environ` shows for the process's whole
  life whatever `unsetenv` did.
* The log file is created 0600 (an existing file keeps the mode its owner gave it), and every
  line of a traceback is indented, so only a record's first line starts like a log line.
  (Record messages are already one line: `vipfs.api.redact` escapes their line breaks.)
"""

from __future__ import annotations

import ctypes
import logging
import os
import resource
from io import TextIOWrapper
from pathlib import Path

from vipfs.api.redact import one_line

log = logging.getLogger(__name__)

LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def disable_core_dumps() -> None:
    """RLIMIT_CORE 0, soft and hard (a hard limit, once lowered, stays lowered)."""
    try:
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    except (OSError, ValueError) as exc:  # pragma: no cover - lowering a limit is always allowed
        log.warning("could not disable core dumps: %s", exc)


def take_env(name: str) -> str:
    """`$name`, removed from the environment and wiped from the initial environment block."""
    value = os.environ.pop(name, "")
    if value:
        _wipe_initial_env(name)
    return value


def _wipe_initial_env(name: str) -> None:
    """Zero `name=...` in the block /proc/self/environ reads (env_start..env_end of
    /proc/self/stat). `unsetenv` (in `os.environ.pop`) has already dropped libc's pointer to
    it, so nothing reads those bytes any more. Best effort: a kernel without the fields, or
    an unusual layout, leaves them be."""
    try:
        stat = Path("/proc/self/stat").read_bytes()
        fields = stat[stat.rindex(b")") + 2 :].split()
        start, end = int(fields[47]), int(fields[48])  # fields 50 and 51 of proc(5)
        if not 0 < start < end or end - start > 1 << 20:
            return
        block = ctypes.string_at(start, end - start)
    except (OSError, ValueError, IndexError):
        return
    prefix = name.encode() + b"="
    offset = 0
    for entry in block.split(b"\0"):
        if entry.startswith(prefix):
            ctypes.memset(start + offset, 0, len(entry))
        offset += len(entry) + 1


class LineFormatter(logging.Formatter):
    """One log line per record; a traceback's lines follow indented, never like a record."""

    def formatMessage(self, record: logging.LogRecord) -> str:
        record.message = one_line(record.message)
        return super().formatMessage(record)

    def formatException(self, ei: object) -> str:
        return _indent(super().formatException(ei))  # type: ignore[arg-type]

    def formatStack(self, stack_info: str) -> str:
        return _indent(super().formatStack(stack_info))


def _indent(text: str) -> str:
    return "\n".join("    " + line for line in text.splitlines())


class PrivateFileHandler(logging.FileHandler):
    """A FileHandler whose file, when it creates it, is 0600 from the first byte."""

    def _open(self) -> TextIOWrapper:
        def opener(path: str, flags: int) -> int:
            return os.open(path, flags | os.O_CLOEXEC, 0o600)

        return open(  # always appends: a restarted mount keeps the earlier lines
            self.baseFilename, "a", encoding=self.encoding, errors=self.errors, opener=opener
        )


def private_log_handler(path: str) -> logging.Handler:
    """A handler appending to `path` (created 0600), one line per record."""
    handler = PrivateFileHandler(path, encoding="utf-8", errors="replace")
    handler.setFormatter(LineFormatter(LOG_FORMAT))
    return handler
