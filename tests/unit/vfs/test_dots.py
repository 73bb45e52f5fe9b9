"""readdir yields `.` and `..` first (issue 11, item 7: `ls -la` showed neither), with the
directory's own inode and its parent's, and offsets that stay stable from any `start_id`."""

from __future__ import annotations

import stat

from tests.unit.vfs.fake_api import FakeApi
from tests.unit.vfs.test_filesystem import make
from vipfs.vfs.filesystem import Filesystem
from vipfs.vfs.inodes import ROOT_INO


async def entries(fs: Filesystem, ino: int, start: int = 0) -> list[tuple[str, int, int]]:
    fh = await fs.opendir(ino)
    try:
        return [(e.name, e.attr.ino, e.next_id) for e in fs.readdir(fh, start)]
    finally:
        fs.releasedir(fh)


async def test_dots_come_first_with_the_right_inodes() -> None:
    api = FakeApi()
    series = api.add_folder("Series")
    season = api.add_folder("Season 1", series)
    api.add_file("pilot", season)
    api.add_file("finale", season)
    fs = make(api)
    parent = await fs.lookup(ROOT_INO, "Series")
    folder = await fs.lookup(parent.ino, "Season 1")
    got = await entries(fs, folder.ino)
    assert [(n, i) for n, i, _ in got[:2]] == [(".", folder.ino), ("..", parent.ino)]
    assert [n for n, _, _ in got[2:]] == ["finale.mp4", "pilot.mp4"]
    assert [at for _, _, at in got] == [1, 2, 3, 4]
    fh = await fs.opendir(folder.ino)
    dots = list(fs.readdir(fh, 0))[:2]
    fs.releasedir(fh)
    assert all(stat.S_ISDIR(d.attr.mode) for d in dots)
    # the kernel resumes at any offset it was given: nothing skipped, nothing twice
    assert await entries(fs, folder.ino, 1) == got[1:]
    assert await entries(fs, folder.ino, 2) == got[2:]
    assert await entries(fs, folder.ino, 3) == got[3:]
    assert await entries(fs, folder.ino, 4) == []


async def test_the_roots_parent_is_the_root_and_vipfs_has_dots_too() -> None:
    fs = make(FakeApi())
    root = await entries(fs, ROOT_INO)
    assert root == [(".", ROOT_INO, 1), ("..", ROOT_INO, 2)]  # /.vipfs is not listed
    virtual = await fs.lookup(ROOT_INO, ".vipfs")
    got = await entries(fs, virtual.ino)
    assert got[:2] == [(".", virtual.ino, 1), ("..", ROOT_INO, 2)]
    assert "account.json" in [n for n, _, _ in got[2:]]
