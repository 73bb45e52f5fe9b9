"""MirrorFs over two fake hosts: the union tree, xattrs, journal and replay, the spool sharing."""

from __future__ import annotations

import errno
import json
import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import trio
import trio.lowlevel
import trio.testing
from trio.testing import MockClock

from tests.unit.vfs.conftest import eventually
from tests.unit.vfs.writable import CloningApi, names, uploads, write_file
from vipfs.api.errors import TransientError
from vipfs.vfs.attrs import Owner
from vipfs.vfs.errors import VfsError
from vipfs.vfs.features import HostFeatures
from vipfs.vfs.filesystem import Filesystem, Options, WriteSetup
from vipfs.vfs.inodes import ROOT_INO, FileKey, QueuedKey
from vipfs.vfs.metadb import MetaDb
from vipfs.vfs.mirror import ON_HOST, Member, MirrorFs, _note
from vipfs.vfs.mirror_journal import MirrorJournal, set_aside
from vipfs.vfs.spool import Spool

DOWN = TransientError("connection refused")


class Rig:
    """Two member stacks (vip, wish) on fake hosts, each with its own db and spool, and the
    mirror over them; `start()` may run again on the same state (a restart)."""

    def __init__(self, tmp_path: Path, nursery: trio.Nursery) -> None:
        self.tmp_path = tmp_path
        self.nursery = nursery
        self.apis = {"vip": CloningApi(), "wish": CloningApi()}
        self.dbs: dict[str, MetaDb] = {}
        self.scope: trio.CancelScope | None = None

    def spool_dir(self, name: str) -> Path:
        return self.tmp_path / name / "spool"

    async def start(self) -> MirrorFs:
        members = []
        for name, api in self.apis.items():
            if name not in self.dbs:
                (self.tmp_path / name).mkdir()
                self.dbs[name] = await MetaDb.open(self.tmp_path / name / "meta.db")
            setup = WriteSetup(
                db=self.dbs[name],
                spool=Spool(self.spool_dir(name)),
                features=HostFeatures(),
                clock=trio.current_time,
            )
            options = Options(owner=Owner(0, 0, 0o022))
            fs = Filesystem(api, options=options, writes=setup, clock=trio.current_time)
            members.append(Member(name, fs))
        mirror = MirrorFs(members, self.tmp_path / "mirror-all", Options(owner=Owner(0, 0)))

        async def serve(*, task_status: trio.TaskStatus[None]) -> None:
            with trio.CancelScope() as scope:
                self.scope = scope
                await mirror.run(task_status=task_status)

        await self.nursery.start(serve)
        return mirror

    def stop(self) -> None:
        assert self.scope is not None
        self.scope.cancel()

    async def close(self) -> None:
        for db in self.dbs.values():
            await db.close()


@pytest.fixture
async def rig(
    tmp_path: Path, nursery: trio.Nursery, virtual_clock: trio.testing.MockClock
) -> AsyncIterator[Rig]:
    r = Rig(tmp_path, nursery)
    yield r
    if r.scope is not None:
        r.stop()
        await trio.lowlevel.checkpoint()
    await r.close()


async def xattr(fs: MirrorFs, ino: int, name: str) -> str:
    return (await fs.getxattr(ino, name)).decode()


async def test_one_tree_is_the_union_of_the_members(rig: Rig, virtual_clock: MockClock) -> None:
    vip, wish = rig.apis["vip"], rig.apis["wish"]
    for api, own in ((vip, "a.mp4"), (wish, "b.mp4")):
        api.add_file(own.removesuffix(".mp4"), api.add_folder("Shared"))
    only_code = wish.add_file("only-wish")
    fs = await rig.start()
    top = await names(fs)  # type: ignore[arg-type]
    assert {"Shared", "only-wish.mp4"} <= set(top)
    shared = await fs.lookup(ROOT_INO, "Shared")
    assert shared.is_dir
    assert set(await names(fs, shared.ino)) == {"a.mp4", "b.mp4"}  # type: ignore[arg-type]
    only = await fs.lookup(ROOT_INO, "only-wish.mp4")
    assert await xattr(fs, only.ino, "user.vipfs.code") == only_code


