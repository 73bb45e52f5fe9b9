"""The facade's write side against the fake host: handlers awaited directly, virtual time.

Each test plays what a real tool does (rsync's temp name + utime + rename, cp -a's futimens on
the open fd, O_TRUNC overwrites, rm/rmdir/mv) and checks both what the user sees through the
facade and what reached the host.
"""

from __future__ import annotations

import errno
import json
import os
import sqlite3
import stat
from pathlib import Path
from typing import Any

import pytest
import trio
from trio.testing import MockClock

from tests.unit.vfs.conftest import eventually
from tests.unit.vfs.fake_api import FakeFile, FakeFolder, mangle_upload_title
from tests.unit.vfs.writable import MTIME, CloningApi, Mount, names, uploads, write_file
from vipfs.api.errors import (
    NotSentError,
    TooSlowError,
    TransientError,
    UnsupportedError,
)
from vipfs.vfs.errors import VfsError
from vipfs.vfs.filesystem import (
    RENAME_EXCHANGE,
    RENAME_NOREPLACE,
    AttrChanges,
    Filesystem,
)
from vipfs.vfs.holdlist import HoldList
from vipfs.vfs.inodes import ROOT_INO
from vipfs.vfs.names import Titles
from vipfs.vfs.namespace import TRASH
from vipfs.vfs.upload_status import QueueStatus


async def test_a_written_file_shows_at_once_then_uploads_on_the_same_inode(
    mount: Mount, virtual_clock: MockClock
) -> None:
    fs = await mount.start()
    assert await names(fs) == {}
    ino = await write_file(fs, "My_clip.v2.mp4", b"0123456789", mtime=MTIME)
    assert (await names(fs))["My_clip.v2.mp4"] == 10  # before the server has it
    attr = await fs.getattr(ino)
    assert attr.size == 10 and attr.mtime_ns == MTIME and stat.S_IMODE(attr.mode) == 0o600
    assert mount.api.files == {}
    await eventually(lambda: len(mount.api.files) == 1)
    await fs.wait_uploads()
    (stored,) = mount.api.files.values()
    assert stored.data == b"0123456789"  # under the title sent, as the node keeps it, no edit
    assert stored.title == mangle_upload_title(Titles().file_title("My_clip.v2.mp4"))
    assert mount.api.count("file_edit") == 0
    again = await fs.lookup(ROOT_INO, "My_clip.v2.mp4")
    assert again.ino == ino and again.size == 10 and again.mtime_ns == MTIME
    fs.forget_all()  # the listing catches up: still one entry, same name and inode
    assert await names(fs) == {"My_clip.v2.mp4": 10}
    assert (await fs.lookup(ROOT_INO, "My_clip.v2.mp4")).ino == ino
    assert await fs.getxattr(ino, "user.vipfs.code") == stored.code.encode()


async def test_rsync_receiver_sequence_uploads_once_under_the_final_name(
    mount: Mount, virtual_clock: MockClock
) -> None:
    fs = await mount.start()
    sub = await fs.mkdir(ROOT_INO, "Series")
    temp = ".pilot.mkv.Ab12Cd"
    ino = await write_file(fs, temp, b"episode", parent=sub.ino)
    await fs.setattr(ino, AttrChanges(mtime_ns=MTIME))  # utimensat on the temp name
    await fs.setattr(ino, AttrChanges(mode=stat.S_IFREG | 0o644))
    await trio.sleep(30)  # held: the temp name never uploads
    assert uploads(mount.api) == []
    await fs.rename(sub.ino, temp, sub.ino, "pilot.mkv")
    await eventually(lambda: uploads(mount.api) == ["pilot.mkv"])
    await fs.wait_uploads()
    attr = await fs.lookup(sub.ino, "pilot.mkv")
    assert (attr.ino, attr.size, attr.mtime_ns) == (ino, 7, MTIME)
    assert stat.S_IMODE(attr.mode) == 0o644
    fs.forget_all()
    assert await names(fs, sub.ino) == {"pilot.mkv": 7}


async def test_uploaded_files_keep_size_mtime_mode_across_a_restart(
    mount: Mount, virtual_clock: MockClock
) -> None:
    fs = await mount.start()
    await write_file(fs, "a.mp4", b"abc", mtime=MTIME)
    await fs.wait_uploads()
    mount.stop()
    fs = await mount.start()
    attr = await fs.lookup(ROOT_INO, "a.mp4")
    assert (attr.size, attr.mtime_ns) == (3, MTIME)


async def test_pending_uploads_show_and_resume_after_a_restart(
    mount: Mount, virtual_clock: MockClock
) -> None:
    fs = await mount.start(write_back=1000)
    await write_file(fs, "b.mp4", b"data")
    mount.stop()
    fs = await mount.start(write_back=1000)
    assert (await names(fs))["b.mp4"] == 4
    await fs.wait_uploads()
    assert uploads(mount.api) == ["b.mp4"]


