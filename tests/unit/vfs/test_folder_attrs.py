"""A folder's mode and mtime (issue 10, item 6): chmod, utime and mkdir set them, the metadata
keeps them by fld_id, `stat` shows them after a restart on the same db; rename keeps them, rmdir
drops them; folders nobody touched keep the defaults.

The fake host is the one of tests/unit/vfs/writable.py; a restart is a new facade on the db.
"""

from __future__ import annotations

import stat

from trio.testing import MockClock

from tests.unit.vfs.writable import MTIME, Mount
from vipfs.vfs.filesystem import AttrChanges, Filesystem, Options
from vipfs.vfs.inodes import ROOT_INO, FolderKey
from vipfs.vfs.metadata import Metadata
from vipfs.vfs.metadb import FolderMeta

UNTOUCHED_NS = 7  # a restarted mount's time, far from any time vipfs recorded


async def restart(mount: Mount) -> Filesystem:
    """Stop the facade and start a new one on the same db, whose mount time is UNTOUCHED_NS."""
    mount.stop()
    fs = await mount.start()
    fs.model.mount_time_ns = UNTOUCHED_NS
    return fs


def fld_id_of(fs: Filesystem, ino: int) -> int:
    key = fs.model.node(ino).key
    assert isinstance(key, FolderKey)
    return key.fld_id


async def test_chmod_and_utime_of_a_folder_survive_a_restart(
    mount: Mount, virtual_clock: MockClock
) -> None:
    fs = await mount.start()
    made = await fs.mkdir(ROOT_INO, "Series")
    attr = await fs.setattr(made.ino, AttrChanges(mode=stat.S_IFDIR | 0o750))
    assert stat.S_IMODE(attr.mode) == 0o750 and stat.S_ISDIR(attr.mode)
    attr = await fs.setattr(made.ino, AttrChanges(mtime_ns=MTIME))  # the mode stays
    assert (stat.S_IMODE(attr.mode), attr.mtime_ns) == (0o750, MTIME)
    fs = await restart(mount)
    again = await fs.lookup(ROOT_INO, "Series")
    assert again.is_dir and (stat.S_IMODE(again.mode), again.mtime_ns) == (0o750, MTIME)
    assert (await fs.getattr(again.ino)).mtime_ns == MTIME


async def test_the_root_keeps_what_rsync_sets_on_it(mount: Mount, virtual_clock: MockClock) -> None:
    """`rsync -a SRC/ MNT/` sets the mount point's own mode and times: fld_id 0."""
    fs = await mount.start()
    await fs.setattr(ROOT_INO, AttrChanges(mode=stat.S_IFDIR | 0o700, mtime_ns=MTIME))
    fs = await restart(mount)
    root = await fs.getattr(ROOT_INO)
    assert (stat.S_IMODE(root.mode), root.mtime_ns) == (0o700, MTIME)


async def test_folders_nobody_touched_keep_the_defaults(
    mount: Mount, virtual_clock: MockClock
) -> None:
    mount.api.add_folder("From the website")
    fs = await mount.start()
    fs.model.mount_time_ns = UNTOUCHED_NS
    attr = await fs.lookup(ROOT_INO, "From the website")
    assert (stat.S_IMODE(attr.mode), attr.mtime_ns) == (0o755, UNTOUCHED_NS)  # umask 022
    root = await fs.getattr(ROOT_INO)
    assert (stat.S_IMODE(root.mode), root.mtime_ns) == (0o755, UNTOUCHED_NS)
    assert await mount.db.folders() == []


async def test_a_chmod_alone_leaves_the_default_mtime(
    mount: Mount, virtual_clock: MockClock
) -> None:
    fld_id = mount.api.add_folder("From the website")
    fs = await mount.start()
    attr = await fs.lookup(ROOT_INO, "From the website")
    await fs.setattr(attr.ino, AttrChanges(mode=stat.S_IFDIR | 0o000))  # 0 is a mode too
    assert await mount.db.folders() == [FolderMeta(fld_id, 0o000, None)]
    fs = await restart(mount)
    again = await fs.lookup(ROOT_INO, "From the website")
    assert (stat.S_IMODE(again.mode), again.mtime_ns) == (0o000, UNTOUCHED_NS)


