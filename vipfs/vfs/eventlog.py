"""The event log on disk, so `vipfs events` shows history across remounts.

Owns: `EventLog`: the file `events.jsonl` in the state directory and its one older generation
`events.jsonl.1`, rotation at `LIMIT` bytes, and reading both back at mount start.
Imports: `vipfs.vfs.events`, `vipfs.vfs.localdirs`.

Each event is one `write(2)` of one JSON line to a descriptor opened O_APPEND: cheap enough to
do on the loop (no fsync: the log is news, not state; a crash may lose its last lines, and a
torn last line is skipped when read back). Nothing here is fatal: a full or broken disk costs
one warning, and the mount goes on without its log.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
from collections import deque
from pathlib import Path

from vipfs.vfs.events import RING, Event, Events
from vipfs.vfs.localdirs import open_nofollow

log = logging.getLogger(__name__)

LIMIT = 1 << 20  # bytes the current file may reach before it becomes the old one
READ_MAX = 4 * LIMIT  # bytes read back from a file at most (a file grown by hand is cut)


class EventLog:
    """`path` and `path.1`: at most about 2 × `limit` bytes of history."""

    def __init__(self, path: Path, *, limit: int = LIMIT) -> None:
        self.path = path
        self.old = path.with_name(path.name + ".1")
        self.limit = limit
        self._fd = -1
        self._size = 0
        self._broken = False  # warned once; later failures are quiet until a write succeeds

    def attach(self, events: Events) -> None:
        """Put the history back into `events` and log each new one. Blocking: call it off
        the loop (it reads up to two files)."""
        events.restore(self.read())
        events.listen(self.append)

    def read(self) -> list[Event]:
        """The last `RING` events of both files, oldest first; lines that do not parse, and
        any whose seq does not grow, are skipped."""
        kept: deque[Event] = deque(maxlen=RING)
        for path in (self.old, self.path):
            for line in self._lines(path):
                event = _parse(line)
                if event is not None and (not kept or event.seq > kept[-1].seq):
                    kept.append(event)
        return list(kept)

    def _lines(self, path: Path) -> list[bytes]:
        try:
            fd = open_nofollow(path, os.O_RDONLY)
        except FileNotFoundError:
            return []
        except OSError as exc:
            log.warning("not reading the event log %s: %s", path, exc.strerror)
            return []
        try:
            with os.fdopen(fd, "rb") as f:
                size = os.fstat(f.fileno()).st_size
                if size > READ_MAX:
                    f.seek(size - READ_MAX)
                    f.readline()  # the first line is cut: skip it
                return f.read(READ_MAX).splitlines()
        except OSError as exc:
            log.warning("not reading the event log %s: %s", path, exc.strerror)
            return []

    def append(self, event: Event) -> None:
        """A listener of `Events`: one line per event, the file rotated past `limit`."""
        data = (event.line() + "\n").encode()
        try:
            if self._fd < 0:
                self._open()
            elif self._size > 0 and self._size + len(data) > self.limit:
                self._rotate()
            os.write(self._fd, data)
            self._size += len(data)
            self._broken = False
        except OSError as exc:
            self.close()
            if not self._broken:
                log.warning("the event log %s is not written: %s", self.path, exc.strerror)
                self._broken = True

    def _open(self) -> None:
        self._fd = open_nofollow(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC)
        self._size = os.fstat(self._fd).st_size
        if self._size > self.limit:
            self._rotate()

    def _rotate(self) -> None:
        """The current file becomes the old one (the older one goes); a new file starts."""
        self.close()
        os.replace(self.path, self.old)
        self._fd = open_nofollow(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC)
        self._size = 0

    def close(self) -> None:
        if self._fd >= 0:
            fd, self._fd = self._fd, -1
            with contextlib.suppress(OSError):
                os.close(fd)


def _parse(line: bytes) -> Event | None:
    try:
        return Event.from_json(json.loads(line))
    except ValueError:  # not JSON (a torn line), or not UTF-8
        return None
