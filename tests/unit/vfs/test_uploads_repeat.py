"""Same content is not uploaded again (issue 11, item 2): the queue's rule, on the fake host."""

from __future__ import annotations

import stat

import pytest
import trio
from trio.testing import MockClock

from tests.unit.vfs.conftest import Env, eventually
from tests.unit.vfs.writable import MTIME, CloningApi, Mount, names, uploads, write_file
from vipfs.vfs.filesystem import AttrChanges
from vipfs.vfs.inodes import ROOT_INO
from vipfs.vfs.metadb import Upload, UploadState

DATA = b"the same video bytes" * 100


async def _uploaded(env: Env, name: str, data: bytes = DATA, fld_id: int = 0) -> str:
    queue = env.queue
    assert queue is not None
    row = await env.new_file(queue, name, data, fld_id=fld_id)
    await queue.touch(row.id)
    before = len(env.done)
    await eventually(lambda: len(env.done) > before)
    code = env.done[-1].code
    assert code is not None
    return code


async def test_a_temp_file_renamed_onto_its_own_bytes_is_dropped(
    env: Env, virtual_clock: MockClock
) -> None:
    queue = await env.start()
    code = await _uploaded(env, "clip.mp4")
    temp = await env.new_file(queue, ".clip.mp4.Ab12Cd", DATA)
    await queue.set_mode(temp.id, 0o600)
    await queue.touch(temp.id)  # held: a temp name

    row = await queue.repeats(temp.id, code)

    assert row is not None and row.mode == 0o600
    assert queue.get(temp.id) is None
    assert await env.db.get_upload(temp.id) is None
    assert not await trio.Path(temp.spool).exists()
    await trio.sleep(60)
    assert env.api.count("upload_file") == 1  # the first upload only


async def test_other_bytes_or_an_open_writer_are_no_repeat(
    env: Env, virtual_clock: MockClock
) -> None:
    queue = await env.start()
    code = await _uploaded(env, "clip.mp4")
    other = await env.new_file(queue, ".clip.mp4.Xy", DATA[:-1] + b"!")  # same size
    await queue.touch(other.id)
    assert await queue.repeats(other.id, code) is None
    assert queue.get(other.id) is not None
    writing = await env.new_file(queue, ".clip.mp4.Zz", DATA)  # never closed
    assert await queue.repeats(writing.id, code) is None
    assert queue.get(writing.id) is not None
    older = await _uploaded(env, "older.mp4", b"other bytes")
    path = await env.spool.create()
    await env.spool.write(path, 0, DATA)
    over = await queue.enqueue(Upload(spool=path, fld_id=0, name="older.mp4", replaces=older))
    await queue.touch(over.id)  # it overwrote older.mp4: that one goes when it arrives
    assert await queue.repeats(over.id, code) is None
    assert queue.get(over.id) is not None


async def test_a_rewrite_with_the_same_bytes_sends_nothing(
    env: Env, virtual_clock: MockClock
) -> None:
    """O_TRUNC of an uploaded file, written again with its bytes: the known file stands."""
    queue = await env.start()
    code = await _uploaded(env, "clip.mp4")
    path = await env.spool.create()
    await env.spool.write(path, 0, DATA)
    again = await queue.enqueue(Upload(spool=path, fld_id=0, name="clip.mp4", replaces=code))
    await queue.set_times(again.id, 1_700_000_000_000_000_000)
    await queue.set_mode(again.id, 0o640)
    await queue.touch(again.id)
    await eventually(lambda: len(env.done) == 2)

    assert env.done[-1].code == code and env.done[-1].state is UploadState.DONE
    assert env.api.count("upload_file") == 1
    assert env.api.count("file_edit") == 0
    meta = env.metadata.meta(code)
    assert meta is not None and (meta.mtime_ns, meta.mode) == (1_700_000_000_000_000_000, 0o640)


