"""The metadata database: round trips, the queue table, schema versioning, crash survival."""

from __future__ import annotations

import dataclasses
import os
import signal
import sqlite3
import stat
import sys
import textwrap
from pathlib import Path

import pytest
import trio

from vipfs.vfs import metadb
from vipfs.vfs.metadb import (
    SCHEMA_VERSION,
    FileMeta,
    FolderMeta,
    MetaDb,
    Stray,
    Upload,
    UploadState,
)


@pytest.fixture
async def db(tmp_path: Path):  # type: ignore[no-untyped-def]
    db = await MetaDb.open(tmp_path / "cache" / "meta.db")
    yield db
    await db.close()


def meta(code: str = "abcdefghijkl", **kw: object) -> FileMeta:
    values: dict[str, object] = dict(
        code=code,
        name="My_clip.v2.mp4",
        fld_id=7,
        size=123,
        mtime_ns=1_700_000_000_123_456_789,
        mode=0o644,
        sha256="ab" * 32,
        tags="promo, clip",
        descr="d",
    )
    values.update(kw)
    return FileMeta(**values)  # type: ignore[arg-type]


async def test_schema_is_versioned_in_wal_and_private(tmp_path: Path, db: MetaDb) -> None:
    path = tmp_path / "cache" / "meta.db"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    raw = sqlite3.connect(path)
    assert raw.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    assert raw.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    raw.close()


async def test_newer_schema_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "meta.db"
    raw = sqlite3.connect(path)
    raw.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    raw.close()
    with pytest.raises(RuntimeError, match="schema version"):
        await MetaDb.open(path)


async def test_files_round_trip_update_delete(db: MetaDb) -> None:
    await db.put_file(meta())
    await db.put_file(meta("mnopqrstuvwx", name="other.mkv", fld_id=0, tags=None))
    assert await db.get_file("abcdefghijkl") == meta()
    assert (await db.get_file("mnopqrstuvwx")).tags is None  # type: ignore[union-attr]
    assert [f.code for f in await db.files(7)] == ["abcdefghijkl"]
    assert len(await db.files()) == 2

    assert await db.update_file("abcdefghijkl", name="renamed.mp4", tags="")
    got = await db.get_file("abcdefghijkl")
    assert got is not None and got.name == "renamed.mp4" and got.tags == ""
    assert not await db.update_file("nosuchcode00", name="x")
    with pytest.raises(ValueError):
        await db.update_file("abcdefghijkl", sha512="evil")

    assert await db.delete_file("abcdefghijkl")
    assert await db.get_file("abcdefghijkl") is None
    assert not await db.delete_file("abcdefghijkl")


async def test_uploads_add_update_filter_finish(tmp_path: Path, db: MetaDb) -> None:
    a = await db.add_upload(Upload(spool=tmp_path / "a.spool", fld_id=3, name="a.mp4", token="t1"))
    b = await db.add_upload(Upload(spool=tmp_path / "b.spool", fld_id=0, name="b.mp4", token="t2"))
    assert a.id and b.id and a.id != b.id
    assert a.created > 0 and a.state is UploadState.WRITING
    assert await db.get_upload(a.id) == a

    await db.update_upload(a.id, state=UploadState.QUEUED, next_try=12.5, size=99)
    got = await db.get_upload(a.id)
    assert got is not None
    assert (got.state, got.next_try, got.size, got.spool) == (
        UploadState.QUEUED,
        12.5,
        99,
        tmp_path / "a.spool",
    )
    assert [u.id for u in await db.uploads([UploadState.QUEUED])] == [a.id]
    assert [u.id for u in await db.uploads()] == [a.id, b.id]

    await db.finish_upload(a.id, meta("codeaaaaaaaa", name="a.mp4"))
    done = await db.get_upload(a.id)
    assert done is not None and done.state is UploadState.DONE and done.code == "codeaaaaaaaa"
    assert (await db.get_file("codeaaaaaaaa")) is not None
    assert await db.prune_done() == 1
    assert await db.get_upload(a.id) is None
    assert await db.get_file("codeaaaaaaaa") is not None

    assert await db.delete_upload(b.id)
    assert await db.uploads() == []


