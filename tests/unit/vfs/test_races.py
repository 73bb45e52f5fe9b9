"""Races between a directory handle's snapshot and the model changing under it.

`opendir` snapshots a folder; the kernel reads that snapshot (`readdir`) later, in as many
batches as it likes. Meanwhile an upload may finish (the file's inode moves from its queue key to
its file code) or a file may be removed. What readdir hands out must still be the truth: the
file's own inode with its own size, mtime and mode, never a fresh inode with made-up attributes
(readdirplus gives those attributes to the kernel, which shows them to `stat`). A file removed
meanwhile is left out: POSIX leaves it open whether readdir still lists it, and we know it is
gone, so listing it would only resurrect it with attributes nobody can know.

A write cut by a full disk (the cp flake): the spool must then hold exactly the bytes the
writer was told it wrote, so `stat` says the same while the writer holds the file (the size the
kernel caches) as after its close, and a read gives those bytes.

Everything runs on trio's virtual clock through the facade only; no sleep synchronises anything:
each step is awaited until it is done.
"""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path

import pytest
from trio.testing import MockClock

from tests.unit.vfs.writable import MTIME, Mount, write_file
from vipfs.vfs.attrs import Attr
from vipfs.vfs.errors import VfsError
from vipfs.vfs.filesystem import DirEntry, Filesystem
from vipfs.vfs.inodes import ROOT_INO

# Both races are open on main: these tests fail there, deterministically (see --runxfail). The
# marks go with the fixes: strict, so a test that passes while marked fails the suite.


def read_all(fs: Filesystem, fh: int, start: int = 0) -> list[DirEntry]:
    """What the kernel's readdirplus does with a handle: take every entry (and its inode;
    none for `.` and `..`, left out here)."""
    out = []
    for item in fs.readdir(fh, start):
        if item.name in (".", ".."):
            continue
        fs.remember(item.attr.ino)
        out.append(item)
    return out


def facts(attr: Attr) -> tuple[int, int, int, int]:
    return attr.ino, attr.size, attr.mtime_ns, stat.S_IMODE(attr.mode)


async def test_readdir_of_a_snapshot_taken_before_the_upload_finished_shows_the_uploaded_file(
    mount: Mount, virtual_clock: MockClock
) -> None:
    """The rsync flake: `ls -l` (opendir) while the file is queued, its upload finishes, then
    the kernel reads the entries. The entry must be the file's own inode, size, mtime, mode."""
    fs = await mount.start()
    ino = await write_file(fs, "clip.mp4", b"0123456789", mtime=MTIME)  # created 0o600
    fh = await fs.opendir(ROOT_INO)  # the snapshot holds the queued file
    await fs.wait_uploads()
    assert len(mount.api.files) == 1  # it is on the host now, under a file code
    entries = {e.name: e.attr for e in read_all(fs, fh)}
    fs.releasedir(fh)
    assert facts(entries["clip.mp4"]) == (ino, 10, MTIME, 0o600)
    assert facts(await fs.lookup(ROOT_INO, "clip.mp4")) == (ino, 10, MTIME, 0o600)
    assert facts(await fs.getattr(ino)) == (ino, 10, MTIME, 0o600)


async def test_a_snapshot_read_in_two_batches_across_an_upload_keeps_every_inode(
    mount: Mount, virtual_clock: MockClock
) -> None:
    """The kernel reads a big folder in batches; uploads finish between them."""
    fs = await mount.start()
    inos = {}
    for i, name in enumerate(["a.mp4", "b.mp4", "c.mp4"]):
        inos[name] = await write_file(fs, name, b"x" * (i + 1), mtime=MTIME + i)
    fh = await fs.opendir(ROOT_INO)
    first = read_all(fs, fh)[:2]  # the kernel's buffer took two entries: a.mp4 and b.mp4
    await fs.wait_uploads()
    rest = read_all(fs, fh, first[-1].next_id)
    fs.releasedir(fh)
    got = {e.name: facts(e.attr) for e in (*first, *rest)}
    assert [e.name for e in (*first, *rest)] == ["a.mp4", "b.mp4", "c.mp4"]
    for i, name in enumerate(["a.mp4", "b.mp4", "c.mp4"]):
        assert got[name] == (inos[name], i + 1, MTIME + i, 0o600), name


