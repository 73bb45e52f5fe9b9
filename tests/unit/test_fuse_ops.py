"""The FUSE handlers awaited directly (no mount): translation, negative entries, error mapping."""

from __future__ import annotations

import errno
import logging
from typing import Any

import pyfuse3
import pytest

from tests.unit.vfs.fakeapi import FakeApi
from vipfs import fuse_ops
from vipfs.fuse_ops import NEGATIVE_TIMEOUT, Operations
from vipfs.vfs.attrs import Attr, Owner
from vipfs.vfs.errors import VfsError
from vipfs.vfs.filesystem import Filesystem, Options

CTX: Any = None  # the handlers never look at the request context


def make(api: FakeApi | None = None, fs_class: type[Filesystem] = Filesystem) -> Operations:
    fs = fs_class(api or FakeApi(), options=Options(owner=Owner(1, 2, 0o022)))
    return Operations(fs, attr_timeout=2.5)


async def test_lookup_translates_names_and_attributes() -> None:
    api = FakeApi()
    api.add_file("ça va")
    ops = make(api)
    entry = await ops.lookup(pyfuse3.ROOT_INODE, "ça va".encode(), CTX)
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
    await ops.readdir(fh, 0, CTX)
    assert [a[2] for a in accepted] == [1, 2, 3, 4]
    assert accepted[0][0] == b".vipfs"
    table = ops.fs.inodes
    assert all(table.get(ino).lookups == 1 for _, ino, _ in accepted)  # type: ignore[union-attr]
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
    ino = (await ops.lookup(pyfuse3.ROOT_INODE, b"v", CTX)).st_ino
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