CRASHER = textwrap.dedent(
    """
    import os, signal, sys, trio
    from pathlib import Path
    from vipfs.vfs.metadb import FileMeta, MetaDb, Upload, UploadState

    async def main():
        db = await MetaDb.open(Path(sys.argv[1]))
        u = await db.add_upload(Upload(spool=Path("/x.spool"), fld_id=1, name="n.mp4", token="tk"))
        await db.update_upload(u.id, state=UploadState.UPLOADING, attempts=1)
        await db.put_file(FileMeta("abcdefghijkl", "f.mp4", 0, 5, 6, 0o600))
        os.kill(os.getpid(), signal.SIGKILL)  # no close, no checkpoint

    trio.run(main)
    """
)


async def test_committed_changes_survive_kill_9(tmp_path: Path) -> None:
    path = tmp_path / "meta.db"
    proc = await trio.run_process(
        [sys.executable, "-c", CRASHER, str(path)], capture_stderr=True, check=False
    )
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    db = await MetaDb.open(path)
    try:
        (upload,) = await db.uploads()
        assert (upload.name, upload.state, upload.attempts) == ("n.mp4", UploadState.UPLOADING, 1)
        want = FileMeta("abcdefghijkl", "f.mp4", 0, 5, 6, 0o600)
        assert await db.get_file("abcdefghijkl") == want
    finally:
        await db.close()


async def test_folders_round_trip_and_delete(db: MetaDb) -> None:
    await db.put_folder(FolderMeta(12, 0o750, 1_700_000_000_123_456_789))
    await db.put_folder(FolderMeta(0, None, 5))  # the root; a mode never set stays unset
    await db.put_folder(FolderMeta(12, 0o700, 1_700_000_000_123_456_789))
    assert await db.folders() == [
        FolderMeta(0, None, 5),
        FolderMeta(12, 0o700, 1_700_000_000_123_456_789),
    ]
    assert await db.delete_folder(12)
    assert not await db.delete_folder(12)
    assert await db.folders() == [FolderMeta(0, None, 5)]


async def test_a_version_1_database_is_migrated_and_keeps_its_rows(tmp_path: Path) -> None:
    """A state directory from before the folders table: opened, it gains the table and keeps
    every file; a second open changes nothing."""
    path = tmp_path / "meta.db"
    raw = sqlite3.connect(path)
    raw.executescript(f"BEGIN; {metadb._SCHEMA} PRAGMA user_version = 1; COMMIT;")
    raw.execute(
        "INSERT INTO files (code, name, fld_id, size, mtime_ns, mode) "
        "VALUES ('abcdefghijkl', 'f.mp4', 0, 5, 6, 384)"
    )
    raw.commit()
    raw.close()
    kept = FileMeta("abcdefghijkl", "f.mp4", 0, 5, 6, 0o600)
    db = await MetaDb.open(path)
    try:
        assert await db.get_file("abcdefghijkl") == kept
        assert await db.folders() == []
        await db.put_folder(FolderMeta(3, 0o755, 9))
    finally:
        await db.close()
    db = await MetaDb.open(path)  # already at the current version: nothing runs again
    try:
        assert await db.get_file("abcdefghijkl") == kept
        assert await db.folders() == [FolderMeta(3, 0o755, 9)]
    finally:
        await db.close()
    raw = sqlite3.connect(path)
    assert raw.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION == 4
    raw.close()


async def test_strays_round_trip(db: MetaDb) -> None:
    await db.add_stray(Stray("vipfs-000000000001", None, "a.mp4"))
    await db.add_stray(Stray("vipfs-000000000002", "abcdefghijkl", "b.mp4"))
    assert [s.token for s in await db.strays()] == ["vipfs-000000000001", "vipfs-000000000002"]
    assert await db.delete_stray("vipfs-000000000001")
    assert await db.strays() == [Stray("vipfs-000000000002", "abcdefghijkl", "b.mp4")]


