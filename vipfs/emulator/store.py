"""The host's state: SQLite for accounts, folders, files, stats and the URL queue; blobs on disk.

Owns: `Store`: the host's SQLite state and blob files.
Imports: the standard library and `vipfs.emulator` content only; never `vipfs.api` or `vipfs.vfs`.

One connection guarded by one lock: the server is threaded, and SQLite calls here are short.
Times are stored as UTC epoch seconds and rendered in the server's zone only at the edge.
"""

from __future__ import annotations

import dataclasses
import secrets
import sqlite3
import string
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from vipfs.emulator.content import Content

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta(k TEXT PRIMARY KEY, v TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS accounts(
    usr_id INTEGER PRIMARY KEY, login TEXT NOT NULL, api_key TEXT NOT NULL UNIQUE,
    email TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS folders(
    fld_id INTEGER PRIMARY KEY AUTOINCREMENT, usr_id INTEGER NOT NULL, parent_id INTEGER NOT NULL,
    name TEXT NOT NULL, descr TEXT NOT NULL DEFAULT '', code TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS folders_parent ON folders(usr_id, parent_id);
CREATE TABLE IF NOT EXISTS files(
    file_id INTEGER PRIMARY KEY AUTOINCREMENT, code TEXT NOT NULL UNIQUE, usr_id INTEGER NOT NULL,
    fld_id INTEGER NOT NULL, title TEXT NOT NULL, descr TEXT NOT NULL DEFAULT '',
    tags TEXT NOT NULL DEFAULT '', cat_id INTEGER NOT NULL DEFAULT 0,
    public INTEGER NOT NULL DEFAULT 0, adult INTEGER NOT NULL DEFAULT 0,
    premium_only INTEGER NOT NULL DEFAULT 0, size INTEGER NOT NULL, sha256 TEXT NOT NULL,
    blob TEXT NOT NULL, created REAL NOT NULL, visible_at REAL NOT NULL DEFAULT 0,
    length INTEGER NOT NULL DEFAULT 0, views INTEGER NOT NULL DEFAULT 0,
    views_full INTEGER NOT NULL DEFAULT 0, last_download REAL,
    enc_start REAL NOT NULL DEFAULT 0, enc_end REAL NOT NULL DEFAULT 0,
    enc_stuck INTEGER NOT NULL DEFAULT 0, deleted_at REAL, deleted_by TEXT, dmca_at REAL);
CREATE INDEX IF NOT EXISTS files_owner ON files(usr_id, fld_id);
CREATE TABLE IF NOT EXISTS stats(
    usr_id INTEGER NOT NULL, day TEXT NOT NULL, views INTEGER NOT NULL, downloads INTEGER NOT NULL,
    views_prem INTEGER NOT NULL, views_adb INTEGER NOT NULL, sales INTEGER NOT NULL,
    refs INTEGER NOT NULL, profit_views TEXT NOT NULL, PRIMARY KEY(usr_id, day));
CREATE TABLE IF NOT EXISTS url_queue(
    code TEXT PRIMARY KEY, usr_id INTEGER NOT NULL, url TEXT NOT NULL, fld_id INTEGER NOT NULL,
    status TEXT NOT NULL, progress INTEGER NOT NULL DEFAULT 0, created REAL NOT NULL,
    opts TEXT NOT NULL DEFAULT '{}');
"""

_CODE_ALPHABET = string.ascii_lowercase + string.digits


def new_code(length: int = 12) -> str:
    # Start with a letter: codes never look like numbers to a lenient parser.
    first = secrets.choice(string.ascii_lowercase)
    return first + "".join(secrets.choice(_CODE_ALPHABET) for _ in range(length - 1))


@dataclass(frozen=True, slots=True)
class Account:
    usr_id: int
    login: str
    api_key: str
    email: str


@dataclass(frozen=True, slots=True)
class FolderRow:
    fld_id: int
    usr_id: int
    parent_id: int
    name: str
    descr: str
    code: str


@dataclass(frozen=True, slots=True)
class FileRow:
    file_id: int
    code: str
    usr_id: int
    fld_id: int
    title: str
    descr: str
    tags: str
    cat_id: int
    public: int
    adult: int
    premium_only: int
    size: int
    sha256: str
    blob: str
    created: float
    visible_at: float
    length: int
    views: int
    views_full: int
    last_download: float | None
    enc_start: float
    enc_end: float
    enc_stuck: int
    deleted_at: float | None
    deleted_by: str | None
    dmca_at: float | None

    def encoded(self, now: float) -> bool:
        """A playable version exists (the emulator's 'encoding' is only a clock)."""
        return not self.enc_stuck and now >= self.enc_end

    def encode_progress(self, now: float) -> int:
        span = self.enc_end - self.enc_start
        if span <= 0:
            return 100
        return max(0, min(99, int(100 * (now - self.enc_start) / span)))


FILE_FIELDS = tuple(f.name for f in dataclasses.fields(FileRow))
_FILE_COLUMNS = ", ".join(FILE_FIELDS)


class Store:
    """All state of one emulated host. Thread-safe; every method is one short transaction."""

    def __init__(self, data_dir: Path, durable: bool = True) -> None:
        self.data_dir = data_dir
        self.blob_dir = data_dir / "blobs"
        self.tmp_dir = data_dir / "tmp"
        self.blob_dir.mkdir(parents=True, exist_ok=True)
        self.tmp_dir.mkdir(parents=True, exist_ok=True)
        self._lock = threading.RLock()
        self._db = sqlite3.connect(
            data_dir / "emulator.sqlite3", check_same_thread=False, isolation_level=None
        )
        self._db.row_factory = sqlite3.Row
        self._db.execute("PRAGMA journal_mode=WAL")
        # A throwaway host (tests, no --data) need not survive a power cut.
        self._db.execute(f"PRAGMA synchronous={'NORMAL' if durable else 'OFF'}")
        self._db.executescript(_SCHEMA)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    # -- plumbing ---------------------------------------------------------------------------
    def _all(self, sql: str, args: Sequence[Any] = ()) -> list[sqlite3.Row]:
        with self._lock:
            return list(self._db.execute(sql, args))

    def _one(self, sql: str, args: Sequence[Any] = ()) -> sqlite3.Row | None:
        with self._lock:
            row: sqlite3.Row | None = self._db.execute(sql, args).fetchone()
            return row

    def _run(self, sql: str, args: Sequence[Any] = ()) -> int:
        with self._lock:
            cur = self._db.execute(sql, args)
            return (
                int(cur.lastrowid or 0)
                if sql.lstrip().upper().startswith("INSERT")
                else int(cur.rowcount)
            )

    def meta(self, key: str, default: str) -> str:
        """A persisted setting, created with `default` on first use (e.g. the link secret)."""
        with self._lock:
            row = self._one("SELECT v FROM meta WHERE k=?", (key,))
            if row is not None:
                return str(row["v"])
            self._run("INSERT INTO meta(k, v) VALUES(?, ?)", (key, default))
            return default

    def update_meta(self, key: str, value: str) -> None:
        self._run("INSERT OR REPLACE INTO meta(k, v) VALUES(?, ?)", (key, value))

    # -- accounts ---------------------------------------------------------------------------
    def ensure_account(self, usr_id: int, login: str, api_key: str) -> Account:
        with self._lock:
            self._run(
                "INSERT INTO accounts(usr_id, login, api_key, email) VALUES(?, ?, ?, ?) "
                "ON CONFLICT(usr_id) DO UPDATE SET login=excluded.login, api_key=excluded.api_key",
                (usr_id, login, api_key, f"{login}@example.invalid"),
            )
        account = self.account_by_id(usr_id)
        assert account is not None
        return account

    def account_by_id(self, usr_id: int) -> Account | None:
        row = self._one("SELECT * FROM accounts WHERE usr_id=?", (usr_id,))
        return Account(**dict(row)) if row else None

    def account_by_key(self, api_key: str) -> Account | None:
        row = self._one("SELECT * FROM accounts WHERE api_key=?", (api_key,))
        return Account(**dict(row)) if row else None

    def accounts(self) -> list[Account]:
        return [Account(**dict(r)) for r in self._all("SELECT * FROM accounts ORDER BY usr_id")]

    def usage(self, usr_id: int) -> tuple[int, int]:
        """(live file count, bytes) of an account; clones count their full size, as on XVS."""
        row = self._one(
            "SELECT COUNT(*) AS n, COALESCE(SUM(size), 0) AS b FROM files "
            "WHERE usr_id=? AND deleted_at IS NULL",
            (usr_id,),
        )
        assert row is not None
        return int(row["n"]), int(row["b"])

    # -- folders ----------------------------------------------------------------------------
    def folder(self, fld_id: int) -> FolderRow | None:
        row = self._one("SELECT * FROM folders WHERE fld_id=?", (fld_id,))
        return FolderRow(**dict(row)) if row else None

    def child_folders(self, usr_id: int, parent_id: int) -> list[FolderRow]:
        rows = self._all(
            "SELECT * FROM folders WHERE usr_id=? AND parent_id=? ORDER BY fld_id",
            (usr_id, parent_id),
        )
        return [FolderRow(**dict(r)) for r in rows]

    def folder_count(self, usr_id: int) -> int:
        row = self._one("SELECT COUNT(*) AS n FROM folders WHERE usr_id=?", (usr_id,))
        return int(row["n"]) if row else 0

    def create_folder(self, usr_id: int, parent_id: int, name: str, descr: str = "") -> int:
        return self._run(
            "INSERT INTO folders(usr_id, parent_id, name, descr, code) VALUES(?, ?, ?, ?, ?)",
            (usr_id, parent_id, name, descr, new_code(10)),
        )

    def update_folder(self, fld_id: int, changes: dict[str, Any]) -> None:
        if changes:
            cols = ", ".join(f"{k}=?" for k in changes)
            self._run(f"UPDATE folders SET {cols} WHERE fld_id=?", (*changes.values(), fld_id))

    def delete_folder(self, fld_id: int) -> None:
        self._run("DELETE FROM folders WHERE fld_id=?", (fld_id,))

    def folder_has_files(self, fld_id: int) -> bool:
        return (
            self._one(
                "SELECT 1 FROM files WHERE fld_id=? AND deleted_at IS NULL LIMIT 1", (fld_id,)
            )
            is not None
        )

    def folder_has_children(self, fld_id: int) -> bool:
        return self._one("SELECT 1 FROM folders WHERE parent_id=? LIMIT 1", (fld_id,)) is not None

    # -- files ------------------------------------------------------------------------------
    def file(self, code: str) -> FileRow | None:
        row = self._one(f"SELECT {_FILE_COLUMNS} FROM files WHERE code=?", (code,))
        return FileRow(**dict(row)) if row else None

    def files_by_codes(self, codes: Iterable[str]) -> dict[str, FileRow]:
        codes = list(codes)
        if not codes:
            return {}
        marks = ",".join("?" * len(codes))
        rows = self._all(f"SELECT {_FILE_COLUMNS} FROM files WHERE code IN ({marks})", codes)
        return {r["code"]: FileRow(**dict(r)) for r in rows}

    def list_files(
        self,
        usr_id: int,
        *,
        fld_id: int | None = None,
        title_like: str | None = None,
        created_after: float | None = None,
        flags: dict[str, int] | None = None,
        visible_at: float | None = None,
        limit: int | None = None,
        offset: int = 0,
    ) -> tuple[list[FileRow], int]:
        """Live files of an account, newest first, and the total before paging."""
        where = ["usr_id=?", "deleted_at IS NULL"]
        args: list[Any] = [usr_id]
        if fld_id is not None:
            where.append("fld_id=?")
            args.append(fld_id)
        if title_like is not None:
            where.append("title LIKE ?")
            args.append(f"%{title_like}%")
        if created_after is not None:
            where.append("created > ?")
            args.append(created_after)
        for column, value in (flags or {}).items():
            where.append(f"{column}=?")
            args.append(value)
        if visible_at is not None:
            where.append("visible_at <= ?")
            args.append(visible_at)
        clause = " AND ".join(where)
        with self._lock:
            total_row = self._one(f"SELECT COUNT(*) AS n FROM files WHERE {clause}", args)
            page = "" if limit is None else f" LIMIT {int(limit)} OFFSET {int(offset)}"
            rows = self._all(
                f"SELECT {_FILE_COLUMNS} FROM files WHERE {clause} ORDER BY created DESC{page}",
                args,
            )
        total = int(total_row["n"]) if total_row else 0
        return [FileRow(**dict(r)) for r in rows], total

    def insert_files(self, rows: Sequence[dict[str, Any]]) -> None:
        """Insert many files in one transaction (seeding 10,000 must take well under a second)."""
        if not rows:
            return
        columns = [c for c in FILE_FIELDS if c != "file_id" and c in rows[0]]
        marks = ", ".join("?" * len(columns))
        sql = f"INSERT INTO files({', '.join(columns)}) VALUES({marks})"
        with self._lock:
            self._db.execute("BEGIN")
            try:
                self._db.executemany(sql, [[r[c] for c in columns] for r in rows])
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def update_file(self, code: str, changes: dict[str, Any]) -> None:
        if changes:
            cols = ", ".join(f"{k}=?" for k in changes)
            self._run(f"UPDATE files SET {cols} WHERE code=?", (*changes.values(), code))

    def deleted_files(self, usr_id: int, since: float) -> list[FileRow]:
        rows = self._all(
            f"SELECT {_FILE_COLUMNS} FROM files WHERE usr_id=? AND deleted_at IS NOT NULL "
            "AND deleted_at >= ? ORDER BY deleted_at DESC",
            (usr_id, since),
        )
        return [FileRow(**dict(r)) for r in rows]

    def dmca_files(self, usr_id: int, since: float) -> list[FileRow]:
        rows = self._all(
            f"SELECT {_FILE_COLUMNS} FROM files WHERE usr_id=? AND dmca_at IS NOT NULL "
            "AND dmca_at >= ? AND deleted_at IS NULL ORDER BY dmca_at",
            (usr_id, since),
        )
        return [FileRow(**dict(r)) for r in rows]

    def encoding_files(self, usr_id: int, now: float) -> list[FileRow]:
        rows = self._all(
            f"SELECT {_FILE_COLUMNS} FROM files WHERE usr_id=? AND deleted_at IS NULL "
            "AND (enc_end > ? OR enc_stuck=1) ORDER BY created",
            (usr_id, now),
        )
        return [FileRow(**dict(r)) for r in rows]

    def all_files(self) -> list[tuple[FileRow, str]]:
        rows = self._all(
            f"SELECT {', '.join('f.' + c for c in FILE_FIELDS)}, "
            "COALESCE(a.login, '') AS login FROM files f "
            "LEFT JOIN accounts a ON a.usr_id=f.usr_id ORDER BY f.file_id"
        )
        return [(FileRow(**{c: r[c] for c in FILE_FIELDS}), str(r["login"])) for r in rows]

    def content(self, row: FileRow) -> Content:
        return Content(self.blob_dir, row.blob, row.size)

    # -- stats ------------------------------------------------------------------------------
    def put_stats(self, usr_id: int, days: Sequence[dict[str, Any]]) -> None:
        with self._lock:
            for d in days:
                self._run(
                    "INSERT OR REPLACE INTO stats(usr_id, day, views, downloads, views_prem, "
                    "views_adb, sales, refs, profit_views) VALUES(?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        usr_id,
                        d["day"],
                        d["views"],
                        d["downloads"],
                        d["views_prem"],
                        d["views_adb"],
                        d["sales"],
                        d["refs"],
                        d["profit_views"],
                    ),
                )

    def stats(self, usr_id: int, day_from: str, day_to: str) -> list[dict[str, Any]]:
        rows = self._all(
            "SELECT * FROM stats WHERE usr_id=? AND day>=? AND day<=? ORDER BY day",
            (usr_id, day_from, day_to),
        )
        return [dict(r) for r in rows]

    # -- URL upload queue --------------------------------------------------------------------
    def queue_url(
        self, code: str, usr_id: int, url: str, fld_id: int, opts: str, now: float
    ) -> None:
        self._run(
            "INSERT INTO url_queue(code, usr_id, url, fld_id, status, created, opts) "
            "VALUES(?, ?, ?, ?, 'PENDING', ?, ?)",
            (code, usr_id, url, fld_id, now, opts),
        )

    def url_entries(self, usr_id: int | None = None) -> list[dict[str, Any]]:
        if usr_id is None:
            return [dict(r) for r in self._all("SELECT * FROM url_queue ORDER BY created")]
        rows = self._all("SELECT * FROM url_queue WHERE usr_id=? ORDER BY created", (usr_id,))
        return [dict(r) for r in rows]

    def url_entry(self, code: str) -> dict[str, Any] | None:
        row = self._one("SELECT * FROM url_queue WHERE code=?", (code,))
        return dict(row) if row else None

    def update_url(self, code: str, status: str, progress: int) -> None:
        self._run(
            "UPDATE url_queue SET status=?, progress=? WHERE code=?", (status, progress, code)
        )

    def delete_urls(self, usr_id: int, where: str = "1=1", args: Sequence[Any] = ()) -> None:
        self._run(f"DELETE FROM url_queue WHERE usr_id=? AND {where}", (usr_id, *args))
