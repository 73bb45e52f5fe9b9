"""FdPool: descriptors capped, least recently used closed first, never one in use."""

from __future__ import annotations

import errno
import os
from pathlib import Path

import pytest
import trio

from vipfs.vfs.fdpool import FdPool, default_limit


def open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


@pytest.fixture
def files(tmp_path: Path) -> list[Path]:
    paths = []
    for i in range(20):
        path = tmp_path / f"f{i}"
        path.write_bytes(bytes([i]) * 10)
        paths.append(path)
    return paths


async def test_the_cap_holds_and_the_least_recently_used_goes_first(files: list[Path]) -> None:
    pool = FdPool(4)
    before = open_fds()
    for path in files:
        assert await pool.pread(path, 1, 0) == path.read_bytes()[:1]
        assert len(pool) <= 4
    assert open_fds() - before == 4
    await pool.pread(files[16], 1, 0)  # touched: now the most recent
    await pool.pread(files[0], 1, 0)  # reopened on demand: pushes out the oldest, f17
    assert [pool.is_open(p) for p in files[16:]] == [True, False, True, True]
    assert pool.is_open(files[0])
    for fd in pool.take_all():
        os.close(fd)
    assert open_fds() == before


async def test_a_descriptor_in_use_is_never_closed_under_its_user(files: list[Path]) -> None:
    pool = FdPool(1)
    async with pool.use(files[0]) as held:
        for path in files[1:5]:
            await pool.pwrite(path, b"x", 0)
        assert pool.is_open(files[0])
        assert os.pread(held, 1, 0) == b"\x00"  # still the same, open descriptor
    assert len(pool) == 1


async def test_close_while_in_use_waits_for_the_user(files: list[Path]) -> None:
    pool = FdPool(8)
    before = open_fds()
    async with pool.use(files[0]) as held:
        await pool.close(files[0])
        assert not pool.is_open(files[0])
        assert os.pread(held, 1, 0) == b"\x00"
    assert open_fds() == before


async def test_concurrent_first_uses_of_one_file_keep_one_descriptor(files: list[Path]) -> None:
    pool = FdPool(8)
    before = open_fds()
    async with trio.open_nursery() as nursery:
        for _ in range(10):
            nursery.start_soon(pool.pread, files[0], 1, 0)
    assert len(pool) == 1
    assert open_fds() - before == 1
    await pool.close(files[0])
    assert open_fds() == before


async def test_a_symlink_is_not_followed(tmp_path: Path, files: list[Path]) -> None:
    link = tmp_path / "link"
    link.symlink_to(files[0])
    with pytest.raises(OSError):
        await FdPool(4).pread(link, 1, 0)


def test_the_default_bound_leaves_room_under_a_tight_rlimit() -> None:
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (128, hard))
        assert default_limit() == 32
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, 4096), hard))
        assert default_limit() == 64
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


async def test_out_of_descriptors_the_pool_gives_back_its_idle_ones(
    files: list[Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    pool = FdPool(8)
    for path in files[:5]:
        await pool.pread(path, 1, 0)
    real_open = os.open
    refusals = [OSError(errno.EMFILE, "Too many open files")]

    def tight_open(path: str | os.PathLike[str], flags: int, mode: int = 0o777) -> int:
        if refusals:
            raise refusals.pop()
        return real_open(path, flags, mode)

    monkeypatch.setattr(os, "open", tight_open)
    assert await pool.pread(files[10], 1, 0) == b"\x0a"
    assert len(pool) == 1 and pool.is_open(files[10])


async def test_without_a_given_cap_a_lowered_rlimit_counts_at_once(tmp_path: Path) -> None:
    import resource

    files = [tmp_path / f"g{i}" for i in range(60)]
    for path in files:
        path.write_bytes(b"y")
    pool = FdPool()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, 4096), hard))
        for path in files:
            await pool.pread(path, 1, 0)
        assert len(pool) == 60  # under the 64 cap
        lowered = open_fds() + 8
        resource.setrlimit(resource.RLIMIT_NOFILE, (lowered, hard))  # as prlimit --pid does
        await pool.pread(files[0], 1, 0)
        assert len(pool) == max(4, min(64, lowered // 4))
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
        for fd in pool.take_all():
            os.close(fd)
