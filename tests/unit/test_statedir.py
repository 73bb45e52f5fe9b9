"""Where state lives, the lock on it, and the move of an old cache layout into it."""

from __future__ import annotations

import errno
import os
import stat
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from vipfs import statedir
from vipfs.statedir import InUseError, StateLock, migrate


def test_xdg_variables_are_honoured_and_relative_ones_ignored(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "s"))
    monkeypatch.setenv("XDG_CACHE_HOME", "relative/cache")  # the spec says: ignore it
    assert statedir.default_state_dir("h") == tmp_path / "s" / "vipfs" / "h"
    assert statedir.default_cache_dir("h") == tmp_path / ".cache" / "vipfs" / "h"
    monkeypatch.delenv("XDG_STATE_HOME")
    assert statedir.default_state_dir("h") == tmp_path / ".local" / "state" / "vipfs" / "h"
    assert statedir.legacy_dir("h") == tmp_path / ".cache" / "vipfs" / "h"


def test_the_lock_names_the_mount_that_holds_it(tmp_path: Path) -> None:
    lock = StateLock.take(tmp_path, Path("/mnt/first"))
    assert stat.S_IMODE(os.stat(tmp_path / "lock").st_mode) == 0o600
    # another process (flock is per open file: a second open in this process conflicts too)
    with pytest.raises(InUseError) as caught:
        StateLock.take(tmp_path, Path("/mnt/second"))
    assert str(caught.value) == (
        f"state directory {tmp_path} is in use by the mount at /mnt/first (pid {os.getpid()})"
    )
    lock.release()
    again = StateLock.take(tmp_path, Path("/mnt/second"))  # free once released
    assert (tmp_path / "lock").read_text() == f"/mnt/second\n{os.getpid()}\n"
    again.release()


def test_a_dead_holder_leaves_no_lock(tmp_path: Path) -> None:
    script = textwrap.dedent(
        f"""
        import os, sys
        from pathlib import Path
        from vipfs.statedir import StateLock
        StateLock.take(Path({str(tmp_path)!r}), Path("/mnt/dead"))
        os._exit(0)
        """
    )
    subprocess.run([sys.executable, "-c", script], check=True, timeout=60)
    StateLock.take(tmp_path, Path("/mnt/next")).release()


def test_a_symlink_as_the_lock_file_is_refused(tmp_path: Path) -> None:
    (tmp_path / "elsewhere").write_text("x")
    (tmp_path / "lock").symlink_to(tmp_path / "elsewhere")
    with pytest.raises(OSError) as caught:
        StateLock.take(tmp_path, Path("/mnt"))
    assert caught.value.errno == errno.ELOOP


def old_layout(old: Path) -> dict[str, bytes]:
    """meta.db (+ -wal) and two queued spool files, as versions before the state dir left."""
    (old / "spool").mkdir(parents=True)
    (old / "spool").chmod(0o700)  # as the old versions made it
    files = {
        "meta.db": b"db bytes",
        "meta.db-wal": b"wal bytes",
        "spool/aaaa.spool": b"queued one",
        "spool/bbbb.spool": b"queued two",
    }
    for name, data in files.items():
        (old / name).write_bytes(data)
    (old / "abcdefghijkl-o-10-1.cache").write_bytes(b"old read cache")
    (old / "notes.txt").write_text("not vipfs's")
    return files


def tree(root: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()
    }


@pytest.mark.parametrize("exdev", [False, True], ids=["rename", "copy across file systems"])
def test_migration_moves_db_and_spool_and_loses_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, exdev: bool
) -> None:
    old, state = tmp_path / "cache" / "h", tmp_path / "state" / "h"
    files = old_layout(old)
    state.mkdir(parents=True)
    if exdev:
        real = os.rename

        def rename(src: object, dst: object) -> None:
            if Path(str(src)).parent.parent == tmp_path / "cache":  # out of the old dir
                raise OSError(errno.EXDEV, "Invalid cross-device link")
            real(src, dst)  # type: ignore[arg-type]

        monkeypatch.setattr(os, "rename", rename)
    assert migrate(old, state, made_by_vipfs=True)
    assert tree(state) == files
    assert stat.S_IMODE(os.stat(state / "spool").st_mode) == 0o700
    assert tree(old) == {"notes.txt": b"not vipfs's"}  # its old read cache went too
    assert not migrate(old, state, made_by_vipfs=True)  # once only