async def test_mkdir_and_its_refusals(mount: Mount, virtual_clock: MockClock) -> None:
    fs = await mount.start()
    made = await fs.mkdir(ROOT_INO, "Holiday 2024")
    assert stat.S_ISDIR(made.mode)
    assert [f.name for f in mount.api.folders.values()] == ["Holiday 2024"]
    assert "Holiday 2024" in await names(fs)
    await fs.mkdir(ROOT_INO, "x")  # one character: padded for the host, which wants 2
    assert [f.name for f in mount.api.folders.values()] == ["Holiday 2024", "x＼"]
    assert "x" in await names(fs)
    with pytest.raises(VfsError) as err:
        await fs.mkdir(ROOT_INO, "bad\nname")
    assert err.value.errno == errno.EINVAL
    with pytest.raises(VfsError) as err:
        await fs.mkdir(ROOT_INO, "Holiday 2024")
    assert err.value.errno == errno.EEXIST
    with pytest.raises(VfsError) as err:
        await fs.mkdir(ROOT_INO, ".vipfs")
    assert err.value.errno == errno.EPERM
    assert mount.api.count("folder_create") == 2


async def test_folder_rename_move_and_cycle(mount: Mount, virtual_clock: MockClock) -> None:
    fs = await mount.start()
    a = await fs.mkdir(ROOT_INO, "Alpha")
    b = await fs.mkdir(ROOT_INO, "Beta")
    await fs.rename(ROOT_INO, "Alpha", b.ino, "Gamma")
    folder = next(f for f in mount.api.folders.values() if f.name == "Gamma")
    beta = next(f for f in mount.api.folders.values() if f.name == "Beta")
    (call,) = [args for op, args in mount.api.calls if op == "folder_edit"]
    assert call == {"fld_id": folder.fld_id, "name": "Gamma", "parent_id": beta.fld_id}
    assert folder.parent_id == beta.fld_id
    assert await names(fs, b.ino) == {"Gamma": 0}
    assert "Alpha" not in await names(fs)
    with pytest.raises(VfsError) as err:  # Beta under its own child Gamma
        await fs.rename(ROOT_INO, "Beta", a.ino, "Beta")
    assert err.value.errno == errno.EINVAL
    await fs.rename(b.ino, "Gamma", ROOT_INO, "G")  # padded for the host, as mkdir
    assert folder.name == "G＼" and "G" in await names(fs)
    with pytest.raises(VfsError) as err:
        await fs.rename(ROOT_INO, "G", ROOT_INO, "G\x01")
    assert err.value.errno == errno.EINVAL and folder.name == "G＼"


async def test_a_folder_loop_sent_by_the_host_ends_the_walk_with_eloop(
    mount: Mount, virtual_clock: MockClock
) -> None:
    """The host makes Alpha a child of its own child Beta: no walk up may run forever."""
    fs = await mount.start()
    alpha = await fs.mkdir(ROOT_INO, "Alpha")
    beta = await fs.mkdir(alpha.ino, "Beta")
    await fs.mkdir(ROOT_INO, "Other")
    alpha_id = next(f.fld_id for f in mount.api.folders.values() if f.name == "Alpha")
    beta_id = next(f.fld_id for f in mount.api.folders.values() if f.name == "Beta")
    mount.api.folders[alpha_id].parent_id = beta_id  # Alpha → Beta → Alpha
    fs.forget_all()
    assert (await fs.lookup(beta.ino, "Alpha")).ino == alpha.ino  # Alpha's parent is Beta now
    edits = mount.api.count("folder_edit")
    with trio.fail_after(10), pytest.raises(VfsError) as err:
        await fs.rename(ROOT_INO, "Other", alpha.ino, "Other")
    assert err.value.errno == errno.ELOOP and "loop" in err.value.why
    assert mount.api.count("folder_edit") == edits  # refused before anything changed
    assert "Other" in await names(fs)  # and the mount keeps answering


async def test_file_move_is_one_edit_that_keeps_tags(
    mount: Mount, virtual_clock: MockClock
) -> None:
    fs = await mount.start()
    sub = await fs.mkdir(ROOT_INO, "Dest")
    ino = await write_file(fs, "clip.mp4", b"1234", mtime=MTIME)
    await fs.wait_uploads()
    code = next(iter(mount.api.files))
    await fs.setxattr(ino, "user.vipfs.tags", b"cats,dogs")
    assert mount.api.files[code].tags == "cats,dogs"
    edits_before = mount.api.count("file_edit")
    await fs.rename(ROOT_INO, "clip.mp4", sub.ino, "renamed.mp4")
    assert mount.api.count("file_edit") == edits_before + 1
    stored = mount.api.files[code]
    folder = next(f for f in mount.api.folders.values() if f.name == "Dest")
    assert (stored.title, stored.fld_id, stored.tags) == ("renamed", folder.fld_id, "cats,dogs")
    attr = await fs.lookup(sub.ino, "renamed.mp4")
    assert (attr.ino, attr.size, attr.mtime_ns) == (ino, 4, MTIME)
    assert "clip.mp4" not in await names(fs)


async def test_rename_onto_an_existing_file_replaces_it(
    mount: Mount, virtual_clock: MockClock
) -> None:
    fs = await mount.start()
    await write_file(fs, "old.mp4", b"old")
    await write_file(fs, "new.mp4", b"newer")
    await fs.wait_uploads()
    with pytest.raises(VfsError) as err:
        await fs.rename(ROOT_INO, "new.mp4", ROOT_INO, "old.mp4", RENAME_NOREPLACE)
    assert err.value.errno == errno.EEXIST
    with pytest.raises(VfsError) as err:
        await fs.rename(ROOT_INO, "new.mp4", ROOT_INO, "old.mp4", RENAME_EXCHANGE)
    assert err.value.errno == errno.EINVAL
    await fs.rename(ROOT_INO, "new.mp4", ROOT_INO, "old.mp4")
    (stored,) = mount.api.files.values()
    assert stored.data == b"newer" and stored.title == "old"
    assert await names(fs) == {"old.mp4": 5}


