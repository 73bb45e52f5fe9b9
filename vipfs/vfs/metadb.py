"""The local metadata database: vipfs's authority over what the API cannot keep.

Owns: the SQLite database (schema, WAL, the one connection in a worker thread); what is written to
the `files` and `folders` tables is `metadata.py`'s.
Imports: trio, `vipfs.vfs.localdirs` only.

XVS listings carry no byte size and no original filename, and titles are rewritten at upload,
so everything vipfs knows better than the server lives here, in SQLite in the state directory:

* `files`, keyed by file code: the exact filename vipfs wrote, its folder, size, mtime, mode,
  sha256, and the tags/descr vipfs last sent (every `file/edit` must resend tags, or the server
  wipes them). NULL tags means "not known yet", which is different from "known to be empty".
* `uploads`, the persistent upload queue (one row per spooled file; see `UploadState`), with
  what its last POST sent while the answer may be missing (`posted_*`).
* `strays`: copies that an abandoned attempt may have left on the host (the file was rewritten
  or deleted meanwhile), keyed by the attempt's local token: its code when known, else what it
  posted (folder, title, time window); removed once cleaned up.
* `folders`, keyed by fld_id: the mode and mtime chmod/utime (or mkdir) gave a folder, which the
  host has no place to keep (NULL: never set, the default shows).
* `url_uploads`, the persistent URL-upload queue (`vipfs url-upload`; states and their meaning
  are `urluploads.py`'s): one row per URL and folder, written before `upload/url` is called.

A new table or column is a numbered migration (`_MIGRATIONS`); a new database runs the base
schema and then every migration, so each table is defined once.

The file is opened in WAL mode with `synchronous=FULL`, so a committed change survives kill -9
and power loss. All access goes through one connection in worker threads, one call at a time
(`trio.to_thread` with a limiter of 1), so the trio loop never waits on the disk.
"""

from __future__ import annotations

import errno
import logging
import os
import sqlite3
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, fields, replace
from enum import StrEnum
from pathlib import Path
from typing import Any, TypeVar

import trio

from vipfs.vfs.localdirs import open_nofollow, private_dir

log = logging.getLogger(__name__)

T = TypeVar("T")

# not a database at all (never "disk full" or "locked"): set aside, start anew
_UNREADABLE = frozenset({sqlite3.SQLITE_CORRUPT, sqlite3.SQLITE_NOTADB})

_SCHEMA = """
CREATE TABLE files (
    code      TEXT PRIMARY KEY,
    name      TEXT NOT NULL,
    fld_id    INTEGER NOT NULL,
    size      INTEGER NOT NULL,
    mtime_ns  INTEGER NOT NULL,
    mode      INTEGER NOT NULL,
    sha256    TEXT,
    tags      TEXT,
    descr     TEXT
);
CREATE INDEX files_by_folder ON files (fld_id);
CREATE TABLE uploads (
    id        INTEGER PRIMARY KEY AUTOINCREMENT,
    spool     TEXT NOT NULL,
    fld_id    INTEGER NOT NULL,
    name      TEXT NOT NULL,
    size      INTEGER NOT NULL,
    mtime_ns  INTEGER NOT NULL,
    mode      INTEGER NOT NULL,
    state     TEXT NOT NULL,
    token     TEXT NOT NULL,
    attempts  INTEGER NOT NULL DEFAULT 0,
    last_error TEXT,
    next_try  REAL NOT NULL DEFAULT 0,
    code      TEXT,
    created   REAL NOT NULL,
    tags      TEXT,
    descr     TEXT,
    replaces  TEXT
);
CREATE INDEX uploads_by_state ON uploads (state);
CREATE TABLE strays (
    token     TEXT PRIMARY KEY,
    code      TEXT,
    name      TEXT NOT NULL
);
"""  # version 1: the base every database starts from; later versions are _MIGRATIONS

