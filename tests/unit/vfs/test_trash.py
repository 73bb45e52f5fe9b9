"""The trash folder (issue 11, item 1): what `rm` does inside it, and what it shows.

Where the host cannot delete, removal moves an entry into `vipfs-trash`; inside the trash it
would move it where it already is, so there it is refused with EPERM, before any call. Where the
host can delete, removal inside the trash deletes as anywhere else.
"""

from __future__ import annotations

import errno
import os

import pytest
from trio.testing import MockClock

from tests.unit.vfs.conftest import eventually
from tests.unit.vfs.writable import CloningApi, Mount, names, write_file
from vipfs.vfs.errors import VfsError
from vipfs.vfs.inodes import ROOT_INO
from vipfs.vfs.namespace import TRASH


def host(mount: Mount) -> CloningApi:
    assert isinstance(mount.api, CloningApi)
    return mount.api


async def test_rm_inside_the_trash_is_refused_without_a_call_where_the_host_cannot_delete(
    mount: Mount, virtual_clock: MockClock
) -> None:
    host(mount).file_delete_off = True
    fs = await mount.start()
    await write_file(fs, "a.mp4", b"x")
    await fs.wait_uploads()
    await fs.unlink(ROOT_INO, "a.mp4")  # into the trash: probe, then file/edit
    trash = await fs.lookup(ROOT_INO, TRASH)
    calls = len(mount.api.calls)
    for _ in range(2):
        with pytest.raises(VfsError) as err:
            await fs.unlink(trash.ino, "a.mp4")
        assert err.value.errno == errno.EPERM
        assert err.value.why == (
            f"nothing in {TRASH} can be removed: this host offers no file/delete; "
            "empty it on the website"
        )  # one wording for every file: logged once
    assert mount.api.calls[calls:] == []
    assert list(await names(fs, trash.ino)) == ["a.mp4"]


async def test_a_trash_from_an_earlier_mount_is_known_by_its_name(
    mount: Mount, virtual_clock: MockClock
) -> None:
    api = host(mount)
    api.file_delete_off = True
    trash = api.add_folder(TRASH)
    deeper = api.add_folder("Album", trash)
    api.add_file("old", deeper)
    fs = await mount.start()
    trash_ino = (await fs.lookup(ROOT_INO, TRASH)).ino
    album = await fs.lookup(trash_ino, "Album")
    await names(fs, album.ino)
    with pytest.raises(VfsError) as err:  # deeper in the trash too (probe: file/delete)
        await fs.unlink(album.ino, "old.mp4")
    assert err.value.errno == errno.EPERM
    assert api.count("file_edit") == 0 and api.count("folder_edit") == 0
    assert [f.fld_id for f in api.files.values()] == [deeper]


async def test_rmdir_of_an_empty_trash_never_moves_it_into_itself(
    mount: Mount, virtual_clock: MockClock
) -> None:
    api = host(mount)  # no folder/delete
    api.add_folder(TRASH)
    fs = await mount.start()
    with pytest.raises(VfsError) as err:
        await fs.rmdir(ROOT_INO, TRASH)
    assert err.value.errno == errno.EPERM and "folder/delete" in err.value.why
    assert api.count("folder_edit") == 0 and (await fs.lookup(ROOT_INO, TRASH)).ino


async def test_rm_inside_the_trash_deletes_where_the_host_can(
    mount: Mount, virtual_clock: MockClock
) -> None:
    api = host(mount)
    api.folder_delete_on = True
    trash = api.add_folder(TRASH)
    api.add_file("old", trash)
    fs = await mount.start()
    trash_ino = (await fs.lookup(ROOT_INO, TRASH)).ino
    await fs.unlink(trash_ino, "old.mp4")
    await fs.rmdir(ROOT_INO, TRASH)
    assert api.files == {} and api.folders == {}


async def test_a_trashed_file_keeps_its_name_and_size(
    mount: Mount, virtual_clock: MockClock
) -> None:
    host(mount).file_delete_off = True
    fs = await mount.start()
    name = "My_clip.v2.mp4"  # a name the host's title alone would not give back
    await write_file(fs, name, b"0123456789")
    ino = await write_file(fs, "v.mp4", b"version one")
    await fs.wait_uploads()
    await fs.unlink(ROOT_INO, name)
    opened = await fs.open(ino, os.O_WRONLY | os.O_TRUNC)  # the old copy goes into the trash
    await fs.write(opened.fh, 0, b"v2")
    await fs.release(opened.fh)
    await fs.wait_uploads()
    trash = (await fs.lookup(ROOT_INO, TRASH)).ino
    await eventually(lambda: len([f for f in mount.api.files.values() if f.fld_id != 0]) == 2)
    expected = {name: 10, "v.mp4": 11}
    assert await names(fs, trash) == expected  # at once
    fs.forget_all()  # and from the host's listing of the trash
    trash = (await fs.lookup(ROOT_INO, TRASH)).ino
    assert await names(fs, trash) == expected
    assert await names(fs) == {"v.mp4": 2}  # the trash: by name only, never listed


async def test_the_trash_is_reachable_by_name_but_never_listed(
    mount: Mount, virtual_clock: MockClock
) -> None:
    """`rsync --delete` and `rm -r *` of the root must never see the trash: they would try to
    empty it (EPERM where the host cannot delete, the user's safety net gone where it can)."""
    api = host(mount)
    api.add_folder(TRASH)
    api.add_folder("Shows")
    fs = await mount.start()
    assert set(await names(fs)) == {"Shows"}
    assert (await fs.lookup(ROOT_INO, TRASH)).ino != ROOT_INO