async def test_a_failed_rename_changes_nothing_and_a_failed_replace_hides_nothing(
    mount: Mount, virtual_clock: MockClock
) -> None:
    """Rename does its host calls first: when the move fails, the model is as it was; when
    the move succeeded but the replaced file could not go, both show (neither is hidden)."""
    fs = await mount.start()
    for name in ("a.mp4", "b.mp4", "c.mp4"):
        await write_file(fs, name, name.encode())
    await fs.wait_uploads()
    await fs.unlink(ROOT_INO, "c.mp4")  # file/delete is probed and known from here on
    before = await names(fs)
    mount.api.fail("file_edit", TransientError("connection refused"))
    with pytest.raises(VfsError) as err:
        await fs.rename(ROOT_INO, "b.mp4", ROOT_INO, "a.mp4")
    assert err.value.errno == errno.EIO
    assert await names(fs) == before == {"a.mp4": 5, "b.mp4": 5}
    mount.api.fail("file_delete", TransientError("connection refused"))
    with pytest.raises(VfsError) as err:
        await fs.rename(ROOT_INO, "b.mp4", ROOT_INO, "a.mp4")
    assert err.value.errno == errno.EIO
    assert sorted(f.title for f in mount.api.files.values()) == ["a", "a"]
    shown = await names(fs)
    assert "b.mp4" not in shown and "a.mp4" in shown and len(shown) == 2


async def test_rm_deletes_where_the_host_allows(mount: Mount, virtual_clock: MockClock) -> None:
    fs = await mount.start()
    await write_file(fs, "gone.mp4", b"x")
    await fs.wait_uploads()
    await fs.unlink(ROOT_INO, "gone.mp4")
    assert mount.api.files == {} and mount.api.count("file_delete") == 2  # probe + delete
    assert "gone.mp4" not in await names(fs)
    with pytest.raises(VfsError) as err:
        await fs.unlink(ROOT_INO, "gone.mp4")
    assert err.value.errno == errno.ENOENT


async def test_rmdir_goes_to_the_trash_without_folder_delete(
    mount: Mount, virtual_clock: MockClock
) -> None:
    fs = await mount.start()
    full = await fs.mkdir(ROOT_INO, "Full")
    await fs.mkdir(ROOT_INO, "Empty")
    await write_file(fs, "in.mp4", b"x", parent=full.ino)
    with pytest.raises(VfsError) as err:
        await fs.rmdir(ROOT_INO, "Full")
    assert err.value.errno == errno.ENOTEMPTY
    await fs.rmdir(ROOT_INO, "Empty")
    trash = next(f for f in mount.api.folders.values() if f.name == TRASH)
    empty = next(f for f in mount.api.folders.values() if f.name == "Empty")
    assert empty.parent_id == trash.fld_id  # nothing is lost
    assert "Empty" not in await names(fs)
    assert "Empty" in await names(fs, (await fs.lookup(ROOT_INO, TRASH)).ino)


async def test_no_trash_refuses_with_eperm(mount: Mount, virtual_clock: MockClock) -> None:
    fs = await mount.start(trash=False)
    await fs.mkdir(ROOT_INO, "Keep")
    with pytest.raises(VfsError) as err:
        await fs.rmdir(ROOT_INO, "Keep")
    assert err.value.errno == errno.EPERM and "--no-trash" in err.value.why
    assert "Keep" in await names(fs)


async def test_folder_delete_used_when_offered(mount: Mount, virtual_clock: MockClock) -> None:
    assert isinstance(mount.api, CloningApi)
    mount.api.folder_delete_on = True
    fs = await mount.start()
    await fs.mkdir(ROOT_INO, "Temp")
    await fs.rmdir(ROOT_INO, "Temp")
    assert [f.name for f in mount.api.folders.values()] == []


async def test_unlinking_a_queued_file_sends_nothing(
    mount: Mount, virtual_clock: MockClock
) -> None:
    fs = await mount.start()
    await write_file(fs, "never.mp4", b"data")
    await fs.unlink(ROOT_INO, "never.mp4")
    await trio.sleep(60)
    assert uploads(mount.api) == [] and "never.mp4" not in await names(fs)


async def test_overwrite_replaces_and_in_place_write_is_refused(
    mount: Mount, virtual_clock: MockClock
) -> None:
    fs = await mount.start()
    ino = await write_file(fs, "v.mp4", b"version one")
    await fs.wait_uploads()
    (first,) = mount.api.files
    opened = await fs.open(ino, os.O_WRONLY)  # no O_TRUNC: an in-place change
    with pytest.raises(VfsError) as err:
        await fs.write(opened.fh, 0, b"X")
    assert err.value.errno == errno.EPERM and "in place" in err.value.why
    await fs.release(opened.fh)
    opened = await fs.open(ino, os.O_WRONLY | os.O_TRUNC)
    await fs.write(opened.fh, 0, b"v2")
    await fs.release(opened.fh)
    assert (await fs.getattr(ino)).size == 2
    await fs.wait_uploads()
    await eventually(lambda: first not in mount.api.files)
    (stored,) = mount.api.files.values()
    assert stored.data == b"v2" and stored.title == "v"
    assert await names(fs) == {"v.mp4": 2}
    assert (await fs.lookup(ROOT_INO, "v.mp4")).ino == ino


