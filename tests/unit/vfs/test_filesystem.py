"""The facade against an in-memory account: calls per operation, caching, names, errors."""

from __future__ import annotations

import errno
import json
import os
import stat
from datetime import UTC

import pytest
import trio

from tests.unit.vfs.fake_api import EPOCH_OFFSET, FakeApi
from vipfs.api.errors import TransientError
from vipfs.vfs.attrs import UNLIMITED_BYTES, Owner
from vipfs.vfs.errors import VfsError
from vipfs.vfs.filesystem import NO_READER, Filesystem, Options
from vipfs.vfs.inodes import ROOT_INO, FolderKey


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def make(api: FakeApi, clock: Clock | None = None, budget: float = 30.0) -> Filesystem:
    options = Options(owner=Owner(1234, 5678, 0o027), dir_cache_time=300, budget=budget)
    return Filesystem(api, options=options, clock=clock or Clock())


async def listdir(fs: Filesystem, ino: int = ROOT_INO) -> dict[str, int]:
    fh = await fs.opendir(ino)
    try:
        out = {}
        for item in fs.readdir(fh, 0):
            if item.name in (".", ".."):
                continue  # the kernel takes no reference for them (test_dots.py)
            fs.remember(item.attr.ino)
            out[item.name] = item.attr.ino
        return out
    finally:
        fs.releasedir(fh)


async def test_tree_attrs_and_one_call_per_folder() -> None:
    api = FakeApi()
    sub = api.add_folder("Series")
    api.add_file("pilot", sub)
    for i in range(120):
        api.add_file(f"clip {i}")
    fs = make(api)
    root = await listdir(fs)
    assert len(root) == 121  # Series + 120 files (/.vipfs is reachable by name only)
    assert api.count("folder_list") == 1
    for name in list(root)[:50]:
        await fs.lookup(ROOT_INO, name)
    assert api.count("folder_list") == 1  # lookups are served by the listing
    series = await fs.lookup(ROOT_INO, "Series")
    assert stat.S_ISDIR(series.mode) and stat.S_IMODE(series.mode) == 0o750
    assert series.nlink == 2 and series.uid == 1234 and series.gid == 5678
    inner = await listdir(fs, series.ino)
    assert list(inner) == ["pilot.mp4"]  # a host title with no extension gets the default
    pilot = await fs.getattr(inner["pilot.mp4"])
    assert stat.S_ISREG(pilot.mode) and stat.S_IMODE(pilot.mode) == 0o640
    assert pilot.size == 0 and pilot.nlink == 1 and pilot.blksize == 1 << 20
    entry = next(f for f in api.files.values() if f.title == "pilot")
    assert entry.uploaded is not None
    # mtime: the server's local time, shifted by the server's offset
    utc = entry.uploaded.replace(tzinfo=UTC).timestamp()
    assert pilot.mtime_ns == int((utc - EPOCH_OFFSET) * 1e9)


async def test_listing_ttl_and_invalidation() -> None:
    api = FakeApi()
    api.add_file("a")
    clock = Clock()
    fs = make(api, clock)
    await listdir(fs)
    await listdir(fs)
    assert api.count("folder_list") == 1
    clock.now += 301
    api.add_file("b")
    assert "b.mp4" in await listdir(fs)
    assert api.count("folder_list") == 2
    fs.forget_all()
    await listdir(fs)
    assert api.count("folder_list") == 3


async def test_concurrent_lookups_share_one_call() -> None:
    api = FakeApi()
    api.add_file("a")
    api.gate = trio.Event()
    fs = make(api)
    results = []

    async def one() -> None:
        results.append(await fs.lookup(ROOT_INO, "a.mp4"))

    async with trio.open_nursery() as nursery:
        for _ in range(10):
            nursery.start_soon(one)
        await trio.testing.wait_all_tasks_blocked()
        api.gate.set()
    assert api.count("folder_list") == 1
    assert len({r.ino for r in results}) == 1
    assert fs.inodes.get(results[0].ino).lookups == 10  # type: ignore[union-attr]


async def test_inodes_follow_lookup_counts_not_ttl() -> None:
    api = FakeApi()
    api.add_file("a")
    clock = Clock()
    fs = make(api, clock)
    ino = (await fs.lookup(ROOT_INO, "a.mp4")).ino
    await fs.lookup(ROOT_INO, "a.mp4")
    clock.now += 10_000  # the listing expires; the inode does not
    assert (await fs.getattr(ino)).ino == ino
    fs.forget([(ino, 1)])
    assert (await fs.getattr(ino)).ino == ino
    fs.forget([(ino, 1)])
    with pytest.raises(VfsError) as err:
        await fs.getattr(ino)
    assert err.value.errno == errno.ENOENT


async def test_duplicates_are_all_visible_and_stable() -> None:
    api = FakeApi()
    api.add_folder("Same.mp4")
    codes = [api.add_file("Same") for _ in range(3)]
    api.add_file("a/b &amp; c")
    fs = make(api)
    first = await listdir(fs)
    assert "Same.mp4" in first
    assert {f"Same [{c}].mp4" for c in codes} <= set(first)  # the folder keeps the plain name
    assert "a／b & c.mp4" in first
    fs.forget_all()
    assert await listdir(fs) == first  # same names, same inodes


