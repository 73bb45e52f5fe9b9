"""The FUSE handlers awaited directly (no mount): translation, negative entries, error mapping."""

from __future__ import annotations

import errno
import logging
import os
from dataclasses import dataclass
from typing import Any

import pyfuse3
import pytest

from tests.unit.vfs.fake_api import FakeApi
from vipfs import fuse_ops
from vipfs.fuse_ops import NEGATIVE_TIMEOUT, Operations
from vipfs.vfs.attrs import Attr, Owner
from vipfs.vfs.errors import VfsError
from vipfs.vfs.filesystem import AttrChanges, Filesystem, Options

CTX: Any = None  # the handlers never look at the request context


def make(api: FakeApi | None = None, fs_class: type[Filesystem] = Filesystem) -> Operations:
    fs = fs_class(api or FakeApi(), options=Options(owner=Owner(1, 2, 0o022)))
    return Operations(fs, attr_timeout=2.5)


async def test_lookup_translates_names_and_attributes() -> None:
    api = FakeApi()
    api.add_file("ça va")
    ops = make(api)
    entry = await ops.lookup(pyfuse3.ROOT_INODE, "ça va.mp4".encode(), CTX)
    assert entry.st_ino > 1
    assert entry.entry_timeout == 2.5 and entry.attr_timeout == 2.5
    assert entry.st_mode == 0o100644 and entry.st_uid == 1 and entry.st_gid == 2
    assert entry.st_blksize == 1 << 20
    again = await ops.getattr(entry.st_ino, CTX)
    assert again.st_ino == entry.st_ino and again.st_mtime_ns == entry.st_mtime_ns


async def test_lookup_miss_is_a_negative_entry() -> None:
    ops = make()
    entry = await ops.lookup(pyfuse3.ROOT_INODE, b"missing", CTX)
    assert entry.st_ino == 0 and entry.entry_timeout == NEGATIVE_TIMEOUT


async def test_vfs_error_becomes_fuse_error_logged_once(caplog: pytest.LogCaptureFixture) -> None:
    class Refusing(Filesystem):
        async def getattr(self, ino: int) -> Attr:
            raise VfsError(errno.EACCES, "no reading on this host")

    ops = make(fs_class=Refusing)
    caplog.set_level(logging.INFO, logger="vipfs.fuse_ops")
    for _ in range(3):
        with pytest.raises(pyfuse3.FUSEError) as err:
            await ops.getattr(1, CTX)
        assert err.value.errno == errno.EACCES
    lines = [r for r in caplog.records if "no reading on this host" in r.getMessage()]
    assert len(lines) == 1 and lines[0].levelno == logging.WARNING


async def test_unexpected_error_is_logged_eio(caplog: pytest.LogCaptureFixture) -> None:
    class Broken(Filesystem):
        async def getattr(self, ino: int) -> Attr:
            raise RuntimeError("bug")

    ops = make(fs_class=Broken)
    with pytest.raises(pyfuse3.FUSEError) as err:
        await ops.getattr(1, CTX)
    assert err.value.errno == errno.EIO
    assert any(r.exc_info for r in caplog.records if r.levelno == logging.ERROR)


async def test_readdir_counts_only_accepted_entries(monkeypatch: pytest.MonkeyPatch) -> None:
    api = FakeApi()
    for i in range(10):
        api.add_file(f"f{i}")
    ops = make(api)
    accepted: list[tuple[bytes, int, int]] = []

    def reply(token: object, name: bytes, attr: pyfuse3.EntryAttributes, next_id: int) -> bool:
        if len(accepted) == 4:
            return False
        accepted.append((name, attr.st_ino, next_id))
        return True

    monkeypatch.setattr(fuse_ops.pyfuse3, "readdir_reply", reply)
    fh = await ops.opendir(pyfuse3.ROOT_INODE, CTX)
    root = ops.fs.inodes.get(pyfuse3.ROOT_INODE)
    assert root is not None
    root_lookups = root.lookups
    await ops.readdir(fh, 0, CTX)
    assert [a[2] for a in accepted] == [1, 2, 3, 4]
    assert [a[0] for a in accepted] == [b".", b"..", b"f0.mp4", b"f1.mp4"]  # no /.vipfs
    assert accepted[0][1] == accepted[1][1] == pyfuse3.ROOT_INODE  # the root's `..` is itself
    table = ops.fs.inodes
    files = accepted[2:]
    assert all(table.get(ino).lookups == 1 for _, ino, _ in files)  # type: ignore[union-attr]
    assert root.lookups == root_lookups  # no reference taken for `.` and `..`
    before = len(table)
    accepted.clear()
    await ops.readdir(fh, 4, CTX)  # resumes at the stable offset
    assert [a[2] for a in accepted] == [5, 6, 7, 8]
    assert len(table) == before + 4  # the refused fifth entry left no inode behind
    await ops.releasedir(fh)