async def test_the_old_copy_of_an_overwritten_file_shows_in_the_trash_at_once(
    mount: Mount, virtual_clock: MockClock
) -> None:
    assert isinstance(mount.api, CloningApi)
    mount.api.file_delete_off = True
    fs = await mount.start()
    ino = await write_file(fs, "v.mp4", b"version one")
    await fs.wait_uploads()
    (first,) = mount.api.files
    opened = await fs.open(ino, os.O_WRONLY | os.O_TRUNC)
    await fs.write(opened.fh, 0, b"v2")
    await fs.release(opened.fh)
    await fs.wait_uploads()
    trash = next(f for f in mount.api.folders.values() if f.name == TRASH)
    await eventually(lambda: mount.api.files[first].fld_id == trash.fld_id)
    trash_ino = (await fs.lookup(ROOT_INO, TRASH)).ino
    # the old copy, before any listing of the trash: under its name (the db follows it there)
    assert list(await names(fs, trash_ino)) == ["v.mp4"]
    assert await names(fs) == {"v.mp4": 2}  # the trash: by name only, never listed


async def test_truncate_to_zero_on_an_open_handle_replaces(
    mount: Mount, virtual_clock: MockClock
) -> None:
    fs = await mount.start()
    ino = await write_file(fs, "t.mp4", b"long content")
    await fs.wait_uploads()
    opened = await fs.open(ino, os.O_WRONLY)
    with pytest.raises(VfsError):
        await fs.setattr(ino, AttrChanges(size=3), opened.fh)
    await fs.setattr(ino, AttrChanges(size=0), opened.fh)
    await fs.write(opened.fh, 0, b"short")
    await fs.release(opened.fh)
    await fs.wait_uploads()
    await eventually(lambda: len(mount.api.files) == 1)
    assert [f.data for f in mount.api.files.values()] == [b"short"]


async def test_reading_a_file_still_in_the_spool(mount: Mount, virtual_clock: MockClock) -> None:
    fs = await mount.start(write_back=1000)
    ino = await write_file(fs, "r.mp4", b"hello spool")
    opened = await fs.open(ino, os.O_RDONLY)
    assert await fs.read(opened.fh, 6, 100) == b"spool"
    await fs.release(opened.fh)


async def test_fsync_of_a_held_name_stays_in_the_spool(
    mount: Mount, virtual_clock: MockClock
) -> None:
    fs = await mount.start(write_back=0)
    opened, attr = await fs.create(ROOT_INO, ".notes.txt.swp", 0o600)
    await fs.write(opened.fh, 0, b"b0VIM 9.0")
    await fs.fsync(opened.fh)
    await fs.write(opened.fh, 4096, b"more")  # the handle still writes: nothing was sent
    await fs.fsync(opened.fh)
    await fs.release(opened.fh)
    await trio.sleep(60)
    assert uploads(mount.api) == []
    assert await fs.getxattr(attr.ino, "user.vipfs.status") == b"held"
    assert (await names(fs))[".notes.txt.swp"] == 4100


async def test_an_empty_file_is_kept_local_with_a_clear_status(
    mount: Mount, virtual_clock: MockClock
) -> None:
    fs = await mount.start(write_back=0)
    opened, attr = await fs.create(ROOT_INO, "blank.mp4", 0o644)
    await fs.fsync(opened.fh)
    await fs.release(opened.fh)
    await trio.sleep(60)
    assert uploads(mount.api) == []
    why = b"empty: hosts cannot store empty files; kept here, not uploaded"
    assert await fs.getxattr(attr.ino, "user.vipfs.status") == why
    assert (await names(fs))["blank.mp4"] == 0  # still shown
    virt = await fs.lookup(ROOT_INO, ".vipfs")
    st = await fs.lookup(virt.ino, "status.json")
    handle = await fs.open(st.ino, os.O_RDONLY)
    doc = json.loads(await fs.read(handle.fh, 0, 1 << 20))
    assert [(r["name"], r["error"]) for r in doc["queue"]["empty"]] == [
        ("blank.mp4", why.decode().removeprefix("empty: "))
    ]


async def test_an_empty_temp_file_whose_writer_died_goes_after_the_idle_time(
    mount: Mount, virtual_clock: MockClock
) -> None:
    fs = await mount.start(hold=HoldList(idle=600))
    opened, _ = await fs.create(ROOT_INO, ".clip.mp4.Ab12Cd", 0o600)
    await fs.release(opened.fh)  # rsync killed with -9: the kernel closes its file
    assert (await names(fs))[".clip.mp4.Ab12Cd"] == 0
    await trio.sleep(599)
    assert ".clip.mp4.Ab12Cd" in await names(fs)
    await trio.sleep(2)
    await eventually(lambda: fs.queue_status() == QueueStatus([], [], [], [], [], []))
    assert ".clip.mp4.Ab12Cd" not in await names(fs)
    with pytest.raises(VfsError) as gone:
        await fs.lookup(ROOT_INO, ".clip.mp4.Ab12Cd")
    assert gone.value.errno == errno.ENOENT
    assert uploads(mount.api) == []