async def test_a_rewrite_renamed_before_its_upload_costs_one_title_edit(
    env: Env, virtual_clock: MockClock
) -> None:
    queue = await env.start()
    code = await _uploaded(env, "clip.mp4")
    path = await env.spool.create()
    await env.spool.write(path, 0, DATA)
    again = await queue.enqueue(Upload(spool=path, fld_id=0, name="clip.mp4", replaces=code))
    await queue.touch(again.id)
    await queue.rename(again.id, "renamed.mp4", 0)
    await eventually(lambda: len(env.done) == 2)

    assert env.done[-1].code == code
    assert env.api.count("upload_file") == 1
    assert env.api.count("file_edit") == 1
    meta = env.metadata.meta(code)
    assert meta is not None and meta.name == "renamed.mp4"


async def test_the_same_bytes_under_another_name_or_folder_are_uploaded(
    env: Env, virtual_clock: MockClock
) -> None:
    await env.start()
    first = await _uploaded(env, "clip.mp4")
    copy = await _uploaded(env, "copy.mp4")
    moved = await _uploaded(env, "clip.mp4", fld_id=7)
    beside = await _uploaded(env, "clip.mp4")  # a second entry of that name: not merged
    assert len({first, copy, moved, beside}) == 4
    assert env.api.count("upload_file") == 4


@pytest.mark.parametrize("trash", [True, False])
async def test_rsync_writing_the_same_bytes_again_keeps_the_file_and_sends_nothing(
    mount: Mount, virtual_clock: MockClock, trash: bool
) -> None:
    """The facade's step: the renamed inode stands for the known file under its name, with the
    temp file's mtime and mode; no upload, no removal, no edit. Even where nothing could be
    removed (no file/delete, --no-trash): nothing needs to be."""
    assert isinstance(mount.api, CloningApi)
    mount.api.file_delete_off = True
    fs = await mount.start(write_back=1.0, trash=trash)
    await write_file(fs, "a.mp4", DATA)
    await eventually(lambda: bool(mount.api.files))
    (code,) = mount.api.files
    calls = len(mount.api.calls)

    temp = await write_file(fs, ".a.mp4.Ab12Cd", DATA, mtime=MTIME)
    await fs.setattr(temp, AttrChanges(mode=0o640), None)
    await fs.rename(ROOT_INO, ".a.mp4.Ab12Cd", ROOT_INO, "a.mp4")
    await trio.sleep(30)

    attr = await fs.lookup(ROOT_INO, "a.mp4")
    assert attr.ino == temp
    assert (attr.mtime_ns, stat.S_IMODE(attr.mode), attr.size) == (MTIME, 0o640, len(DATA))
    assert await fs.getxattr(temp, "user.vipfs.code") == code.encode()
    assert await names(fs) == {"a.mp4": len(DATA)}
    assert uploads(mount.api) == ["a.mp4"]
    sent = {op for op, _ in mount.api.calls[calls:]}
    assert not sent & {"upload_server", "upload_file", "file_edit", "file_delete"}, sent
    assert list(mount.api.files) == [code]


async def test_a_rename_that_overtakes_the_release_still_finds_the_repeat(
    mount: Mount, virtual_clock: MockClock
) -> None:
    """FUSE sends the release after close(2) has returned, and rsync renames at once: the
    rename may be handled first. It waits for that release (briefly), then folds as usual."""
    fs = await mount.start(write_back=1.0)
    await write_file(fs, "a.mp4", DATA)
    await eventually(lambda: bool(mount.api.files))
    opened, attr = await fs.create(ROOT_INO, ".a.mp4.Zz9Yy8", 0o600)
    await fs.write(opened.fh, 0, DATA)
    await fs.flush(opened.fh)  # close(2) has returned; the release is still on its way
    async with trio.open_nursery() as nursery:
        nursery.start_soon(fs.rename, ROOT_INO, ".a.mp4.Zz9Yy8", ROOT_INO, "a.mp4")
        await trio.sleep(0.1)
        await fs.release(opened.fh)
    await trio.sleep(30)
    assert (await fs.lookup(ROOT_INO, "a.mp4")).ino == attr.ino
    assert uploads(mount.api) == ["a.mp4"]  # the first upload only