async def test_a_queued_file_removed_after_opendir_is_not_resurrected_by_readdir(
    mount: Mount, virtual_clock: MockClock
) -> None:
    fs = await mount.start(write_back=1000)  # stays queued throughout
    kept = await write_file(fs, "kept.mp4", b"keep", mtime=MTIME)
    await write_file(fs, "gone.mp4", b"gone", mtime=MTIME)
    fh = await fs.opendir(ROOT_INO)
    await fs.unlink(ROOT_INO, "gone.mp4")
    entries = read_all(fs, fh)
    fs.releasedir(fh)
    assert [e.name for e in entries] == ["kept.mp4"]
    assert facts(entries[0].attr) == (kept, 4, MTIME, 0o600)
    with pytest.raises(VfsError) as err:
        await fs.lookup(ROOT_INO, "gone.mp4")
    assert err.value.errno == errno.ENOENT


async def test_an_uploaded_file_removed_after_opendir_is_not_resurrected_by_readdir(
    mount: Mount, virtual_clock: MockClock
) -> None:
    fs = await mount.start()
    kept = await write_file(fs, "kept.mp4", b"keep", mtime=MTIME)
    await write_file(fs, "gone.mp4", b"gone", mtime=MTIME)
    await fs.wait_uploads()
    fh = await fs.opendir(ROOT_INO)
    await fs.unlink(ROOT_INO, "gone.mp4")
    entries = read_all(fs, fh)
    fs.releasedir(fh)
    assert [e.name for e in entries] == ["kept.mp4"]
    assert facts(entries[0].attr) == (kept, 4, MTIME, 0o600)
    assert [f.title for f in mount.api.files.values()] == ["kept"]


class FullDisk:
    """A disk with `free` bytes left, behaving as tmpfs does: `pwrite` stores what fits and
    returns that short count; with nothing left it fails with ENOSPC."""

    def __init__(self, free: int) -> None:
        self.free = free
        self._pwrite = os.pwrite

    def pwrite(self, fd: int, data: bytes | memoryview, offset: int) -> int:
        if self.free == 0:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        stored = self._pwrite(fd, memoryview(data)[: self.free], offset)
        self.free -= stored
        return stored


async def test_a_write_cut_by_a_full_disk_keeps_exactly_the_bytes_the_writer_was_told(
    mount: Mount, virtual_clock: MockClock, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fs = await mount.start(write_back=1000)
    data = bytes(range(256)) * 1024  # 256 KiB, written 64 KiB at a time
    chunk = 64 << 10
    opened, attr = await fs.create(ROOT_INO, "big.mp4", 0o644)
    monkeypatch.setattr(os, "pwrite", FullDisk(free=100_000).pwrite)  # room for 1.5 chunks
    told = 0
    failure: VfsError | None = None
    while told < len(data):  # cp's full_write: a short count is retried from where it ended
        try:
            told += await fs.write(opened.fh, told, data[told : told + chunk])
        except VfsError as exc:
            failure = exc
            break
    assert failure is not None and failure.errno == errno.ENOSPC
    assert 0 < told < len(data)
    while_open = (await fs.getattr(attr.ino)).size  # what the kernel caches until the close
    await fs.release(opened.fh)
    after_close = (await fs.getattr(attr.ino)).size
    [spool] = (tmp_path / "spool").glob("*.spool")
    kept = spool.read_bytes()
    assert (while_open, after_close, len(kept)) == (told, told, told)
    assert kept == data[:told]
    reading = await fs.open(attr.ino, os.O_RDONLY)
    assert await fs.read(reading.fh, 0, len(data)) == data[:told]
    await fs.release(reading.fh)
    assert (await fs.getxattr(attr.ino, "user.vipfs.status")).startswith(b"incomplete: ")