async def test_fsync_uploads_now_and_reports_failure(
    mount: Mount, virtual_clock: MockClock
) -> None:
    fs = await mount.start(write_back=1000)
    opened, attr = await fs.create(ROOT_INO, "now.mp4", 0o644)
    await fs.write(opened.fh, 0, b"abc")
    await fs.fsync(opened.fh)
    assert uploads(mount.api) == ["now.mp4"]
    await fs.release(opened.fh)
    opened, attr = await fs.create(ROOT_INO, "notes.txt", 0o644)
    await fs.write(opened.fh, 0, b"text")
    with pytest.raises(VfsError) as err:
        await fs.fsync(opened.fh)
    assert err.value.errno == errno.EIO and "Not video file" in err.value.why
    await fs.release(opened.fh)
    status = await fs.getxattr(attr.ino, "user.vipfs.status")
    assert status.startswith(b"failed: Not video file")
    assert (await names(fs))["notes.txt"] == 4  # the data is kept and still shown
    virt = await fs.lookup(ROOT_INO, ".vipfs")
    st = await fs.lookup(virt.ino, "status.json")
    handle = await fs.open(st.ino, os.O_RDONLY)
    doc = json.loads(await fs.read(handle.fh, 0, 1 << 20))
    assert [r["name"] for r in doc["queue"]["failed"]] == ["notes.txt"]
    assert "Not video file" in doc["queue"]["failed"][0]["error"]


async def test_a_too_slow_upload_shows_as_retrying_with_the_reason(
    mount: Mount, virtual_clock: MockClock
) -> None:
    fs = await mount.start(write_back=1)
    slow = TooSlowError("too slow: less than 1024 bytes/s for 60 s", op="upload")
    mount.api.fail("upload_file", slow)
    ino = await write_file(fs, "slow.mp4", b"abc")
    with trio.fail_after(100):  # virtual seconds: the first attempt fails at once
        while not (status := await fs.getxattr(ino, "user.vipfs.status")).startswith(b"retry"):  # noqa: ASYNC110
            await trio.sleep(0.05)
    assert (
        status == b"retrying: upload: too slow: less than 1024 bytes/s for 60 s (1 attempt failed)"
    )
    await fs.wait_uploads()  # retried later, and this time it lands
    assert uploads(mount.api) == ["slow.mp4", "slow.mp4"]


async def test_sync_uploads_makes_close_upload(mount: Mount, virtual_clock: MockClock) -> None:
    fs = await mount.start(write_back=1000, sync_uploads=True)
    opened, _ = await fs.create(ROOT_INO, "bad.txt", 0o644)
    await fs.write(opened.fh, 0, b"x")
    with pytest.raises(VfsError) as err:
        await fs.flush(opened.fh)
    assert err.value.errno == errno.EIO
    await fs.release(opened.fh)
    await write_file(fs, "good.mp4", b"y")
    assert "good.mp4" in uploads(mount.api)
    assert len(mount.api.files) == 1


async def test_setxattr_edits_and_refusals(mount: Mount, virtual_clock: MockClock) -> None:
    fs = await mount.start()
    ino = await write_file(fs, "x.mp4", b"z")
    await fs.wait_uploads()
    (code,) = mount.api.files
    await fs.setxattr(ino, "user.vipfs.tags", b"a,b")
    await fs.setxattr(ino, "user.vipfs.descr", b"about (it)")
    await fs.setxattr(ino, "user.vipfs.public", b"1")
    assert mount.api.files[code].tags == "a,b"  # the descr edit resent them
    assert mount.api.files[code].descr == "about &#40;it&#41;"
    assert await fs.getxattr(ino, "user.vipfs.tags") == b"a,b"  # read back from file/info
    assert await fs.getxattr(ino, "user.vipfs.descr") == b"about (it)"
    with pytest.raises(VfsError) as err:
        await fs.setxattr(ino, "user.vipfs.public", b"maybe")
    assert err.value.errno == errno.EINVAL
    with pytest.raises(VfsError) as err:
        await fs.setxattr(ino, "user.vipfs.code", b"zzz")
    assert err.value.errno == errno.EPERM
    with pytest.raises(VfsError) as err:
        await fs.setxattr(ino, "system.posix_acl_access", b"")
    assert err.value.errno == errno.ENOTSUP
    folder = await fs.mkdir(ROOT_INO, "Docs")
    await fs.setxattr(folder.ino, "user.vipfs.descr", b"folder words")
    assert mount.api.calls[-1][0] == "folder_edit"


