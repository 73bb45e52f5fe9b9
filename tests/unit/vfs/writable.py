"""A writable facade on the fake host, for the write-side unit tests.

`Mount` builds one Filesystem with a write engine on a db that outlives it (for restarts);
`CloningApi` is the fake host with file/clone and folder/delete; the coroutines play what tools
do through the facade.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import trio

from tests.unit.vfs.fake_api import FakeApi, FakeFile
from vipfs.api.errors import NotFoundError, TransientError, UnsupportedError
from vipfs.api.records import CloneResult, FolderListing
from vipfs.vfs.attrs import Owner
from vipfs.vfs.features import HostFeatures
from vipfs.vfs.filesystem import AttrChanges, Filesystem, Options, WriteSetup
from vipfs.vfs.inodes import ROOT_INO
from vipfs.vfs.metadb import MetaDb
from vipfs.vfs.spool import Spool

MTIME = 1_600_000_000_123_456_789


class CloningApi(FakeApi):
    """The fake host with file/clone and folder/delete switched on (the base fake lacks them)."""

    folder_delete_on: bool = False
    file_delete_off: bool = False  # file/delete refused: removed files go to the trash folder
    lagging: bool = False  # folder/list answers without files uploaded since `lag_from`
    lag_from: int = 0
    lost_clones: int = 0  # this many clones are stored and then their answer is lost

    async def folder_list(self, fld_id: int = 0, *, files: bool = True) -> FolderListing:
        listing = await super().folder_list(fld_id, files=files)
        if not self.lagging:
            return listing
        late = {c for c, f in self.files.items() if f.created >= self.lag_from}
        return FolderListing(listing.folders, [f for f in listing.files if f.code not in late])

    async def file_clone(
        self, code: str, *, title: str | None = None, fld_id: int | None = None
    ) -> CloneResult:
        await self._enter("file_clone", code=code, title=title, fld_id=fld_id)
        source = self.files.get(code)
        if source is None:
            raise NotFoundError("No file", status=404, op="file/clone")
        new = self._new_code()
        self.files[new] = FakeFile(
            new,
            title or source.title,
            fld_id or 0,
            source.data,
            source.filename,
            99,
            uploaded=self.server_now(),
        )
        if self.lost_clones:  # stored, but the answer never arrives
            self.lost_clones -= 1
            raise TransientError("connection reset", op="file/clone")
        return CloneResult(new, None)

    async def file_delete(self, code: str) -> None:
        if self.file_delete_off:
            await self._enter("file_delete", code=code)
            raise UnsupportedError("This function not allowed in API", status=403, op="file/delete")
        await super().file_delete(code)

    async def folder_delete(self, fld_id: int) -> None:
        if not self.folder_delete_on:
            await super().folder_delete(fld_id)
        await self._enter("folder_delete", fld_id=fld_id)
        if fld_id not in self.folders:
            raise NotFoundError("no such folder")
        if any(f.parent_id == fld_id for f in self.folders.values()) or any(
            f.fld_id == fld_id for f in self.files.values()
        ):
            raise UnsupportedError("not empty")
        del self.folders[fld_id]


class Mount:
    """One facade with a write engine on a db that outlives it (for restarts)."""

    def __init__(self, tmp_path: Path, nursery: trio.Nursery, db: MetaDb, api: FakeApi) -> None:
        self.tmp_path = tmp_path
        self.nursery = nursery
        self.db = db
        self.api = api
        self.scope: trio.CancelScope | None = None

    async def start(self, **kw: Any) -> Filesystem:
        options = Options(owner=Owner(0, 0, 0o022), sync_uploads=kw.pop("sync_uploads", False))
        setup = WriteSetup(
            db=self.db,
            spool=Spool(self.tmp_path / "spool"),
            features=HostFeatures(),
            clock=trio.current_time,
            **kw,
        )
        fs = Filesystem(self.api, options=options, writes=setup, clock=trio.current_time)

        async def serve(*, task_status: trio.TaskStatus[None]) -> None:
            with trio.CancelScope() as scope:
                self.scope = scope
                await fs.run(task_status=task_status)

        await self.nursery.start(serve)
        return fs

    def stop(self) -> None:
        assert self.scope is not None
        self.scope.cancel()


async def names(fs: Filesystem, ino: int = ROOT_INO) -> dict[str, int]:
    fh = await fs.opendir(ino)
    try:
        out = {}
        for item in fs.readdir(fh, 0):
            if item.name in (".", ".."):
                continue  # the kernel takes no reference for them (test_dots.py)
            fs.remember(item.attr.ino)
            out[item.name] = item.attr.size
        return out
    finally:
        fs.releasedir(fh)


async def write_file(
    fs: Filesystem, name: str, data: bytes, parent: int = ROOT_INO, mtime: int | None = None
) -> int:
    opened, attr = await fs.create(parent, name, 0o600)
    for off in range(0, len(data), 4):
        await fs.write(opened.fh, off, data[off : off + 4])
    if mtime is not None:  # cp -a: futimens on the still-open fd
        await fs.setattr(attr.ino, AttrChanges(mtime_ns=mtime), opened.fh)
    await fs.flush(opened.fh)
    await fs.release(opened.fh)
    return attr.ino


def uploads(api: FakeApi) -> list[str]:
    return [str(args["filename"]) for op, args in api.calls if op == "upload_file"]