# version → the change that takes a database from the version before to it
_MIGRATIONS: dict[int, str] = {
    2: """
CREATE TABLE folders (
    fld_id    INTEGER PRIMARY KEY,
    mode      INTEGER,
    mtime_ns  INTEGER
);
""",
    # the upload economy (issue 10): what a row's last POST sent, and a stray's title proof
    3: """
ALTER TABLE uploads ADD COLUMN posted_title TEXT;
ALTER TABLE uploads ADD COLUMN posted_fld INTEGER;
ALTER TABLE uploads ADD COLUMN posted_at REAL;
ALTER TABLE uploads ADD COLUMN posted_end REAL;
ALTER TABLE strays ADD COLUMN fld_id INTEGER;
ALTER TABLE strays ADD COLUMN title TEXT;
ALTER TABLE strays ADD COLUMN since REAL;
ALTER TABLE strays ADD COLUMN until REAL;
""",
    # batch URL uploads (issue 12): one row per URL asked for, recorded before upload/url
    4: """
CREATE TABLE url_uploads (
    id        INTEGER PRIMARY KEY AUTOINCREMENT,
    url       TEXT NOT NULL,
    title     TEXT,
    fld_id    INTEGER NOT NULL,
    state     TEXT NOT NULL,
    code      TEXT,
    progress  INTEGER NOT NULL DEFAULT 0,
    error     TEXT,
    created   REAL NOT NULL,
    updated   REAL NOT NULL
);
CREATE INDEX url_uploads_by_url ON url_uploads (url, fld_id);
""",
}
SCHEMA_VERSION = max(_MIGRATIONS)


class UploadState(StrEnum):
    """Where a spooled file stands. Only `done` rows may be pruned; `failed` keeps its data."""

    WRITING = "writing"  # open for write; no upload timer runs
    HELD = "held"  # closed under a temp name (hold list): waits for a rename or idle time
    QUEUED = "queued"  # closed; due at `next_try` (write-back delay, or retry backoff)
    UPLOADING = "uploading"  # an attempt is running (or was, when vipfs died: resume it)
    FAILED = "failed"  # refused for good; reason in `last_error`; spool data kept
    # a write failed, or the mount died while a writer had it open: the spool may hold only a
    # prefix, so it is never uploaded as it is; reason in `last_error`; spool data kept
    INCOMPLETE = "incomplete"
    # closed with no bytes: hosts cannot store empty files, so it stays local (why in
    # `last_error`); writing to it makes it a normal file again
    EMPTY = "empty"
    DONE = "done"  # uploaded and titled; `code` set, the `files` row written


@dataclass(frozen=True, slots=True)
class FileMeta:
    """What vipfs knows about one remote file beyond the listing."""

    code: str
    name: str
    fld_id: int
    size: int
    mtime_ns: int
    mode: int
    sha256: str | None = None
    tags: str | None = None  # None: unknown (fetch with file/info before an edit)
    descr: str | None = None


@dataclass(frozen=True, slots=True)
class FolderMeta:
    """What chmod/utime set on a folder (the host keeps neither); None: never set."""

    fld_id: int
    mode: int | None = None  # permission bits only
    mtime_ns: int | None = None


@dataclass(frozen=True, slots=True)
class Stray:
    """A copy an abandoned upload attempt may have stored: found by `code` when it is known,
    else by what the attempt posted (`fld_id`, `title`, stamped `since`..`until`), else (a
    tokened upload: `--upload-retitle`, or a db of an older vipfs) by `token` in its title.
    `token` is the attempt's local id either way."""

    token: str
    code: str | None
    name: str
    fld_id: int | None = None
    title: str | None = None
    since: float | None = None
    until: float | None = None


@dataclass(frozen=True, slots=True)
class Upload:
    """One row of the upload queue. `id` is 0 until `add_upload` stores it."""

    spool: Path
    fld_id: int
    name: str
    size: int = 0
    mtime_ns: int = 0
    mode: int = 0o644
    state: UploadState = UploadState.WRITING
    token: str = ""
    attempts: int = 0
    last_error: str | None = None
    next_try: float = 0.0
    code: str | None = None
    created: float = 0.0
    tags: str | None = None
    descr: str | None = None
    replaces: str | None = None  # code of the uploaded file this one overwrites
    # the last POST whose answer may be missing: its folder and title as sent, its start and
    # end (queue clock; end None while it runs, or when vipfs died during it)
    posted_title: str | None = None
    posted_fld: int | None = None
    posted_at: float | None = None
    posted_end: float | None = None
    id: int = 0


@dataclass(frozen=True, slots=True)
class UrlRow:
    """One URL upload (`urluploads.py` gives `state` its meaning). `id` is 0 until stored."""

    url: str
    fld_id: int
    state: str
    title: str | None = None
    code: str | None = None
    progress: int = 0
    error: str | None = None
    created: float = 0.0
    updated: float = 0.0
    id: int = 0


_FILE_COLS = tuple(f.name for f in fields(FileMeta))
_URL_COLS = tuple(f.name for f in fields(UrlRow) if f.name != "id")
_STRAY_COLS = tuple(f.name for f in fields(Stray))
_UPLOAD_COLS = tuple(f.name for f in fields(Upload) if f.name != "id")
_UPLOAD_UPDATABLE = frozenset(_UPLOAD_COLS)
_FILE_UPDATABLE = frozenset(_FILE_COLS) - {"code"}