async def test_clone_into_a_folder_under_a_name(mount: Mount, virtual_clock: MockClock) -> None:
    fs = await mount.start()
    await write_file(fs, "src.mp4", b"bytes", mtime=MTIME)
    await fs.wait_uploads()
    (code,) = mount.api.files
    dest = await fs.mkdir(ROOT_INO, "Copies")
    request = json.dumps({"code": code, "name": "copy.mp4"}).encode()
    await fs.setxattr(dest.ino, "user.vipfs.clone", request)
    clone = await fs.lookup(dest.ino, "copy.mp4")
    assert (clone.size, clone.mtime_ns) == (5, MTIME)
    copies = [f for f in mount.api.files.values() if f.code != code]
    folder = next(f for f in mount.api.folders.values() if f.name == "Copies")
    assert [(f.title, f.fld_id) for f in copies] == [("copy", folder.fld_id)]


async def test_a_fresh_clone_has_its_attributes_at_once(
    mount: Mount, virtual_clock: MockClock
) -> None:
    fs = await mount.start()
    dest = await fs.mkdir(ROOT_INO, "Copies")
    src = await write_file(fs, "src.mp4", b"bytes", parent=dest.ino)
    await fs.wait_uploads()
    (code,) = mount.api.files
    assert await fs.getxattr(src, "user.vipfs.title") == b"src"  # the folder's file/info cached
    request = json.dumps({"code": code, "name": "copy.mp4"}).encode()
    await fs.setxattr(dest.ino, "user.vipfs.clone", request)
    clone = await fs.lookup(dest.ino, "copy.mp4")
    assert await fs.getxattr(clone.ino, "user.vipfs.title") == b"copy"


async def test_a_foreign_file_rename_keeps_the_written_name(
    mount: Mount, virtual_clock: MockClock
) -> None:
    mount.api.files["abc"] = FakeFile("abc", "Old Title", 0, b"", "x.mp4", 1, tags="t1")
    mount.api.folders[5] = FakeFolder(5, "Other", 0)
    fs = await mount.start()
    assert "Old Title.mp4" in await names(fs)  # the default extension
    await fs.rename(ROOT_INO, "Old Title.mp4", ROOT_INO, "New Name.mp4")
    assert mount.api.files["abc"].title == "New Name" and mount.api.files["abc"].tags == "t1"
    assert "New Name.mp4" in await names(fs)
    await fs.setattr((await fs.lookup(ROOT_INO, "New Name.mp4")).ino, AttrChanges(mtime_ns=MTIME))
    assert (await fs.lookup(ROOT_INO, "New Name.mp4")).mtime_ns == MTIME


async def test_rename_onto_a_file_that_cannot_go_is_refused_first(
    mount: Mount, virtual_clock: MockClock
) -> None:
    fs = await mount.start(trash=False)
    await write_file(fs, "keep.mp4", b"keep")
    await write_file(fs, "other.mp4", b"other")
    await fs.wait_uploads()
    mount.api.fail("file_delete", UnsupportedError("This function not allowed in API"), 5)
    with pytest.raises(VfsError) as err:
        await fs.rename(ROOT_INO, "other.mp4", ROOT_INO, "keep.mp4")
    assert err.value.errno == errno.EPERM
    assert sorted(f.title for f in mount.api.files.values()) == ["keep", "other"]
    assert sorted(await names(fs)) == ["keep.mp4", "other.mp4"]


async def test_a_lagging_or_stale_listing_does_not_undo_our_changes(
    mount: Mount, virtual_clock: MockClock
) -> None:
    assert isinstance(mount.api, CloningApi)
    fs = await mount.start()
    await write_file(fs, "old.mp4", b"1")
    await fs.wait_uploads()
    ((code, stored),) = mount.api.files.items()
    await fs.unlink(ROOT_INO, "old.mp4")
    mount.api.files[code] = stored  # a stale read: the host still lists what was deleted
    mount.api.lagging, mount.api.lag_from = True, stored.created + 1  # newer ones: not yet
    await write_file(fs, "new.mp4", b"22")
    await fs.wait_uploads()
    fs.forget_all()
    assert await names(fs) == {"new.mp4": 2}
    await trio.sleep(3600)  # past the journal's hold: the host's word is final again
    fs.forget_all()
    assert await names(fs) == {"old.mp4": 0}


async def test_mkdir_after_a_lost_answer_adopts_the_folder_it_made(
    mount: Mount, virtual_clock: MockClock
) -> None:
    fs = await mount.start()
    api = mount.api
    real_create = api.folder_create

    async def lose_answer(name: str, parent_id: int = 0, *, descr: str | None = None) -> int:
        await real_create(name, parent_id)
        raise TransientError("connection reset by peer")

    api.folder_create = lose_answer  # type: ignore[method-assign]
    made = await fs.mkdir(ROOT_INO, "Once")
    assert [f.name for f in api.folders.values()] == ["Once"]
    assert made.ino == (await fs.lookup(ROOT_INO, "Once")).ino
    api.fail("folder_list", TransientError("down"), 10)
    api.folder_create = real_create  # type: ignore[method-assign]
    api.fail("folder_create", NotSentError("refused"), 1)
    await fs.mkdir(ROOT_INO, "Twice")  # a connect failure: the retry cannot duplicate
    assert sorted(f.name for f in api.folders.values()) == ["Once", "Twice"]


