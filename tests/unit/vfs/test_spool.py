"""Spool files: permissions, positional I/O, handle counts, hashing, deletion."""

from __future__ import annotations

import errno
import hashlib
import stat
from pathlib import Path

import pytest

from vipfs.vfs.localdirs import DirError
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


async def test_an_existing_root_is_used_as_it_is_never_chmodded(tmp_path: Path) -> None:
    root = tmp_path / "spool"
    root.mkdir()
    root.chmod(0o755)
    await Spool(root).create()
    assert stat.S_IMODE(root.stat().st_mode) == 0o755


async def test_a_root_others_can_write_is_refused(tmp_path: Path) -> None:
    root = tmp_path / "spool"
    root.mkdir()
    root.chmod(0o777)
    with pytest.raises(DirError, match="writable by group or others"):
        await Spool(root).create()
    assert stat.S_IMODE(root.stat().st_mode) == 0o777


async def test_a_symlink_in_place_of_a_spool_file_is_never_followed(
    spool: Spool, tmp_path: Path
) -> None:
    path = await spool.create()
    secret = tmp_path / "secret"
    secret.write_bytes(b"root only")
    path.unlink()
    path.symlink_to(secret)
    for call in (spool.read(path, 0, 100), spool.sha256(path), spool.open(path)):
        with pytest.raises(OSError) as caught:
            await call
        assert caught.value.errno == errno.ELOOP
    with pytest.raises(OSError):
        await spool.write(path, 0, b"x")
    assert secret.read_bytes() == b"root only"
    assert spool.paths() == []  # not ours: no orphan to rescue either


async def test_rescue_moves_into_lost_found_under_names_that_never_clash(spool: Spool) -> None:
    first = await spool.create()
    await spool.write(first, 0, b"one")
    moved = await spool.rescue(first)
    assert moved.parent == spool.lost_found == spool.root.parent / "lost+found"
    assert stat.S_IMODE(spool.lost_found.stat().st_mode) == 0o700
    again = spool.root / first.name  # the same name once more (a later lost db)
    await spool.write(await spool.create(), 0, b"")
    again.write_bytes(b"two")
    moved_again = await spool.rescue(again)
    assert moved_again != moved
    assert sorted(p.read_bytes() for p in spool.lost_found.iterdir()) == [b"one", b"two"]
    assert spool.lost_files() == sorted([moved.name, moved_again.name])


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