async def test_xattrs_per_member_and_where_missing(rig: Rig, virtual_clock: MockClock) -> None:
    vip, wish = rig.apis["vip"], rig.apis["wish"]
    both_vip = vip.add_file("both")
    both_wish = wish.add_file("both")
    vip.add_file("lonely")
    fs = await rig.start()
    assert await xattr(fs, ROOT_INO, "user.vipfs.members") == "vip,wish"
    both = await fs.lookup(ROOT_INO, "both.mp4")
    assert await xattr(fs, both.ino, "user.vipfs.vip.code") == both_vip
    assert await xattr(fs, both.ino, "user.vipfs.wish.code") == both_wish
    assert await xattr(fs, both.ino, "user.vipfs.code") == both_vip  # the first member's
    assert await xattr(fs, both.ino, "user.vipfs.status") == "ready"
    lonely = await fs.lookup(ROOT_INO, "lonely.mp4")
    assert await xattr(fs, lonely.ino, "user.vipfs.status") == "ready; missing on wish"
    assert await xattr(fs, lonely.ino, "user.vipfs.wish.status") == "missing"
    with pytest.raises(VfsError) as err:
        await fs.getxattr(lonely.ino, "user.vipfs.wish.code")
    assert err.value.errno == errno.ENODATA
    listed = await fs.listxattr(lonely.ino)
    assert "user.vipfs.vip.link" in listed and "user.vipfs.wish.status" in listed
    assert "user.vipfs.wish.code" not in listed


async def test_a_down_member_is_journaled_then_replayed_in_order(
    rig: Rig, virtual_clock: MockClock
) -> None:
    vip, wish = rig.apis["vip"], rig.apis["wish"]
    fs = await rig.start()
    wish.fail_all = DOWN
    made = await fs.mkdir(ROOT_INO, "New")
    assert made.is_dir
    await fs.rename(ROOT_INO, "New", ROOT_INO, "Newer")
    assert [f.name for f in vip.folders.values()] == ["Newer"]
    assert fs.journal.count("wish") == 2
    assert (await fs.status_json())["journal"] == {"vip": 0, "wish": 2}
    assert "Newer" in await names(fs)  # type: ignore[arg-type]  (a down member hides nothing)
    wish.fail_all = None
    await eventually(lambda: fs.journal.count("wish") == 0)
    assert [f.name for f in wish.folders.values()] == ["Newer"]
    ops = [op for op, _ in wish.calls if op in ("folder_create", "folder_edit")]
    assert ops == ["folder_create", "folder_edit"]


async def test_every_member_refusing_gives_that_errno(rig: Rig, virtual_clock: MockClock) -> None:
    for api in rig.apis.values():
        api.add_folder("Taken")
    fs = await rig.start()
    with pytest.raises(VfsError) as err:
        await fs.mkdir(ROOT_INO, "Taken")  # every member refuses it
    assert err.value.errno == errno.EEXIST
    assert fs.journal.count("vip") == fs.journal.count("wish") == 0


async def test_a_written_file_is_shared_by_hard_link_and_uploaded_once_each(
    rig: Rig, virtual_clock: MockClock
) -> None:
    vip, wish = rig.apis["vip"], rig.apis["wish"]
    fs = await rig.start()
    ino = await write_file(fs, "clip.mp4", b"the one copy")  # type: ignore[arg-type]
    await eventually(lambda: fs.journal.count("wish") == 0)
    vip_spool = list(rig.spool_dir("vip").glob("*.spool"))
    wish_spool = list(rig.spool_dir("wish").glob("*.spool"))
    assert len(vip_spool) == len(wish_spool) == 1
    assert os.stat(vip_spool[0]).st_ino == os.stat(wish_spool[0]).st_ino  # one copy of the bytes
    assert "queued" in await xattr(fs, ino, "user.vipfs.wish.status")
    await eventually(lambda: bool(uploads(vip)) and bool(uploads(wish)))
    await eventually(lambda: not list(rig.spool_dir("wish").glob("*.spool")))
    assert [f.data for f in vip.files.values()] == [b"the one copy"]
    assert [f.data for f in wish.files.values()] == [b"the one copy"]
    assert not list((rig.tmp_path / "mirror-all" / "share").iterdir())  # the stash is gone


async def test_a_shared_spool_file_is_copied_before_it_changes(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "spool")
    path = await spool.create()
    await spool.write(path, 0, b"first")
    other = tmp_path / "other.spool"
    os.link(path, other)
    await spool.open(path)  # an open descriptor moves to the private copy too
    await spool.unshare(path)
    await spool.write(path, 0, b"SECOND")
    await spool.release(path)
    assert other.read_bytes() == b"first"
    assert path.read_bytes() == b"SECOND"
    assert os.stat(path).st_nlink == 1


