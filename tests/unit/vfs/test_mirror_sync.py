"""`vipfs mirror sync` (issue 13, contract §8) over two real write engines on fake hosts.

A small stand-in mirror gives the backfill what `MirrorFs` does (`members`, `member_node`,
`share_file`); the sources are tried in order: a local copy, then `upload/url` from another
member's direct link, else a reason, and one outcome per (file, member).
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import trio
from trio.testing import MockClock

from tests.unit.vfs.writable import CloningApi, Mount, write_file
from vipfs.api.records import DeletedFile, DirectLink, LinkVersion
from vipfs.vfs.errors import VfsError
from vipfs.vfs.filesystem import Filesystem
from vipfs.vfs.inodes import ROOT_INO, Node
from vipfs.vfs.metadb import MetaDb
from vipfs.vfs.mirror_sync import FAILED, LOCAL, PRESENT, URL, SyncControl, sync


@dataclass
class LinkApi(CloningApi):
    """Direct links a host could fetch (http), and file/deleted as told."""

    gone: list[str] = field(default_factory=list)

    async def file_direct_link(self, code: str) -> DirectLink:
        await self._enter("file_direct_link", code=code)
        if not self.direct_links:
            return await super().file_direct_link(code)
        return DirectLink([LinkVersion("n", f"http://127.0.0.1:9/{code}/v.mp4", 3)], 60, None)

    async def file_deleted(self, last_hours: int = 720) -> list[DeletedFile]:
        await self._enter("file_deleted", last_hours=last_hours)
        return [DeletedFile(c, None, "host", 60, None) for c in self.gone]


@dataclass
class Member:
    name: str
    fs: Filesystem


@dataclass
class Mirror:
    members: list[Member]
    shared: list[tuple[str, tuple[str, ...], Path]] = field(default_factory=list)

    async def member_node(self, member: Member, parts: tuple[str, ...]) -> Node | None:
        ino = ROOT_INO
        for name in parts:
            try:
                ino = (await member.fs.lookup(ino, name)).ino
            except VfsError:
                return None
        return member.fs.model.node(ino)

    async def share_file(self, member: Member, parts: tuple[str, ...], source: Path) -> None:
        self.shared.append((member.name, parts, source))


@pytest.fixture
async def two(
    tmp_path: Path, nursery: trio.Nursery, virtual_clock: MockClock
) -> AsyncIterator[tuple[Mirror, LinkApi, LinkApi]]:
    apis = (LinkApi(direct_links=True), LinkApi(direct_links=True))
    mounts, dbs = [], []
    for i, api in enumerate(apis):
        (tmp_path / str(i)).mkdir()
        db = await MetaDb.open(tmp_path / str(i) / "meta.db")
        dbs.append(db)
        mounts.append(Mount(tmp_path / str(i), nursery, db, api))
    members = [Member("vip", await mounts[0].start()), Member("wish", await mounts[1].start())]
    yield Mirror(members), apis[0], apis[1]
    for m in mounts:
        m.stop()
    for db in dbs:
        await db.close()


async def test_a_missing_file_comes_back_by_upload_url_from_the_other_hosts_link(
    two: tuple[Mirror, LinkApi, LinkApi],
) -> None:
    mirror, vip, wish = two
    vip_fs, wish_fs = (m.fs for m in mirror.members)
    await write_file(vip_fs, "a.mp4", b"abc")
    await vip_fs.wait_uploads()
    (code,) = vip.files
    out = await sync(mirror, (), recursive=True)
    assert [(o.path, o.member, o.state) for o in out] == [
        ("a.mp4", "vip", PRESENT),
        ("a.mp4", "wish", URL),
    ]
    assert out[1].line() == "a.mp4: wish: missing: upload/url from vip: queued"
    (row,) = wish_fs.model.remote.writer().urls.pending()
    assert (row.url, row.fld_id) == (f"http://127.0.0.1:9/{code}/v.mp4", 0)
    assert row.title is not None and "a" in row.title
    assert all(op != "file_direct_link" for op, _ in wish.calls)  # asked of the holder only
    again = await sync(mirror, (), recursive=True)
    assert again[1].line() == "a.mp4: wish: missing: upload/url: already queued"
    assert len(wish_fs.model.remote.writer().urls.pending()) == 1  # never twice
    asked = [a for op, a in vip.calls if op == "file_direct_link" and a["code"] == code]
    assert len(asked) == 1  # nor a new link asked


async def test_a_queued_local_copy_is_shared_not_fetched(
    two: tuple[Mirror, LinkApi, LinkApi],
) -> None:
    mirror, vip, _ = two
    vip.upload_gate = trio.Event()  # the upload waits: the spool file is the only copy
    await write_file(mirror.members[0].fs, "d.mp4", b"data")
    out = await sync(mirror, (), recursive=True)
    assert [(o.member, o.state) for o in out] == [("vip", "queued"), ("wish", LOCAL)]
    ((member, parts, source),) = mirror.shared
    assert (member, parts) == ("wish", ("d.mp4",)) and source.read_bytes() == b"data"
    assert not any(op == "file_direct_link" for op, _ in vip.calls)
    shared = {("wish", ("d.mp4",))}  # an earlier sync's share the member does not show yet
    again = await sync(mirror, (), recursive=True, shared=shared)
    assert again[1].line() == "d.mp4: wish: missing: already queued from a local copy"
    assert len(mirror.shared) == 1  # never twice
    vip.upload_gate.set()


async def test_a_file_the_host_deleted_is_backfilled_and_its_record_left_alone(
    two: tuple[Mirror, LinkApi, LinkApi],
) -> None:
    mirror, vip, wish = two
    for m in mirror.members:
        await write_file(m.fs, "x.mp4", b"xyz")
        await m.fs.wait_uploads()
    (wish_code,) = wish.files
    wish.gone = [wish_code]
    out = await sync(mirror, (), recursive=False)
    assert [(o.member, o.state) for o in out] == [("vip", PRESENT), ("wish", URL)]
    assert out[1].detail.startswith("deleted by the host: upload/url from vip")
    assert ("file_deleted", {"last_hours": 720}) in wish.calls  # bounded
    assert not any(op in ("file_delete", "file_edit") for op, _ in wish.calls)
    vip.gone = list(vip.files)  # deleted on every host, still listed: no file to report
    assert await sync(mirror, (), recursive=False) == []


async def test_no_direct_link_and_no_local_copy_says_why(
    two: tuple[Mirror, LinkApi, LinkApi],
) -> None:
    mirror, vip, _ = two
    vip.direct_links = False
    await write_file(mirror.members[0].fs, "sub.mp4", b"s")
    await mirror.members[0].fs.wait_uploads()
    out = await sync(mirror, (), recursive=True)
    assert out[1].state == FAILED and not out[1].ok
    assert out[1].line() == (
        "sub.mp4: wish: missing: not backfillable: vip: the host allows no direct_link"
    )


async def test_folders_are_made_on_the_lacking_member_and_the_control_reports(
    two: tuple[Mirror, LinkApi, LinkApi],
) -> None:
    mirror, _, wish = two
    vip_fs = mirror.members[0].fs
    folder = await vip_fs.mkdir(ROOT_INO, "Show")
    await write_file(vip_fs, "e1.mp4", b"e", parent=folder.ino)
    await vip_fs.wait_uploads()
    control = SyncControl(mirror)
    with pytest.raises(VfsError):
        await control.set((), b"-x")
    await control.set((), b"-r")
    report = json.loads(await control.report_json())
    for m in mirror.members:  # the same report in every member's /.vipfs
        assert await m.fs.model.remote.virtual.render("mirror-sync.json") == (
            await control.report_json()
        )
    assert report["seq"] == 1 and report["path"] == ""
    assert [(f["path"], f["member"], f["state"]) for f in report["files"]] == [
        ("Show/e1.mp4", "vip", PRESENT),
        ("Show/e1.mp4", "wish", URL),
    ]
    assert [f.name for f in wish.folders.values()] == ["Show"]


async def test_the_trash_and_dot_vipfs_are_never_backfilled(
    two: tuple[Mirror, LinkApi, LinkApi],
) -> None:
    mirror, vip, wish = two
    vip.file_delete_off = True  # rm moves the file into vipfs-trash
    vip_fs = mirror.members[0].fs
    await write_file(vip_fs, "t.mp4", b"t")
    await vip_fs.wait_uploads()
    await vip_fs.unlink(ROOT_INO, "t.mp4")
    assert await sync(mirror, (), recursive=True) == []
    for hidden in ("vipfs-trash", ".vipfs"):
        with pytest.raises(VfsError):
            await sync(mirror, (hidden,), recursive=True)
    assert not any(op == "folder_create" for op, _ in wish.calls)
