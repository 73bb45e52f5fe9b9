"""Spool files: permissions, positional I/O, handle counts, hashing, deletion."""

from __future__ import annotations

import hashlib
import stat
from pathlib import Path

import pytest

from vipfs.vfs.spool import Spool


@pytest.fixture
def spool(tmp_path: Path) -> Spool:
    return Spool(tmp_path / "cache" / "spool")


async def test_create_makes_private_dir_and_file(spool: Spool) -> None:
    path = await spool.create()
    assert path.parent == spool.root
    assert stat.S_IMODE(spool.root.stat().st_mode) == 0o700
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert await spool.size(path) == 0
    assert spool.paths() == [path]


async def test_existing_root_is_tightened(tmp_path: Path) -> None:
    root = tmp_path / "spool"
    root.mkdir(mode=0o755)
    root.chmod(0o755)
    await Spool(root).create()
    assert stat.S_IMODE(root.stat().st_mode) == 0o700


async def test_write_read_at_offsets_and_sparse_holes(spool: Spool) -> None:
    path = await spool.create()
    assert await spool.write(path, 0, b"hello") == 5
    assert await spool.write(path, 10, b"world") == 5
    assert await spool.size(path) == 15
    assert await spool.read(path, 0, 100) == b"hello" + b"\0" * 5 + b"world"
    assert await spool.read(path, 3, 4) == b"lo\0\0"
    assert await spool.read(path, 15, 4) == b""


async def test_truncate_shrinks_and_grows(spool: Spool) -> None:
    path = await spool.create()
    await spool.write(path, 0, b"0123456789")
    await spool.truncate(path, 4)
    assert await spool.read(path, 0, 100) == b"0123"
    await spool.truncate(path, 6)
    assert await spool.read(path, 0, 100) == b"0123\0\0"


async def test_handle_counts_share_one_descriptor(spool: Spool) -> None:
    path = await spool.create()
    await spool.open(path)
    await spool.open(path)
    assert spool.handles(path) == 2
    await spool.write(path, 0, b"abc")
    await spool.release(path)
    assert spool.handles(path) == 1
    assert await spool.read(path, 0, 3) == b"abc"
    await spool.release(path)
    assert spool.handles(path) == 0
    assert await spool.read(path, 0, 3) == b"abc"  # works without a handle too


async def test_delete_with_open_handle_keeps_descriptor_usable(spool: Spool) -> None:
    path = await spool.create()
    await spool.open(path)
    await spool.write(path, 0, b"data")
    await spool.delete(path)
    assert not path.exists()
    assert await spool.read(path, 0, 4) == b"data"  # like an unlinked but open POSIX file
    await spool.release(path)
    await spool.delete(path)  # already gone: no error


async def test_sha256_streams_whole_file(spool: Spool) -> None:
    path = await spool.create()
    data = bytes(range(256)) * 9000  # > 2 chunks
    await spool.write(path, 0, data)
    assert await spool.sha256(path) == hashlib.sha256(data).hexdigest()