async def test_a_reopen_for_writing_never_changes_another_members_bytes(
    rig: Rig, virtual_clock: MockClock
) -> None:
    fs = await rig.start()
    rig.apis["vip"].upload_gate = rig.apis["wish"].upload_gate = trio.Event()  # hold uploads
    await write_file(fs, ".clip.mp4.AbCdEf", b"old bytes")  # type: ignore[arg-type]  (held)
    await eventually(lambda: fs.journal.count("wish") == 0)
    (wish_link,) = rig.spool_dir("wish").glob("*.spool")
    with wish_link.open("rb") as reading:  # as wish's upload would be reading it
        node = await fs.lookup(ROOT_INO, ".clip.mp4.AbCdEf")
        opened = await fs.open(node.ino, os.O_WRONLY)
        await fs.write(opened.fh, 0, b"NEW")
        await fs.release(opened.fh)
        assert reading.read() == b"old bytes"
    await eventually(lambda: fs.journal.count("wish") == 0)
    (new_link,) = rig.spool_dir("wish").glob("*.spool")  # the newer bytes replaced it there
    assert new_link.read_bytes() == b"NEW bytes"
    member = fs.members[0]
    mine = await fs.member_node(member, (".clip.mp4.AbCdEf",))
    assert mine is not None and isinstance(mine.key, QueuedKey)


async def test_the_journal_survives_a_restart(rig: Rig, virtual_clock: MockClock) -> None:
    wish = rig.apis["wish"]
    fs = await rig.start()
    wish.fail_all = DOWN
    await fs.mkdir(ROOT_INO, "Kept")
    await write_file(fs, "late.mp4", b"bytes")  # type: ignore[arg-type]
    assert fs.journal.count("wish") == 2
    rig.stop()
    await trio.sleep(1)
    wish.fail_all = None
    fs = await rig.start()
    await eventually(lambda: fs.journal.count("wish") == 0)
    assert [f.name for f in wish.folders.values()] == ["Kept"]
    await eventually(lambda: [f.data for f in wish.files.values()] == [b"bytes"])


async def test_journal_keeps_order_across_reopen(tmp_path: Path) -> None:
    journal = await MirrorJournal.open(tmp_path / "m")
    await journal.append([("wish", {"op": "mkdir", "path": ["A"]})])
    await journal.append([("wish", {"op": "rename", "path": ["A"], "to": ["B"]})])
    first = journal.pending("wish")[0][0]
    await journal.done("wish", first)
    await journal.close()
    again = await MirrorJournal.open(tmp_path / "m")
    assert [op["op"] for _, op in again.pending("wish")] == ["rename"]
    await again.close()


async def test_ops_of_a_member_whose_account_changed_are_set_aside_not_replayed(
    tmp_path: Path,
) -> None:
    journal = await MirrorJournal.open(tmp_path / "m")
    await journal.append([("wish", {"op": "unlink", "path": ["old.mp4"]})])
    await journal.append([("vip", {"op": "mkdir", "path": ["A"]})])
    await journal.close()
    label = "wish (was user1 at https://old.example/api)"
    moved = await trio.to_thread.run_sync(set_aside, tmp_path / "m", "wish", label)
    again = await MirrorJournal.open(tmp_path / "m")
    assert moved == 1 and again.pending("wish") == []  # nothing for the new account
    assert again.counts() == {label: 1, "vip": 1}  # kept, and shown
    await again.close()
    assert await trio.to_thread.run_sync(set_aside, tmp_path / "none", "wish", label) == 0


async def test_a_refusing_member_never_holds_back_the_other_and_status_names_it(
    rig: Rig, virtual_clock: MockClock
) -> None:
    vip, wish = rig.apis["vip"], rig.apis["wish"]
    wish.reject_upload("file is too big")
    fs = await rig.start()
    ino = await write_file(fs, "big.mp4", b"many bytes")  # type: ignore[arg-type]
    await eventually(lambda: len(vip.files) == 1)
    await eventually(lambda: bool(failed_on(fs, 1)))
    status = await xattr(fs, ino, "user.vipfs.status")
    assert status.endswith("; failed on wish: file is too big"), status  # first: its own state
    assert (await xattr(fs, ino, "user.vipfs.wish.status")).startswith("failed")
    assert not wish.files
    failed = (await fs.status_json())["queue"]["failed"]
    assert [(i["member"], i["name"]) for i in failed] == [("wish", "big.mp4")]