async def test_tags_set_by_xattr_survive_a_rename_and_an_overwrite(
    mount: Mount, virtual_clock: MockClock
) -> None:
    fs = await mount.start()
    ino = await write_file(fs, "t.mp4", b"1")
    await fs.wait_uploads()
    await fs.setxattr(ino, "user.vipfs.tags", b"first")
    await fs.setxattr(ino, "user.vipfs.tags", b"second")
    await fs.rename(ROOT_INO, "t.mp4", ROOT_INO, "u.mp4")
    await fs.setxattr(ino, "user.vipfs.public", b"0")
    opened = await fs.open(ino, os.O_WRONLY | os.O_TRUNC)
    await fs.write(opened.fh, 0, b"22")
    await fs.release(opened.fh)
    await fs.wait_uploads()
    await eventually(lambda: len(mount.api.files) == 1)
    (stored,) = mount.api.files.values()
    assert (stored.data, stored.title, stored.tags) == (b"22", "u", "second")


async def test_reopening_a_queued_file_appends_to_the_same_upload(
    mount: Mount, virtual_clock: MockClock
) -> None:
    fs = await mount.start()
    ino = await write_file(fs, "grow.mp4", b"abc")
    opened = await fs.open(ino, os.O_WRONLY | os.O_APPEND)
    await fs.write(opened.fh, 3, b"def")
    await trio.sleep(60)  # still open: no upload timer runs
    assert uploads(mount.api) == []
    await fs.release(opened.fh)
    await fs.wait_uploads()
    assert [f.data for f in mount.api.files.values()] == [b"abcdef"]
    assert uploads(mount.api) == ["grow.mp4"]


async def test_truncating_a_file_mid_upload_restarts_its_upload(
    mount: Mount, virtual_clock: MockClock
) -> None:
    fs = await mount.start(write_back=0)
    gate = trio.Event()
    mount.api.upload_gate = gate
    ino = await write_file(fs, "busy.mp4", b"first")
    await eventually(lambda: uploads(mount.api) == ["busy.mp4"])

    async def release_later() -> None:
        await trio.sleep(5)
        gate.set()

    async with trio.open_nursery() as nursery:
        nursery.start_soon(release_later)
        opened = await fs.open(ino, os.O_WRONLY | os.O_TRUNC)
    mount.api.upload_gate = None
    await fs.write(opened.fh, 0, b"second")
    await fs.release(opened.fh)
    await fs.wait_uploads()
    await eventually(lambda: len(mount.api.files) == 1)
    assert [f.data for f in mount.api.files.values()] == [b"second"]


async def test_folders_accept_chmod_and_utime_and_attrs_cannot_be_removed(
    mount: Mount, virtual_clock: MockClock
) -> None:
    fs = await mount.start()
    folder = await fs.mkdir(ROOT_INO, "Dir")
    attr = await fs.setattr(folder.ino, AttrChanges(mode=0o40700, mtime_ns=MTIME))
    assert stat.S_ISDIR(attr.mode)  # rsync -a sets these on folders: never an error
    with pytest.raises(VfsError) as err:
        await fs.removexattr(folder.ino, "user.vipfs.descr")
    assert err.value.errno == errno.EPERM


async def test_url_upload_is_recorded_then_sent_by_the_queue(
    mount: Mount, virtual_clock: MockClock
) -> None:
    fs = await mount.start()
    folder = await fs.mkdir(ROOT_INO, "Fetched")
    await fs.setxattr(folder.ino, "user.vipfs.url_upload", b"http://127.0.0.1/x.mp4")
    urls = fs.remote.writer().urls
    for _ in range(50):  # the queue's background round sends it; the fake host has no upload/url
        if urls.status_json()[0]["state"] == "failed":
            break
        await trio.sleep(1)
    (row,) = urls.status_json()
    assert row["state"] == "failed" and "takes no URL uploads" in row["error"]
    assert ("upload_url", {"url": "http://127.0.0.1/x.mp4"}) in mount.api.calls
    with pytest.raises(VfsError) as err:
        await fs.setxattr(folder.ino, "user.vipfs.url_upload", b"ftp://127.0.0.1/x.mp4")
    assert err.value.errno == errno.EINVAL


async def test_rsync_update_of_a_queued_file_keeps_one_entry_under_its_name(
    mount: Mount, virtual_clock: MockClock
) -> None:
    fs = await mount.start(write_back=1000)
    await write_file(fs, "same.mp4", b"old")
    assert await names(fs) == {"same.mp4": 3}
    await write_file(fs, ".same.mp4.Qw3rTy", b"newer")
    await fs.rename(ROOT_INO, ".same.mp4.Qw3rTy", ROOT_INO, "same.mp4")
    assert await names(fs) == {"same.mp4": 5}
    await fs.wait_uploads()
    assert [f.data for f in mount.api.files.values()] == [b"newer"]
    fs.forget_all()
    assert await names(fs) == {"same.mp4": 5}


