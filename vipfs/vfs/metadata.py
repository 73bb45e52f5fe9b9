"""The metadata authority: the `files` and `folders` tables of the metadata db, in memory and
on disk.

Owns: every write of the `files` table (`MetaDb.put_file`, `update_file`, `delete_file` and
`finish_upload` are called from here and nowhere else: tests/unit/test_layout_rules.py reads
the source for it) and of the `folders` table (`put_folder`, `delete_folder`), and the
in-memory copy that building a listing or a `stat` reads in one synchronous step without
touching SQLite, with its index by sha256 (`same_content`: what the dedupe may clone). Being
the one writer, memory and db never disagree, and nobody re-reads what another writer wrote.
Imports: `metadb` only (and the clock, for a new folder's time).

A change lands in memory first, synchronously, and the db follows in a worker thread (writes
keep call order); a finished upload is the exception: it shows only once the db holds it.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping
from dataclasses import replace

from vipfs.vfs.metadb import FileMeta, FolderMeta, MetaDb

UNKNOWN_SIZE = -1  # a name-only record: vipfs renamed or touched a file it did not upload


class Metadata(Mapping[str, str]):
    """code → FileMeta, and (as a Mapping) code → the exact filename vipfs knows."""

    def __init__(self, db: MetaDb, rows: list[FileMeta] | None = None) -> None:
        self.db = db
        self._rows: dict[str, FileMeta] = {}
        self._by_sha: dict[str, dict[str, None]] = {}  # sha256 → the codes with those bytes
        for row in rows or []:
            self._store(row)
        self._folders: dict[int, FolderMeta] = {}
        self.version = 0  # counts changes: a view built from a copy can tell it is stale

    async def load(self) -> None:
        """Take the db's rows (at the start of a mount, before anything writes)."""
        self._rows, self._by_sha = {}, {}
        for row in await self.db.files():
            self._store(row)
        self._folders = {row.fld_id: row for row in await self.db.folders()}
        self.version += 1

    def __getitem__(self, code: str) -> str:
        return self._rows[code].name

    def __iter__(self) -> Iterator[str]:
        return iter(self._rows)

    def __len__(self) -> int:
        return len(self._rows)

    def meta(self, code: str) -> FileMeta | None:
        return self._rows.get(code)

    def same_content(self, size: int, sha256: str) -> list[str]:
        """The codes recorded with these bytes (size and sha256), oldest record first: only
        files vipfs uploaded (or cloned from one) carry a sha256."""
        codes = self._by_sha.get(sha256, {})
        return [c for c in codes if self._rows[c].size == size]

    def _store(self, meta: FileMeta) -> None:
        """The one place a row lands in memory, so the sha256 index never disagrees."""
        self._unstore(meta.code)
        self._rows[meta.code] = meta
        if meta.sha256:
            self._by_sha.setdefault(meta.sha256, {})[meta.code] = None

    def _unstore(self, code: str) -> FileMeta | None:
        old = self._rows.pop(code, None)
        if old is not None and old.sha256:
            codes = self._by_sha.get(old.sha256, {})
            codes.pop(code, None)
            if not codes:
                self._by_sha.pop(old.sha256, None)
        return old

    async def put(self, meta: FileMeta) -> None:
        self._store(meta)
        self.version += 1
        await self.db.put_file(meta)

    async def update(self, code: str, **changes: object) -> bool:
        """Change the columns of a row vipfs has; False (nothing written) when it has none."""
        row = self._rows.get(code)
        if row is None:
            return False
        self._store(replace(row, **changes))  # type: ignore[arg-type]
        self.version += 1
        return await self.db.update_file(code, **changes)

    async def change(self, code: str, default: FileMeta, **changes: object) -> None:
        """Change a row (starting from `default` when vipfs knew nothing of the file yet)."""
        row = self._rows.get(code)
        await self.put(replace(row or default, **changes))  # type: ignore[arg-type]

    async def drop(self, code: str) -> None:
        if self._unstore(code) is not None:
            self.version += 1
            await self.db.delete_file(code)

    async def record_upload(self, upload_id: int, meta: FileMeta) -> None:
        """The queue row `upload_id` is done and `meta` is its file: both in one transaction,
        so a crash leaves either a row to resume or a finished file, never both or neither."""
        await self.db.finish_upload(upload_id, meta)
        self._store(meta)
        self.version += 1

    # -- folders: what chmod/utime/mkdir set; no listing is built from them, so no `version` --
    def folder(self, fld_id: int) -> FolderMeta | None:
        return self._folders.get(fld_id)

    async def change_folder(
        self, fld_id: int, *, mode: int | None = None, mtime_ns: int | None = None
    ) -> None:
        """Set a folder's mode and/or mtime (None: leave as it is)."""
        if mode is None and mtime_ns is None:
            return
        row = self._folders.get(fld_id)
        old = row or FolderMeta(fld_id)
        new = FolderMeta(
            fld_id,
            old.mode if mode is None else mode,
            old.mtime_ns if mtime_ns is None else mtime_ns,
        )
        if new == row:
            return
        self._folders[fld_id] = new
        await self.db.put_folder(new)

    async def folder_made(self, fld_id: int, mode: int | None) -> None:
        """vipfs created the folder (mkdir): its mode (None: the default) and this time."""
        kept = None if mode is None else mode & 0o7777
        await self.change_folder(fld_id, mode=kept, mtime_ns=time.time_ns())

    async def drop_folder(self, fld_id: int) -> None:
        """The folder is gone (rmdir): what was set on it goes too."""
        if self._folders.pop(fld_id, None) is not None:
            await self.db.delete_folder(fld_id)


def name_only(code: str, name: str, fld_id: int) -> FileMeta:
    """A record for a file vipfs did not upload: its name is known, its size is not."""
    return FileMeta(code=code, name=name, fld_id=fld_id, size=UNKNOWN_SIZE, mtime_ns=0, mode=0)