def failed_on(fs: MirrorFs, member: int) -> list[str]:
    status = fs.members[member].fs.queue_status()
    return [] if status is None else [item.name for item in status.failed]


async def test_forget_gives_every_member_reference_back(rig: Rig, virtual_clock: MockClock) -> None:
    for api in rig.apis.values():
        api.add_file("clip", api.add_folder("Show"))
    fs = await rig.start()
    before = [len(m.fs.inodes) for m in fs.members]
    show = await fs.lookup(ROOT_INO, "Show")
    clip = await fs.lookup(show.ino, "clip.mp4")
    await fs.getattr(clip.ino)
    await fs.getxattr(clip.ino, "user.vipfs.status")  # asks both members
    assert all(len(m.fs.inodes) > n for m, n in zip(fs.members, before, strict=True))
    fs.forget([(clip.ino, 1), (show.ino, 1)])
    assert [len(m.fs.inodes) for m in fs.members] == before
    assert len(fs.inodes) == 1  # the root alone


async def test_share_file_queues_a_local_copy_on_one_member(
    rig: Rig, tmp_path: Path, virtual_clock: MockClock
) -> None:
    vip, wish = rig.apis["vip"], rig.apis["wish"]
    wish.add_folder("Show")
    vip.add_file("clip", vip.add_folder("Show"))
    fs = await rig.start()
    source = tmp_path / "kept.spool"
    source.write_bytes(b"local bytes")
    wish_member = fs.members[1]
    assert await fs.member_node(wish_member, ("Show", "clip.mp4")) is None
    await fs.share_file(wish_member, ("Show", "clip.mp4"), source)
    await eventually(lambda: [f.data for f in wish.files.values()] == [b"local bytes"])
    assert source.read_bytes() == b"local bytes"  # the source is the caller's: kept
    node = await fs.member_node(wish_member, ("Show", "clip.mp4"))
    assert node is not None and isinstance(node.key, FileKey)


async def read_all(fs: MirrorFs, ino: int) -> bytes:
    opened = await fs.open(ino, os.O_RDONLY)
    try:
        return await fs.read(opened.fh, 0, 1 << 20)
    finally:
        await fs.release(opened.fh)


async def test_the_mirrors_own_vipfs_files_and_controls(rig: Rig, virtual_clock: MockClock) -> None:
    fs = await rig.start()
    asked: list[tuple[tuple[str, ...], bytes]] = []

    async def control(parts: tuple[str, ...], value: bytes) -> None:
        asked.append((parts, value))

    async def report() -> bytes:
        return b'{"done": true}\n'

    fs.controls["user.vipfs.mirror_sync"] = control
    fs.virtual["mirror-sync.json"] = report
    folder = await fs.mkdir(ROOT_INO, "Show")
    await fs.setxattr(folder.ino, "user.vipfs.mirror_sync", b"-r")
    assert asked == [(("Show",), b"-r")]
    vdir = await fs.lookup(ROOT_INO, ".vipfs")
    listed = await names(fs, vdir.ino)  # type: ignore[arg-type]
    assert {"status.json", "events.jsonl", "mirror-sync.json", "account.json"} <= set(listed)
    status = json.loads(await read_all(fs, (await fs.lookup(vdir.ino, "status.json")).ino))
    assert status["mirror"] == "all" and set(status["members"]) == {"vip", "wish"}
    assert status["journal"] == {"vip": 0, "wish": 0}
    sync = await fs.lookup(vdir.ino, "mirror-sync.json")
    assert await read_all(fs, sync.ino) == b'{"done": true}\n'


async def test_fsync_shares_before_the_first_member_uploads(
    rig: Rig, virtual_clock: MockClock
) -> None:
    vip, wish = rig.apis["vip"], rig.apis["wish"]
    fs = await rig.start()
    opened, _ = await fs.create(ROOT_INO, "synced.mp4", 0o644)
    await fs.write(opened.fh, 0, b"synced bytes")
    await fs.fsync(opened.fh)  # vip uploads now, and its spool file goes
    assert [f.data for f in vip.files.values()] == [b"synced bytes"]
    await fs.release(opened.fh)
    await eventually(lambda: [f.data for f in wish.files.values()] == [b"synced bytes"])
    assert len(vip.files) == 1  # no second share, no second upload