async def test_a_file_that_is_no_database_is_set_aside_never_deleted(tmp_path: Path) -> None:
    path = tmp_path / "meta.db"
    garbage = b"this is no SQLite database\n" * 200
    path.write_bytes(garbage)
    db = await MetaDb.open(path)
    await db.put_file(meta())
    await db.close()
    (aside,) = [n for n in os.listdir(tmp_path) if n.startswith("meta.db.corrupt-")]
    assert (tmp_path / aside).read_bytes() == garbage
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


async def test_an_empty_db_file_is_a_new_database(tmp_path: Path) -> None:
    path = tmp_path / "meta.db"
    path.write_bytes(b"")
    db = await MetaDb.open(path)
    assert await db.uploads() == []
    await db.close()
    assert [n for n in os.listdir(tmp_path) if "corrupt" in n] == []


async def test_wal_and_shm_are_private_even_after_a_loose_umask(tmp_path: Path) -> None:
    path = tmp_path / "meta.db"
    old = os.umask(0o000)
    try:
        db = await MetaDb.open(path)
        await db.put_file(meta())
        modes = {n: stat.S_IMODE(os.stat(tmp_path / n).st_mode) for n in os.listdir(tmp_path)}
        await db.close()
    finally:
        os.umask(old)
    assert modes == {"meta.db": 0o600, "meta.db-wal": 0o600, "meta.db-shm": 0o600}


async def test_a_symlink_in_place_of_the_db_is_refused(tmp_path: Path) -> None:
    target = tmp_path / "elsewhere"
    target.write_bytes(b"")
    (tmp_path / "meta.db").symlink_to(target)
    with pytest.raises(RuntimeError, match="symbolic link"):
        await MetaDb.open(tmp_path / "meta.db")


async def test_a_db_made_before_the_posted_columns_gains_them(tmp_path: Path) -> None:
    path = tmp_path / "meta.db"
    conn = sqlite3.connect(path)
    conn.executescript(
        f"BEGIN; {metadb._SCHEMA} {metadb._MIGRATIONS[2]} PRAGMA user_version = 2; COMMIT;"
        "INSERT INTO uploads (spool, fld_id, name, size, mtime_ns, mode, state, token, created)"
        " VALUES ('/s/1', 0, 'a.mp4', 1, 0, 420, 'queued', 'vipfs-000000000001', 1.0);"
        "INSERT INTO strays VALUES ('vipfs-000000000002', NULL, 'b.mp4');"
    )
    conn.close()
    db = await MetaDb.open(path)
    try:
        (row,) = await db.uploads()
        assert (row.name, row.posted_title, row.posted_at) == ("a.mp4", None, None)
        assert await db.strays() == [Stray("vipfs-000000000002", None, "b.mp4")]  # tokened
        await db.update_upload(row.id, posted_title="a", posted_fld=3, posted_at=5.0)
        titled = Stray("vipfs-000000000003", None, "c.mp4", 3, "c", 5.0, 9.0)
        await db.add_stray(titled)
        assert (await db.strays())[-1] == titled
        assert (await db.get_upload(row.id)).posted_fld == 3  # type: ignore[union-attr]
    finally:
        await db.close()


async def test_url_uploads_round_trip(db: MetaDb) -> None:
    row = await db.put_url(metadb.UrlRow("http://h/a.mp4", 7, "queued", title="A", created=1.0))
    assert row.id > 0
    await db.put_url(metadb.UrlRow("http://h/b.mp4", 0, "queued"))
    done = dataclasses.replace(row, state="uploaded", code="abcdefghijkl", progress=100)
    await db.put_url(done)
    assert [r.url for r in await db.urls()] == ["http://h/a.mp4", "http://h/b.mp4"]
    assert (await db.urls())[0] == done