async def test_stale_listing_served_when_api_fails_then_heals() -> None:
    api = FakeApi()
    api.add_file("a")
    clock = Clock()
    fs = make(api, clock, budget=0.5)
    sub = api.add_folder("cold")
    await listdir(fs)
    clock.now += 1000
    api.fail_all = TransientError("connection refused")
    assert "a.mp4" in await listdir(fs)  # stale, but served
    with pytest.raises(VfsError) as err:
        await fs.opendir((await fs.lookup(ROOT_INO, "cold")).ino)
    assert err.value.errno == errno.EIO
    api.fail_all = None
    assert await listdir(fs, fs.inodes.by_key(FolderKey(sub)).ino) == {}  # type: ignore[union-attr]


async def test_hung_api_is_bounded() -> None:
    api = FakeApi()
    api.gate = trio.Event()  # never set: the API hangs
    fs = make(api, budget=2.0)
    with trio.fail_after(20), pytest.raises(VfsError) as err:
        await fs.lookup(ROOT_INO, "x")
    assert err.value.errno == errno.EIO


async def test_missing_name_and_missing_folder() -> None:
    api = FakeApi()
    fs = make(api)
    with pytest.raises(VfsError) as err:
        await fs.lookup(ROOT_INO, "nope")
    assert err.value.errno == errno.ENOENT


async def test_xattrs_batched_per_folder() -> None:
    api = FakeApi()
    sub = api.add_folder("many", code="fold123")
    for i in range(120):
        api.add_file(f"v{i}", sub, canplay=i % 2 == 0)
    fs = make(api)
    folder = await fs.lookup(ROOT_INO, "many")
    assert await fs.getxattr(folder.ino, "user.vipfs.code") == b"fold123"
    entries = await listdir(fs, folder.ino)
    for name, ino in entries.items():
        values = {n: await fs.getxattr(ino, n) for n in await fs.listxattr(ino)}
        code = values["user.vipfs.code"].decode()
        entry = api.files[code]
        assert entry.title + ".mp4" == name
        assert values["user.vipfs.views"] == b"103"  # from file/info, not the listing
        assert values["user.vipfs.status"] == (b"ready" if entry.canplay else b"encoding")
        assert values["user.vipfs.canplay"] == (b"1" if entry.canplay else b"0")
        assert values["user.vipfs.link"] == f"https://vip.example/{code}".encode()
        assert set(values) >= {"user.vipfs.length", "user.vipfs.thumbnail"}
    assert api.info_batches == [50, 50, 20]
    some = next(iter(entries.values()))
    for name, expected in [
        ("user.vipfs.nope", errno.ENODATA),
        ("user.other", errno.ENODATA),
        ("system.posix_acl_access", errno.ENOTSUP),
        ("security.selinux", errno.ENOTSUP),
    ]:
        with pytest.raises(VfsError) as err:
            await fs.getxattr(some, name)
        assert err.value.errno == expected


async def test_statfs_never_waits() -> None:
    api = FakeApi()
    api.gate = trio.Event()
    fs = make(api)
    first = fs.statfs()
    assert first.bfree * first.bsize == UNLIMITED_BYTES and first.namemax == 255
    fs.quota.update(api.account)
    now = fs.statfs()
    assert now.bfree == 100 and now.blocks == 110 and now.bsize == 4096


async def test_virtual_files() -> None:
    api = FakeApi()
    fs = make(api)
    vdir = await fs.lookup(ROOT_INO, ".vipfs")
    assert stat.S_IMODE(vdir.mode) == 0o550
    found = await listdir(fs, vdir.ino)
    assert set(found) >= {
        "account.json",
        "stats.json",
        "encodings.json",
        "deleted.json",
        "dmca.json",
    }
    attr = await fs.lookup(vdir.ino, "account.json")
    opened = await fs.open(attr.ino, os.O_RDONLY)
    assert opened.direct_io
    data = json.loads(await fs.read(opened.fh, 0, 1 << 20))
    assert data["login"] == "tester"
    await fs.release(opened.fh)
    with pytest.raises(VfsError) as err:
        await fs.open(attr.ino, os.O_WRONLY)
    assert err.value.errno == errno.EROFS


async def test_the_owners_account_data_is_mode_0600() -> None:
    """With --allow-other the kernel (default_permissions) then refuses it to other users."""
    fs = make(FakeApi())
    vdir = await fs.lookup(ROOT_INO, ".vipfs")
    modes = {}
    for name in await listdir(fs, vdir.ino):
        modes[name] = stat.S_IMODE((await fs.lookup(vdir.ino, name)).mode)
    assert modes.pop("account.json") == 0o600 and modes.pop("stats.json") == 0o600
    assert modes and set(modes.values()) == {0o440}  # the rest: read-only, umask 027 applied


async def test_reading_without_direct_link_is_refused_with_a_reason() -> None:
    api = FakeApi()
    api.add_file("movie")
    fs = make(api)
    attr = await fs.lookup(ROOT_INO, "movie.mp4")
    with pytest.raises(VfsError) as err:
        await fs.open(attr.ino, os.O_RDONLY)
    assert err.value.errno == errno.EACCES and err.value.why == NO_READER