async def test_rmdir_of_a_folder_empty_on_one_member_only_is_refused(
    rig: Rig, virtual_clock: MockClock
) -> None:
    vip, wish = rig.apis["vip"], rig.apis["wish"]
    vip.add_file("inside", vip.add_folder("Show"))
    wish.add_folder("Show")
    fs = await rig.start()
    await fs.lookup(ROOT_INO, "Show")
    with pytest.raises(VfsError) as err:
        await fs.rmdir(ROOT_INO, "Show")
    assert err.value.errno == errno.ENOTEMPTY
    assert [f.name for f in wish.folders.values()] == ["Show"]  # nothing removed anywhere


@pytest.mark.parametrize("rename_first", [False, True])
async def test_a_rename_racing_the_close_before_it_reaches_every_member(
    rig: Rig, virtual_clock: MockClock, rename_first: bool
) -> None:
    """rsync closes its temp file and renames it at once; the kernel's release is async, so
    the rename may arrive while the close is still being handled."""
    vip, wish = rig.apis["vip"], rig.apis["wish"]
    fs = await rig.start()
    opened, _ = await fs.create(ROOT_INO, ".clip.mp4.Xy12Ab", 0o644)
    await fs.write(opened.fh, 0, b"racing bytes")
    async with trio.open_nursery() as both:
        if rename_first:
            both.start_soon(fs.rename, ROOT_INO, ".clip.mp4.Xy12Ab", ROOT_INO, "clip.mp4")
            both.start_soon(fs.release, opened.fh)
        else:
            both.start_soon(fs.release, opened.fh)
            both.start_soon(fs.rename, ROOT_INO, ".clip.mp4.Xy12Ab", ROOT_INO, "clip.mp4")
    for api in (vip, wish):
        await eventually(
            lambda api=api: [f.data for f in api.files.values()] == [b"racing bytes"], limit=600
        )
        assert [f.title for f in api.files.values()] == ["clip"]


async def test_a_member_down_from_the_start_hides_nothing_and_fails_nothing(
    rig: Rig, virtual_clock: MockClock
) -> None:
    vip, wish = rig.apis["vip"], rig.apis["wish"]
    vip.add_file("here")
    wish.fail_all = DOWN  # no listing of it was ever cached
    fs = await rig.start()
    assert "here.mp4" in await names(fs)  # type: ignore[arg-type]
    with pytest.raises(VfsError) as err:
        await fs.lookup(ROOT_INO, "nowhere.mp4")
    assert err.value.errno == errno.ENOENT  # vip answered: a miss, not wish's EIO
    assert await xattr(fs, (await fs.lookup(ROOT_INO, "here.mp4")).ino, "user.vipfs.code")


async def test_a_file_owed_to_a_down_member_shows_queued_there(
    rig: Rig, virtual_clock: MockClock
) -> None:
    wish = rig.apis["wish"]
    fs = await rig.start()
    wish.fail_all = DOWN
    await fs.mkdir(ROOT_INO, "Show")  # wish owes the folder, so it owes the file behind it
    show = await fs.lookup(ROOT_INO, "Show")
    ino = await write_file(fs, "clip.mp4", b"bytes", parent=show.ino)  # type: ignore[arg-type]
    assert fs.journal.count("wish") == 2
    assert await xattr(fs, ino, "user.vipfs.wish.status") == "queued"
    assert (await xattr(fs, ino, "user.vipfs.status")).endswith("; queued on wish")
    queue = (await fs.status_json())["queue"]
    assert [(i["member"], i["name"]) for i in queue["queued"]] == [("vip", "clip.mp4")]


@pytest.mark.parametrize(
    ("theirs", "note"),
    [
        ("failed: file is too big", "failed on wish: file is too big"),
        ("dmca: deleted in 11h", "dmca on wish: deleted in 11h"),
        ("deleted by host", "deleted by host on wish"),
        ("retrying: HTTP 500 (1 attempt failed)", "queued on wish"),
        ("uploading 37% 12.3/33.0 MB", "uploading on wish"),
    ],
)
def test_what_the_plain_status_says_of_another_member(theirs: str, note: str) -> None:
    assert not theirs.startswith(ON_HOST)
    assert _note(theirs, "wish") == note


def test_a_member_holding_the_file_adds_nothing_to_the_plain_status() -> None:
    for held in ("uploaded", "encoding", "encoding 40%", "ready"):
        assert held.startswith(ON_HOST)