async def test_stat_during_the_last_close_shows_the_written_size(
    mount: Mount, virtual_clock: MockClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    fs = await mount.start()
    assert fs.remote.writes is not None
    queue = fs.remote.writes.queue
    real_touch = queue.touch
    sizes: list[int] = []

    async def slow_touch(upload_id: int) -> Any:
        await trio.sleep(1)  # the row does not have the size yet
        sizes.append((await fs.getattr(ino)).size)
        return await real_touch(upload_id)

    monkeypatch.setattr(queue, "touch", slow_touch)
    opened, attr = await fs.create(ROOT_INO, "s.mp4", 0o644)
    ino = attr.ino
    await fs.write(opened.fh, 0, b"12345")
    await fs.release(opened.fh)
    assert sizes == [5] and (await fs.getattr(ino)).size == 5


async def test_create_of_a_name_that_exists_opens_it_unless_exclusive(
    mount: Mount, virtual_clock: MockClock
) -> None:
    fs = await mount.start()
    ino = await write_file(fs, "there.mp4", b"old bytes")
    with pytest.raises(VfsError) as err:
        await fs.create(ROOT_INO, "there.mp4", 0o644, os.O_WRONLY | os.O_CREAT | os.O_EXCL)
    assert err.value.errno == errno.EEXIST
    opened, attr = await fs.create(ROOT_INO, "there.mp4", 0o644, os.O_WRONLY | os.O_TRUNC)
    assert attr.ino == ino
    await fs.write(opened.fh, 0, b"new")
    await fs.release(opened.fh)
    await fs.wait_uploads()
    assert [f.data for f in mount.api.files.values()] == [b"new"]


async def status_json(fs: Filesystem) -> dict[str, Any]:
    virt = await fs.lookup(ROOT_INO, ".vipfs")
    st = await fs.lookup(virt.ino, "status.json")
    handle = await fs.open(st.ino, os.O_RDONLY)
    return dict(json.loads(await fs.read(handle.fh, 0, 1 << 20)))


async def test_a_full_spool_disk_is_enospc_and_the_file_stays_incomplete(
    mount: Mount, virtual_clock: MockClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    fs = await mount.start(write_back=1)
    opened, attr = await fs.create(ROOT_INO, "big.mp4", 0o644)
    await fs.write(opened.fh, 0, b"the first part")
    real = os.pwrite

    def full(fd: int, data: object, offset: int) -> int:
        if offset > 0:
            raise OSError(errno.ENOSPC, "No space left on device")
        return real(fd, data, offset)  # type: ignore[arg-type]

    monkeypatch.setattr(os, "pwrite", full)
    with pytest.raises(VfsError) as caught:
        await fs.write(opened.fh, 14, b" and the rest")
    assert caught.value.errno == errno.ENOSPC
    monkeypatch.setattr(os, "pwrite", real)
    await fs.flush(opened.fh)
    await fs.release(opened.fh)
    await trio.sleep(60)
    assert uploads(mount.api) == []  # never uploaded as complete
    status = await fs.getxattr(attr.ino, "user.vipfs.status")
    assert status == b"incomplete: a write failed: No space left on device"
    assert (await names(fs))["big.mp4"] == 14  # kept, with what it holds
    doc = await status_json(fs)
    assert [r["name"] for r in doc["queue"]["incomplete"]] == ["big.mp4"]
    with pytest.raises(VfsError) as caught:  # fsync says it is not on the host
        opened = await fs.open(attr.ino, os.O_WRONLY)
        await fs.write(opened.fh, 14, b"!")
        await fs.fsync(opened.fh)
    assert caught.value.errno == errno.EIO
    await fs.release(opened.fh)

    opened = await fs.open(attr.ino, os.O_WRONLY | os.O_TRUNC)  # cp over it: a new file
    await fs.write(opened.fh, 0, b"whole")
    await fs.release(opened.fh)
    await eventually(lambda: uploads(mount.api) == ["big.mp4"])
    assert [f.data for f in mount.api.files.values()] == [b"whole"]


async def test_status_json_lists_lost_found(
    mount: Mount, virtual_clock: MockClock, tmp_path: Path
) -> None:
    (tmp_path / "lost+found").mkdir(mode=0o700)
    (tmp_path / "lost+found" / "0123456789abcdef.spool").write_bytes(b"orphan")
    fs = await mount.start(write_back=1)
    doc = await status_json(fs)
    assert doc["lost_found"] == {
        "dir": str(tmp_path / "lost+found"),
        "files": ["0123456789abcdef.spool"],
    }


async def test_a_full_db_disk_at_create_is_enospc_and_leaves_no_spool_file(
    mount: Mount, virtual_clock: MockClock, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    fs = await mount.start(write_back=1)
    full = sqlite3.OperationalError("database or disk is full")
    full.sqlite_errorcode = 13

    async def refuse(upload: object) -> object:
        raise full

    monkeypatch.setattr(mount.db, "add_upload", refuse)
    with pytest.raises(VfsError) as caught:
        await fs.create(ROOT_INO, "new.mp4", 0o644)
    assert caught.value.errno == errno.ENOSPC
    assert os.listdir(tmp_path / "spool") == []


async def test_status_json_names_the_folder_of_each_queued_file(
    mount: Mount, virtual_clock: MockClock
) -> None:
    """`vipfs status` shows where a queued file lives, not only its name."""
    fs = await mount.start(write_back=60)
    series = await fs.mkdir(ROOT_INO, "Series")
    season = await fs.mkdir(series.ino, "Season 1")
    for parent in (ROOT_INO, season.ino):
        opened, _ = await fs.create(parent, "ep.mp4", 0o644)
        await fs.write(opened.fh, 0, b"x")  # an empty file would stay local, not queued
        await fs.release(opened.fh)
    doc = await status_json(fs)
    assert [r["dir"] for r in doc["queue"]["queued"]] == ["", "Series/Season 1"]