def _file_from_row(row: sqlite3.Row) -> FileMeta:
    return FileMeta(**{c: row[c] for c in _FILE_COLS})


def _upload_from_row(row: sqlite3.Row) -> Upload:
    values: dict[str, Any] = {c: row[c] for c in _UPLOAD_COLS}
    values["spool"] = Path(values["spool"])
    values["state"] = UploadState(values["state"])
    return Upload(id=row["id"], **values)


def _to_sql(value: object) -> object:
    return str(value) if isinstance(value, Path) else value


class MetaDb:
    """Async access to the metadata database; create with `await MetaDb.open(path)`."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn
        self._limiter = trio.CapacityLimiter(1)

    @classmethod
    async def open(cls, path: Path) -> MetaDb:
        """Open (creating or migrating) the database at `path`, in a directory of ours.

        A file that is not a database is renamed to `meta.db.corrupt-<time>`, never deleted."""
        return cls(await trio.to_thread.run_sync(_connect, path))

    async def close(self) -> None:
        await self._run(self._conn.close)

    async def _run(self, fn: Callable[..., T], *args: object) -> T:
        return await trio.to_thread.run_sync(fn, *args, limiter=self._limiter)

    # -- files -------------------------------------------------------------------------------
    def _put_file(self, meta: FileMeta) -> None:
        with self._conn:
            self._put_file_sql(meta)

    def _put_file_sql(self, meta: FileMeta) -> None:
        cols = ", ".join(_FILE_COLS)
        marks = ", ".join("?" for _ in _FILE_COLS)
        self._conn.execute(
            f"INSERT OR REPLACE INTO files ({cols}) VALUES ({marks})",
            [getattr(meta, c) for c in _FILE_COLS],
        )

    async def put_file(self, meta: FileMeta) -> None:
        """Insert or replace the row for `meta.code`."""
        await self._run(self._put_file, meta)

    def _get_file(self, code: str) -> FileMeta | None:
        row = self._conn.execute("SELECT * FROM files WHERE code = ?", (code,)).fetchone()
        return _file_from_row(row) if row else None

    async def get_file(self, code: str) -> FileMeta | None:
        return await self._run(self._get_file, code)

    def _update(
        self,
        table: str,
        key: str,
        ident: object,
        allowed: frozenset[str],
        changes: dict[str, object],
    ) -> bool:
        bad = set(changes) - allowed
        if bad:
            raise ValueError(f"cannot update {table} columns {sorted(bad)}")
        if not changes:
            return (
                self._conn.execute(f"SELECT 1 FROM {table} WHERE {key} = ?", (ident,)).fetchone()
                is not None
            )
        assignments = ", ".join(f"{c} = ?" for c in changes)
        with self._conn:
            cur = self._conn.execute(
                f"UPDATE {table} SET {assignments} WHERE {key} = ?",
                [*(_to_sql(v) for v in changes.values()), ident],
            )
        return cur.rowcount > 0

    async def update_file(self, code: str, **changes: object) -> bool:
        """Change some columns of one file row; False when there is no such row."""
        return await self._run(self._update, "files", "code", code, _FILE_UPDATABLE, changes)

    def _delete(self, table: str, key: str, ident: object) -> bool:
        with self._conn:
            return self._conn.execute(f"DELETE FROM {table} WHERE {key} = ?", (ident,)).rowcount > 0

    async def delete_file(self, code: str) -> bool:
        return await self._run(self._delete, "files", "code", code)

    def _files(self, fld_id: int | None) -> list[FileMeta]:
        if fld_id is None:
            rows = self._conn.execute("SELECT * FROM files ORDER BY code")
        else:
            rows = self._conn.execute(
                "SELECT * FROM files WHERE fld_id = ? ORDER BY code", (fld_id,)
            )
        return [_file_from_row(r) for r in rows]

    async def files(self, fld_id: int | None = None) -> list[FileMeta]:
        """Every known file, or those of one folder."""
        return await self._run(self._files, fld_id)

    # -- folders -----------------------------------------------------------------------------
    def _put_folder(self, meta: FolderMeta) -> None:
        with self._conn:
            self._conn.execute(
                "INSERT OR REPLACE INTO folders (fld_id, mode, mtime_ns) VALUES (?, ?, ?)",
                (meta.fld_id, meta.mode, meta.mtime_ns),
            )

    async def put_folder(self, meta: FolderMeta) -> None:
        """Insert or replace the row for `meta.fld_id`."""
        await self._run(self._put_folder, meta)

    async def delete_folder(self, fld_id: int) -> bool:
        return await self._run(self._delete, "folders", "fld_id", fld_id)

    def _folders(self) -> list[FolderMeta]:
        rows = self._conn.execute("SELECT fld_id, mode, mtime_ns FROM folders ORDER BY fld_id")
        return [FolderMeta(r["fld_id"], r["mode"], r["mtime_ns"]) for r in rows]

    async def folders(self) -> list[FolderMeta]:
        """Every folder vipfs keeps attributes of."""
        return await self._run(self._folders)

    # -- uploads -----------------------------------------------------------------------------
    def _add_upload(self, upload: Upload) -> Upload:
        values = {c: _to_sql(getattr(upload, c)) for c in _UPLOAD_COLS}
        if not values["created"]:
            values["created"] = time.time()
        with self._conn:
            cur = self._conn.execute(
                f"INSERT INTO uploads ({', '.join(values)}) "
                f"VALUES ({', '.join('?' for _ in values)})",
                list(values.values()),
            )
        row = self._conn.execute("SELECT * FROM uploads WHERE id = ?", (cur.lastrowid,))
        return _upload_from_row(row.fetchone())

    async def add_upload(self, upload: Upload) -> Upload:
        """Store a new queue row; returns it with its `id` (and `created`, if it was 0)."""
        return await self._run(self._add_upload, upload)

    def _get_upload(self, upload_id: int) -> Upload | None:
        row = self._conn.execute("SELECT * FROM uploads WHERE id = ?", (upload_id,)).fetchone()
        return _upload_from_row(row) if row else None

    async def get_upload(self, upload_id: int) -> Upload | None:
        return await self._run(self._get_upload, upload_id)

    async def update_upload(self, upload_id: int, **changes: object) -> bool:
        """Change some columns of one queue row; False when there is no such row."""
        return await self._run(self._update, "uploads", "id", upload_id, _UPLOAD_UPDATABLE, changes)

    async def delete_upload(self, upload_id: int) -> bool:
        return await self._run(self._delete, "uploads", "id", upload_id)

    def _uploads(self, states: Iterable[UploadState] | None) -> list[Upload]:
        if states is None:
            rows = self._conn.execute("SELECT * FROM uploads ORDER BY id")
        else:
            wanted = [str(s) for s in states]
            rows = self._conn.execute(
                f"SELECT * FROM uploads WHERE state IN ({', '.join('?' for _ in wanted)}) "
                "ORDER BY id",
                wanted,
            )
        return [_upload_from_row(r) for r in rows]

    async def uploads(self, states: Iterable[UploadState] | None = None) -> list[Upload]:
        """Queue rows, oldest first, optionally only those in `states`."""
        return await self._run(self._uploads, None if states is None else tuple(states))

    def _finish_upload(self, upload_id: int, meta: FileMeta) -> None:
        with self._conn:
            self._conn.execute(
                "UPDATE uploads SET state = ?, code = ?, last_error = NULL WHERE id = ?",
                (str(UploadState.DONE), meta.code, upload_id),
            )
            self._put_file_sql(meta)

    async def finish_upload(self, upload_id: int, meta: FileMeta) -> None:
        """Mark the row done and write its `files` row, in one transaction."""
        await self._run(self._finish_upload, upload_id, meta)

    # -- URL uploads -------------------------------------------------------------------------
    def _put_url(self, row: UrlRow) -> UrlRow:
        values = [getattr(row, c) for c in _URL_COLS]
        with self._conn:
            if row.id:
                assignments = ", ".join(f"{c} = ?" for c in _URL_COLS)
                self._conn.execute(
                    f"UPDATE url_uploads SET {assignments} WHERE id = ?", [*values, row.id]
                )
                return row
            cur = self._conn.execute(
                f"INSERT INTO url_uploads ({', '.join(_URL_COLS)}) "
                f"VALUES ({', '.join('?' for _ in _URL_COLS)})",
                values,
            )
        return replace(row, id=cur.lastrowid or 0)

    async def put_url(self, row: UrlRow) -> UrlRow:
        """Store a URL upload (a new one when `id` is 0); returns it with its `id`."""
        return await self._run(self._put_url, row)

    def _urls(self) -> list[UrlRow]:
        rows = self._conn.execute(f"SELECT id, {', '.join(_URL_COLS)} FROM url_uploads ORDER BY id")
        return [UrlRow(id=r["id"], **{c: r[c] for c in _URL_COLS}) for r in rows]

    async def urls(self) -> list[UrlRow]:
        """Every URL upload, oldest first."""
        return await self._run(self._urls)

    # -- strays ------------------------------------------------------------------------------
    def _add_stray(self, stray: Stray) -> None:
        with self._conn:
            self._conn.execute(
                f"INSERT OR REPLACE INTO strays ({', '.join(_STRAY_COLS)}) "
                f"VALUES ({', '.join('?' for _ in _STRAY_COLS)})",
                [getattr(stray, c) for c in _STRAY_COLS],
            )

    async def add_stray(self, stray: Stray) -> None:
        await self._run(self._add_stray, stray)

    def _strays(self) -> list[Stray]:
        rows = self._conn.execute(f"SELECT {', '.join(_STRAY_COLS)} FROM strays ORDER BY rowid")
        return [Stray(**{c: r[c] for c in _STRAY_COLS}) for r in rows]

    async def strays(self) -> list[Stray]:
        return await self._run(self._strays)

    async def delete_stray(self, token: str) -> bool:
        return await self._run(self._delete, "strays", "token", token)

    def _prune_done(self) -> int:
        with self._conn:
            return self._conn.execute(
                "DELETE FROM uploads WHERE state = ?", (str(UploadState.DONE),)
            ).rowcount

    async def prune_done(self) -> int:
        """Forget finished queue rows (their `files` rows stay); returns how many."""
        return await self._run(self._prune_done)


def error_errno(exc: sqlite3.Error) -> int:
    """The errno a writer should hear for a failed db change: ENOSPC for a full disk (as the
    spool gives), else EIO."""
    return errno.ENOSPC if exc.sqlite_errorcode == sqlite3.SQLITE_FULL else errno.EIO


def _connect(path: Path) -> sqlite3.Connection:
    """Open the db; one that is not a database at all is set aside (never deleted) first."""
    private_dir(path.parent)
    _check_files(path)
    try:
        return _open(path)
    except sqlite3.DatabaseError as exc:
        if exc.sqlite_errorcode not in _UNREADABLE:
            raise
        aside = _set_aside(path)
        log.warning(
            "%s is unreadable (%s): kept as %s; starting a new one (spool files the old one "
            "named go to lost+found)",
            path,
            exc,
            aside.name,
        )
    return _open(path)


def _check_files(path: Path) -> None:
    """The db and its -wal/-shm: regular files of ours (never a planted symlink), 0600."""
    for file in (path, *_sidecars(path)):
        if os.path.islink(file):
            raise RuntimeError(f"{file} is a symbolic link; vipfs will not open it")
        if file.exists():
            os.chmod(file, 0o600)
    if not path.exists():  # created 0600 before SQLite opens it: -wal/-shm take its mode
        os.close(open_nofollow(path, os.O_WRONLY | os.O_CREAT))


def _sidecars(path: Path) -> tuple[Path, Path]:
    return path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")


def _set_aside(path: Path) -> Path:
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    aside = path.with_name(f"{path.name}.corrupt-{stamp}")
    serial = 1
    while os.path.lexists(aside):
        serial += 1
        aside = path.with_name(f"{path.name}.corrupt-{stamp}-{serial}")
    for file, suffix in zip((path, *_sidecars(path)), ("", "-wal", "-shm"), strict=True):
        if file != path and os.path.lexists(file) and os.lstat(file).st_size == 0:
            file.unlink()  # an empty -wal/-shm SQLite made while failing: nothing to keep
        elif os.path.lexists(file):
            os.rename(file, aside.with_name(aside.name + suffix))
    _check_files(path)
    return aside


def _migrate(conn: sqlite3.Connection, path: Path) -> None:
    """Bring the schema to SCHEMA_VERSION, one version per transaction (a crash between two
    leaves a database of the earlier version, which the next open carries on from)."""
    version = conn.execute("PRAGMA user_version").fetchone()[0]
    if version > SCHEMA_VERSION:
        raise RuntimeError(
            f"{path} has schema version {version}; this vipfs knows up to {SCHEMA_VERSION}"
        )
    fresh = version == 0
    if fresh:
        conn.executescript(f"BEGIN; {_SCHEMA} PRAGMA user_version = 1; COMMIT;")
        version = 1
    for target in range(version + 1, SCHEMA_VERSION + 1):
        conn.executescript(f"BEGIN; {_MIGRATIONS[target]} PRAGMA user_version = {target}; COMMIT;")
        if not fresh:
            log.info("%s: schema migrated to version %d", path, target)


def _open(path: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(path, check_same_thread=False, isolation_level="DEFERRED")
    conn.row_factory = sqlite3.Row
    try:
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = FULL")
        _migrate(conn, path)
    except BaseException:
        conn.close()
        raise
    for file in _sidecars(path):  # SQLite gives them the db's mode; make sure of it
        if file.exists() and not file.is_symlink():
            os.chmod(file, 0o600)
    return conn