def test_migration_never_overwrites_a_state_that_has_a_db(tmp_path: Path) -> None:
    old, state = tmp_path / "old", tmp_path / "state"
    files = old_layout(old)
    state.mkdir()
    (state / "meta.db").write_bytes(b"the current db")
    assert not migrate(old, state, made_by_vipfs=True)
    assert {k: v for k, v in tree(old).items() if k in files} == files


def test_an_interrupted_copy_is_finished_without_duplicates(tmp_path: Path) -> None:
    old, state = tmp_path / "old", tmp_path / "state"
    files = old_layout(old)
    (state / "spool").mkdir(parents=True)
    (state / "spool" / "aaaa.spool").write_bytes(b"queued one")  # copied, not yet removed
    assert migrate(old, state, made_by_vipfs=False)
    assert tree(state) == files
    assert not (old / "spool").exists() and (old / "abcdefghijkl-o-10-1.cache").exists()


def test_a_copy_that_does_not_verify_keeps_the_original(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    old, state = tmp_path / "old", tmp_path / "state"
    old_layout(old)
    (state / "spool").mkdir(parents=True)

    def no_rename_out(src: object, dst: object, real=os.rename) -> None:  # type: ignore[no-untyped-def]
        if Path(str(src)).is_relative_to(old):
            raise OSError(errno.EXDEV, "Invalid cross-device link")
        real(src, dst)

    digests = iter(["one", "two"] * 10)  # every copy differs from its source
    monkeypatch.setattr(os, "rename", no_rename_out)
    monkeypatch.setattr(statedir, "_digest", lambda path: next(digests))
    migrate(old, state, made_by_vipfs=True)
    assert (old / "spool" / "aaaa.spool").read_bytes() == b"queued one"
    assert (old / "meta.db-wal").exists() and (old / "meta.db").exists()  # no db without its WAL
    assert not (state / "meta.db").exists()
    assert not [p for p in state.rglob("*") if p.is_file()]


def test_a_spool_dir_alone_in_a_dir_the_user_named_is_not_taken(tmp_path: Path) -> None:
    old, state = tmp_path / "mine", tmp_path / "state"
    (old / "spool").mkdir(parents=True)
    (old / "spool" / "theirs.spool").write_bytes(b"the user's")
    state.mkdir()
    assert not migrate(old, state, made_by_vipfs=False)
    assert (old / "spool" / "theirs.spool").read_bytes() == b"the user's"


def test_the_state_of_a_running_older_vipfs_is_not_moved(tmp_path: Path) -> None:
    old, state = tmp_path / "old", tmp_path / "state"
    files = old_layout(old)
    state.mkdir()
    holder = subprocess.Popen(  # an old mount: its db open
        [sys.executable, "-c", "import sys, time; f = open(sys.argv[1]); time.sleep(60)",
         str(old / "meta.db")]
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 30
        while statedir.holder(old / "meta.db") is None and time.monotonic() < deadline:
            time.sleep(0.05)  # polling, bounded: the child opens it at once
        with pytest.raises(InUseError, match=f"in use by an older vipfs \\(pid {holder.pid}\\)"):
            migrate(old, state, made_by_vipfs=True)
    finally:
        holder.kill()
        holder.wait()
    assert {k: v for k, v in tree(old).items() if k in files} == files
    assert list(state.iterdir()) == []


def test_a_mirror_has_its_own_dir_and_remembers_its_members_logins(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "s"))
    mirror = statedir.mirror_state_dir("all")
    assert mirror == tmp_path / "s" / "vipfs" / "mirror-all"
    mirror.mkdir(parents=True)
    assert statedir.known_logins(mirror) == {}  # never mounted: no knowledge, no error
    statedir.remember_logins(mirror, {"vip": ("http://a/api", "me"), "wish": ("http://b", "x")})
    statedir.remember_logins(mirror, {"vip": ("http://a/api", "me2")})  # wish's stays
    assert statedir.known_logins(mirror) == {
        "vip": ("http://a/api", "me2"),
        "wish": ("http://b", "x"),
    }
    (mirror / statedir.MIRROR_LOGINS).write_text('{"vip": ["only one"], "wish": [1, 2], "x": 3}')
    assert statedir.known_logins(mirror) == {}  # damaged: nothing trusted
    (mirror / statedir.MIRROR_LOGINS).write_text("{torn")
    assert statedir.known_logins(mirror) == {}
