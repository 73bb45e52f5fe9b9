"""The FUSE binding mounted for real over the in-memory account: real tools, no HTTP.

This checks fuse_ops + the facade against the kernel (readdirplus, negative entries, xattrs,
statfs, direct_io virtual files) independently of the client and the emulator.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path

import pyfuse3
import pytest
import trio

from tests.unit.vfs.fake_api import FakeApi
from vipfs.fuse_ops import Operations
from vipfs.vfs.attrs import Owner
from vipfs.vfs.filesystem import Filesystem, Options

pytestmark = pytest.mark.fuse


async def sh(*argv: str) -> subprocess.CompletedProcess[str]:
    return await trio.to_thread.run_sync(
        lambda: subprocess.run(argv, capture_output=True, text=True, timeout=60)
    )


@pytest.fixture
async def mounted(tmp_path: Path) -> AsyncIterator[tuple[FakeApi, Path]]:
    api = FakeApi()
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    fs = Filesystem(api, options=Options(owner=Owner.current()))
    fs.quota.update(api.account)
    ops = Operations(fs, attr_timeout=1.0)
    pyfuse3.init(ops, str(mnt), set(pyfuse3.default_options) | {"fsname=vipfs:tester"})
    try:
        async with trio.open_nursery() as nursery:
            nursery.start_soon(pyfuse3.main)
            yield api, mnt
            await sh("fusermount3", "-u", str(mnt))
    finally:
        pyfuse3.close(unmount=False)


async def test_tools_see_the_tree(mounted: tuple[FakeApi, Path]) -> None:
    api, mnt = mounted
    sub = api.add_folder("Season 1")
    for _ in range(3):
        api.add_file("Episode", sub)
    api.add_file("a/b")
    ls = await sh("ls", "-la", str(mnt))
    assert ls.returncode == 0, ls.stderr
    assert "Season 1" in ls.stdout and "a／b.mp4" in ls.stdout and ".vipfs" not in ls.stdout
    assert [line.split()[-1] for line in ls.stdout.splitlines()[1:3]] == [".", ".."]
    found = await sh("find", str(mnt / "Season 1"), "-type", "f")
    assert len(found.stdout.splitlines()) == 3
    stat = await sh("stat", "-c", "%s %h %F", str(mnt / "Season 1" / "Episode.mp4"))
    assert stat.stdout.strip() == "0 1 regular empty file"
    missing = await sh("stat", str(mnt / "nope"))
    assert missing.returncode != 0 and "No such file" in missing.stderr
    xattr = await sh("getfattr", "-d", str(mnt / "a／b.mp4"))
    assert 'user.vipfs.status="ready"' in xattr.stdout
    assert 'user.vipfs.views="103"' in xattr.stdout
    df = await sh("df", "-B1", "--output=size,avail", str(mnt))
    size, avail = df.stdout.splitlines()[1].split()
    assert int(avail) == 100 * 4096 and int(size) == 110 * 4096
    account = json.loads((await sh("cat", str(mnt / ".vipfs" / "account.json"))).stdout)
    assert account["login"] == "tester"
    cat = await sh("cat", str(mnt / "a／b.mp4"))
    assert cat.returncode != 0 and "Permission denied" in cat.stderr
    acl = await sh("getfattr", "-n", "system.posix_acl_access", str(mnt / "a／b.mp4"))
    assert acl.returncode != 0 and "Operation not supported" in acl.stderr
    assert api.count("folder_list") == 2  # root and Season 1, once each
    assert await trio.to_thread.run_sync(os.path.ismount, mnt)