async def test_xattr_namespaces() -> None:
    api = FakeApi()
    api.add_file("v")
    ops = make(api)
    ino = (await ops.lookup(pyfuse3.ROOT_INODE, b"v.mp4", CTX)).st_ino
    names = await ops.listxattr(ino, CTX)
    assert b"user.vipfs.code" in names
    assert await ops.getxattr(ino, b"user.vipfs.status", CTX) == b"ready"
    for name, code in [
        (b"system.posix_acl_access", errno.ENOTSUP),
        (b"user.vipfs.bogus", errno.ENODATA),
    ]:
        with pytest.raises(pyfuse3.FUSEError) as err:
            await ops.getxattr(ino, name, CTX)
        assert err.value.errno == code
    with pytest.raises(pyfuse3.FUSEError) as err:
        await ops.setxattr(ino, b"system.posix_acl_access", b"x", CTX)
    assert err.value.errno == errno.ENOTSUP


async def test_statfs_and_forget_never_raise() -> None:
    ops = make()
    st = await ops.statfs(CTX)
    assert st.f_bsize == 4096 and st.f_namemax == 255 and st.f_bavail == st.f_bfree > 0
    await ops.forget([(12345, 1), (1, 1)])  # unknown inodes and the root: ignored
    assert (await ops.getattr(1, CTX)).st_ino == 1


class Recording(Filesystem):
    """Records what the write handlers hand to the facade, to check the translation only."""

    seen: list[tuple[str, object]]

    def note(self, what: str, value: object) -> None:
        if not hasattr(self, "seen"):
            self.seen = []
        self.seen.append((what, value))

    async def setattr(self, ino: int, changes: AttrChanges, fh: int | None = None) -> Attr:
        self.note("setattr", (ino, changes, fh))
        return Attr(ino, 0o100600, 1, changes.size or 0, 1, 2, changes.mtime_ns or 0)

    async def rename(
        self, old_parent: int, old_name: str, new_parent: int, new_name: str, flags: int = 0
    ) -> None:
        self.note("rename", (old_parent, old_name, new_parent, new_name, flags))

    async def mkdir(self, parent_ino: int, name: str, mode: int | None = None) -> Attr:
        self.note("mkdir", (parent_ino, name, mode))
        return Attr(9, 0o40000 | (mode or 0), 2, 0, 1, 2, 0)


@dataclass
class Fields:
    update_size: bool = False
    update_mtime: bool = False
    update_mode: bool = False
    update_atime: bool = False
    update_uid: bool = False
    update_gid: bool = False


async def test_setattr_passes_only_the_fields_asked_for() -> None:
    ops = make(fs_class=Recording)
    attr = pyfuse3.EntryAttributes()
    attr.st_size, attr.st_mtime_ns, attr.st_mode = 7, 123_456_789, 0o100644
    fields: Any = Fields(update_mtime=True)  # pyfuse3's own is read-only from Python
    out = await ops.setattr(5, attr, fields, 9, CTX)
    assert out.st_mtime_ns == 123_456_789 and out.st_ino == 5
    fields = Fields(update_size=True, update_mode=True)
    await ops.setattr(5, attr, fields, None, CTX)
    fs = ops.fs
    assert isinstance(fs, Recording)
    assert fs.seen == [
        ("setattr", (5, AttrChanges(mtime_ns=123_456_789), 9)),
        ("setattr", (5, AttrChanges(size=7, mode=0o100644), None)),
    ]


async def test_mkdir_hands_on_its_mode() -> None:
    """mkdir(2)'s mode (the umask applied by the kernel) is the new folder's own."""
    ops = make(fs_class=Recording)
    out = await ops.mkdir(1, b"Private", 0o700, CTX)
    fs = ops.fs
    assert isinstance(fs, Recording)
    assert fs.seen == [("mkdir", (1, "Private", 0o700))] and out.st_ino == 9


async def test_rename_decodes_names_and_keeps_flags() -> None:
    ops = make(fs_class=Recording)
    await ops.rename(1, b"caf\xc3\xa9.mp4", 3, b"\xff raw", pyfuse3.RENAME_NOREPLACE, CTX)
    fs = ops.fs
    assert isinstance(fs, Recording)
    assert fs.seen == [("rename", (1, "café.mp4", 3, "\udcff raw", pyfuse3.RENAME_NOREPLACE))]


async def test_links_and_nodes_are_refused_with_eperm() -> None:
    ops = make()
    calls = [
        ops.link(2, 1, b"hard", CTX),
        ops.symlink(1, b"sym", b"target", CTX),
        ops.mknod(1, b"fifo", 0o10644, 0, CTX),
    ]
    for call in calls:
        with pytest.raises(pyfuse3.FUSEError) as err:
            await call
        assert err.value.errno == errno.EPERM


async def test_writing_without_a_write_engine_is_read_only() -> None:
    ops = make()
    with pytest.raises(pyfuse3.FUSEError) as err:
        await ops.mkdir(pyfuse3.ROOT_INODE, b"New folder", 0o755, CTX)
    assert err.value.errno == errno.EROFS
    with pytest.raises(pyfuse3.FUSEError) as err:
        await ops.create(pyfuse3.ROOT_INODE, b"new.mp4", 0o644, os.O_WRONLY, CTX)
    assert err.value.errno == errno.EROFS
