"""The write side's handle state: open write handles on spool files and their live sizes.

Owns: `Live` and `SpoolHandle`. Imports: nothing of vipfs (the metadata lives in `metadata`).

A spooled file open for writing has a `Live` record: its size and mtime move with every write
without a db write each time; the queue row is brought up to date when the last writer closes
(or at fsync). An explicit utime (cp -a's futimens on the open fd, rsync's utimensat on the temp
name) clears the `dirty` mark, so the close that follows does not overwrite it.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

import trio


@dataclass(slots=True)
class Live:
    """Size and mtime of a spooled file while writers have it open."""

    size: int
    mtime_ns: int
    writers: int = 0
    dirty: bool = False  # written since the last explicit utime: the close records the mtime
    closed: trio.Event = field(default_factory=trio.Event)  # the last release has been handled

    def wrote(self, end: int) -> None:
        self.size = max(self.size, end)
        self.mtime_ns = time.time_ns()
        self.dirty = True


@dataclass(slots=True)
class SpoolHandle:
    """An open file that reads or writes spool bytes (a file still in the upload queue).

    `upload_id` is None for a write handle on an uploaded file that was opened without
    O_TRUNC: it becomes a replacement only if truncated to 0; any write first is refused.
    """

    ino: int
    upload_id: int | None
    path: Path | None
    writable: bool
    code: str | None = None  # the uploaded file a lazy handle stands on
    finished: bool = False  # fsync or --sync-uploads uploaded it through this handle