async def test_mkdir_keeps_its_mode_and_creation_time(
    mount: Mount, virtual_clock: MockClock
) -> None:
    fs = await mount.start()
    made = await fs.mkdir(ROOT_INO, "Private", 0o700)
    (kept,) = await mount.db.folders()
    assert kept.mode == 0o700 and kept.mtime_ns is not None
    assert (stat.S_IMODE(made.mode), made.mtime_ns) == (0o700, kept.mtime_ns)
    fs = await restart(mount)
    again = await fs.lookup(ROOT_INO, "Private")
    assert (stat.S_IMODE(again.mode), again.mtime_ns) == (0o700, kept.mtime_ns)
    plain = await fs.mkdir(ROOT_INO, "Plain")  # no mode given (a caller of the facade)
    assert stat.S_IMODE(plain.mode) == 0o755


async def test_a_renamed_or_moved_folder_keeps_its_attributes(
    mount: Mount, virtual_clock: MockClock
) -> None:
    fs = await mount.start()
    made = await fs.mkdir(ROOT_INO, "Old name")
    parent = await fs.mkdir(ROOT_INO, "Parent")
    await fs.setattr(made.ino, AttrChanges(mode=stat.S_IFDIR | 0o711, mtime_ns=MTIME))
    await fs.rename(ROOT_INO, "Old name", parent.ino, "New name")
    fs = await restart(mount)
    parent = await fs.lookup(ROOT_INO, "Parent")
    moved = await fs.lookup(parent.ino, "New name")
    assert (stat.S_IMODE(moved.mode), moved.mtime_ns) == (0o711, MTIME)


async def test_rmdir_drops_the_record(mount: Mount, virtual_clock: MockClock) -> None:
    mount.api.folder_delete_on = True
    fs = await mount.start()
    made = await fs.mkdir(ROOT_INO, "Gone soon")
    await fs.setattr(made.ino, AttrChanges(mtime_ns=MTIME))
    fld_id = fld_id_of(fs, made.ino)
    await fs.rmdir(ROOT_INO, "Gone soon")
    assert await mount.db.folders() == []
    assert fs.remote.writer().metadata.folder(fld_id) is None


async def test_rmdir_into_the_trash_drops_the_record_too(
    mount: Mount, virtual_clock: MockClock
) -> None:
    """Without folder/delete the folder goes into the trash folder, under the same fld_id:
    what chmod/utime set on it was about the tree the user removed it from."""
    fs = await mount.start()
    made = await fs.mkdir(ROOT_INO, "Gone soon")
    await fs.setattr(made.ino, AttrChanges(mtime_ns=MTIME))
    await fs.rmdir(ROOT_INO, "Gone soon")
    assert await mount.db.folders() == []


async def test_a_folder_a_rename_replaces_loses_its_record(
    mount: Mount, virtual_clock: MockClock
) -> None:
    mount.api.folder_delete_on = True
    fs = await mount.start()
    kept = await fs.mkdir(ROOT_INO, "Kept")
    target = await fs.mkdir(ROOT_INO, "Target")
    await fs.setattr(kept.ino, AttrChanges(mtime_ns=MTIME))
    await fs.setattr(target.ino, AttrChanges(mtime_ns=MTIME + 1))
    kept_id = fld_id_of(fs, kept.ino)
    await fs.rename(ROOT_INO, "Kept", ROOT_INO, "Target")
    assert [(r.fld_id, r.mtime_ns) for r in await mount.db.folders()] == [(kept_id, MTIME)]
    assert (await fs.lookup(ROOT_INO, "Target")).mtime_ns == MTIME


async def test_a_read_only_mount_accepts_chmod_of_a_folder_and_keeps_nothing(
    mount: Mount, virtual_clock: MockClock
) -> None:
    mount.api.add_folder("Shown")
    fs = Filesystem(mount.api, options=Options())
    attr = await fs.lookup(ROOT_INO, "Shown")
    after = await fs.setattr(attr.ino, AttrChanges(mode=stat.S_IFDIR | 0o700, mtime_ns=MTIME))
    assert after == attr


async def test_the_metadata_merges_a_folders_changes_and_writes_through(
    mount: Mount, virtual_clock: MockClock
) -> None:
    metadata = Metadata(mount.db)
    await metadata.change_folder(4)  # nothing to set: no row
    assert metadata.folder(4) is None and await mount.db.folders() == []
    await metadata.change_folder(4, mode=0o700)
    await metadata.change_folder(4, mtime_ns=MTIME)
    assert metadata.folder(4) == FolderMeta(4, 0o700, MTIME)
    fresh = Metadata(mount.db)
    await fresh.load()
    assert fresh.folder(4) == FolderMeta(4, 0o700, MTIME)
    await fresh.drop_folder(4)
    await fresh.drop_folder(4)  # already gone: nothing to do
    assert await mount.db.folders() == []
