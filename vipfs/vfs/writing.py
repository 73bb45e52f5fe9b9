"""The write side's in-memory state: the metadata mirror, open write handles, live sizes.

`Mirror` holds the `files` table of the metadata db in memory, so building a listing (which
must be one synchronous step) can ask it for names, sizes and mtimes without touching SQLite.
It changes first, synchronously; the db follows in a worker thread.

A spooled file open for writing has a `Live` record: its size and mtime move with every write
without a db write each time; the queue row is brought up to date when the last writer closes
(or at fsync). An explicit utime (cp -a's futimens on the open fd, rsync's utimensat on the temp
name) clears the `dirty` mark, so the close that follows does not overwrite it.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, replace
from pathlib import Path

from vipfs.vfs.metadb import FileMeta, MetaDb

UNKNOWN_SIZE = -1  # a name-only record: vipfs renamed or touched a file it did not upload


class Mirror(Mapping[str, str]):
    """code → FileMeta, and (as a Mapping) code → the exact filename vipfs knows."""

    def __init__(self, db: MetaDb, rows: list[FileMeta]) -> None:
        self.db = db
        self._rows = {row.code: row for row in rows}

    @classmethod
    async def load(cls, db: MetaDb) -> Mirror:
        return cls(db, await db.files())

    def __getitem__(self, code: str) -> str:
        return self._rows[code].name

    def __iter__(self) -> Iterator[str]:
        return iter(self._rows)

    def __len__(self) -> int:
        return len(self._rows)

    def meta(self, code: str) -> FileMeta | None:
        return self._rows.get(code)

    def set(self, meta: FileMeta) -> None:
        """Memory only: the upload queue already wrote this row to the db."""
        self._rows[meta.code] = meta

    async def put(self, meta: FileMeta) -> None:
        self._rows[meta.code] = meta
        await self.db.put_file(meta)

    async def refresh(self, code: str) -> None:
        """Take the db's row again: `edit_keep_tags` writes tags and folders there directly."""
        row = await self.db.get_file(code)
        if row is not None:
            self._rows[code] = row

    async def change(self, code: str, default: FileMeta, **changes: object) -> None:
        """Change a row (starting from `default` when vipfs knew nothing of the file yet)."""
        await self.refresh(code)
        row = self._rows.get(code)
        await self.put(replace(row or default, **changes))  # type: ignore[arg-type]

    async def drop(self, code: str) -> None:
        if self._rows.pop(code, None) is not None:
            await self.db.delete_file(code)


def name_only(code: str, name: str, fld_id: int) -> FileMeta:
    """A record for a file vipfs did not upload: its name is known, its size is not."""
    return FileMeta(code=code, name=name, fld_id=fld_id, size=UNKNOWN_SIZE, mtime_ns=0, mode=0)


@dataclass(slots=True)
class Live:
    """Size and mtime of a spooled file while writers have it open."""

    size: int
    mtime_ns: int
    writers: int = 0
    dirty: bool = False  # written since the last explicit utime: the close records the mtime

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
