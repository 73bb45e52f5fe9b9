"""The filesystem, as an async facade of plain-typed operations: what fuse_ops translates.

Owns: nothing but the composition of the model's parts and one short method per operation
that delegates to the part owning it.  Imports: the vfs parts it composes (arrivals, controls,
dto, errors, handles, hooks, inodes, model, readpolicy, remote, rename, replace, tree, views,
xattrs).

The parts: `tree` (names, directories, mkdir/rmdir/unlink and removal), `rename`, `handles`
(open … release, read/write, flush/fsync), `replace` (setattr, truncate and replace-on-O_TRUNC),
`xattrs` with `controls` (clone, URL upload), `arrivals` (the upload queue's callback), over a
shared `Model` (inodes, folder views, node attributes) and one `Remote` (the host's parts).
Each operation does its network I/O first, then changes the model in one synchronous step,
so concurrent handlers on the trio loop never see half an update. Errors leave here only as
`VfsError`.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import trio

from vipfs.api.protocol import XvsApi
from vipfs.vfs.arrivals import Arrivals
from vipfs.vfs.attrs import Attr, Statfs
from vipfs.vfs.controls import Controls
from vipfs.vfs.dto import AttrChanges, DirEntry, FileReader, Opened, Options, WriteSetup
from vipfs.vfs.errors import VfsError
from vipfs.vfs.handles import NO_READER, Handles
from vipfs.vfs.hooks import Hooks
from vipfs.vfs.inodes import ROOT_KEY, InodeTable
from vipfs.vfs.journal import Journal
from vipfs.vfs.loader import Clock
from vipfs.vfs.metadb import Upload
from vipfs.vfs.model import Model
from vipfs.vfs.quota import Quota
from vipfs.vfs.readpolicy import ReadPolicy
from vipfs.vfs.remote import READ_ONLY, Remote
from vipfs.vfs.rename import RENAME_EXCHANGE, RENAME_NOREPLACE, Rename
from vipfs.vfs.replace import Replace
from vipfs.vfs.tree import Tree
from vipfs.vfs.upload_status import QueueStatus
from vipfs.vfs.views import OFF_LOOP_ENTRIES
from vipfs.vfs.xattrs import Xattrs

__all__ = [
    "NO_READER",
    "OFF_LOOP_ENTRIES",
    "READ_ONLY",
    "RENAME_EXCHANGE",
    "RENAME_NOREPLACE",
    "AttrChanges",
    "DirEntry",
    "FileReader",
    "Filesystem",
    "Opened",
    "Options",
    "WriteSetup",
]

log = logging.getLogger(__name__)


class Filesystem:
    def __init__(
        self,
        api: XvsApi,
        *,
        options: Options | None = None,
        reader: FileReader | None = None,
        clock: Clock = time.monotonic,
        writes: WriteSetup | None = None,
        hooks: Hooks | None = None,
    ) -> None:
        self.options = options or Options()
        self.remote = Remote(
            api,
            self.options,
            clock=clock,
            writes=writes,
            on_uploaded=self._uploaded,
            on_dropped=self._dropped,
        )
        self.model = Model(self.remote, self.options, reader)
        self.hooks = hooks  # --on-event: told of every event, run in the model's nursery
        if hooks is not None:
            self.remote.events.listen(hooks.tell)
        self.read_policy = ReadPolicy(self.options.deny_read_procs)
        if self.read_policy:
            log.info("refusing reads by: %s", ", ".join(sorted(self.read_policy.denied)))
        self.tree = Tree(self.model)
        self.replace = Replace(self.model)
        self.renames = Rename(self.model, self.tree, self.replace)
        self.handles = Handles(self.model, self.replace, self.read_policy)
        self.xattrs = Xattrs(self.model, Controls(self.model))
        self.arrivals = Arrivals(self.model, self.tree)

    @property
    def inodes(self) -> InodeTable:
        return self.model.inodes

    @property
    def quota(self) -> Quota:
        return self.remote.quota

    @property
    def journal(self) -> Journal:
        return self.remote.journal

    # -- background ----------------------------------------------------------------------------
    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Background work of the model: the upload queue (resumed from the db before this
        reports started, so the first listing already shows it), refreshes of expired
        listings, and the quota refresher."""
        async with trio.open_nursery() as nursery:
            self.model.nursery = nursery
            self.remote.refresh_in(nursery)
            if self.hooks is not None:
                await nursery.start(self.hooks.run)
            w = self.remote.writes
            if w is not None:
                await w.metadata.load()
                await nursery.start(w.queue.run)
                await nursery.start(w.urls.run)
                self.model.views.clear()  # built again, with the queue's rows
            task_status.started()
            await self.remote.quota.run()

    async def list_root(self, within: float) -> bool:
        """Fetch the root's listing ahead, waiting at most `within` seconds; True if it came.
        Every path under the mount is looked up through it, so asking before the mount shows
        spends no call that the first `ls`, `stat` or `cp` would not spend (and a cold `ls -l`
        of a big folder right after the mount comes up is its one folder/list)."""
        with trio.move_on_after(within):
            try:
                await self.remote.listings.get(ROOT_KEY.fld_id)
            except VfsError as exc:
                log.info("the root listing is not cached yet: %s", exc.why)
                return False
            return True
        return False

    def forget_all(self) -> None:
        """SIGHUP: every cached listing and file/info is asked again when next needed (the
        last answers stay for the stale fallback); inodes stay (the kernel holds them)."""
        self.remote.forget_all()
        log.info("cached listings expired: each is asked again when next needed")

    async def wait_uploads(self, progress: Callable[[dict[str, Any]], None] | None = None) -> None:
        """Upload everything queued now and wait until nothing is queued or uploading."""
        if self.remote.writes is None:
            return
        report = None if progress is None else lambda st: progress(st.to_json())
        await self.remote.writes.queue.wait_idle(report)

    def queue_status(self) -> QueueStatus | None:
        """The upload queue now (None on a read-only mount): what an unmount leaves behind."""
        return self.remote.queue_status()

    async def adopt_spool(
        self,
        parent_ino: int,
        name: str,
        mode: int,
        mtime_ns: int,
        source: Path,
        *,
        link_name: str,
        replaces: str | None = None,
    ) -> Upload:
        """A mirror shares a file written through another member: queue `source`'s bytes as
        `name` in the folder `parent_ino` (see `Writes.adopt_spool`); it shows at once."""
        _, fld_id = self.model.dir_for_change(parent_ino, name)
        row = await self.remote.writer().adopt_spool(
            name, fld_id, mode, mtime_ns, source, link_name=link_name, replaces=replaces
        )
        self.model.views.show_pending(row)
        return row

    def _uploaded(self, row: Upload) -> None:
        self.arrivals.uploaded(row)

    def _dropped(self, row: Upload) -> None:
        self.arrivals.dropped(row)

    # -- names ---------------------------------------------------------------------------------
    async def lookup(self, parent_ino: int, name: str) -> Attr:
        return await self.tree.lookup(parent_ino, name)

    def forget(self, inodes: list[tuple[int, int]]) -> None:
        for ino, count in inodes:
            self.model.inodes.forget(ino, count)

    def remember(self, ino: int) -> None:
        """The kernel took a reference through a readdirplus entry."""
        self.model.inodes.remember(ino)

    def drop_unreferenced(self, ino: int) -> None:
        self.model.inodes.drop_unreferenced(ino)

    async def getattr(self, ino: int) -> Attr:
        return self.model.attr(self.model.node(ino))

    # -- directories ---------------------------------------------------------------------------
    async def opendir(self, ino: int) -> int:
        return await self.tree.opendir(ino)

    def readdir(self, fh: int, start_id: int) -> Iterator[DirEntry]:
        return self.tree.readdir(fh, start_id)

    def releasedir(self, fh: int) -> None:
        self.tree.releasedir(fh)

    async def mkdir(self, parent_ino: int, name: str, mode: int | None = None) -> Attr:
        return await self.tree.mkdir(parent_ino, name, mode)

    async def rmdir(self, parent_ino: int, name: str) -> None:
        await self.tree.rmdir(parent_ino, name)

    async def rename(
        self, old_parent: int, old_name: str, new_parent: int, new_name: str, flags: int = 0
    ) -> None:
        await self.renames.rename(old_parent, old_name, new_parent, new_name, flags)

    async def unlink(self, parent_ino: int, name: str) -> None:
        await self.tree.unlink(parent_ino, name)

    # -- attributes ----------------------------------------------------------------------------
    async def getxattr(self, ino: int, name: str) -> bytes:
        return await self.xattrs.get(ino, name)

    async def listxattr(self, ino: int) -> list[str]:
        return await self.xattrs.list(ino)

    async def setxattr(self, ino: int, name: str, value: bytes) -> str | None:
        """Returns the name of an entry it created in the folder `ino` (a clone)."""
        return await self.xattrs.set(ino, name, value)

    async def removexattr(self, ino: int, name: str) -> None:
        await self.xattrs.remove(ino, name)

    def statfs(self) -> Statfs:
        return self.remote.quota.statfs()

    async def setattr(self, ino: int, changes: AttrChanges, fh: int | None = None) -> Attr:
        node = self.model.node(ino)
        return await self.replace.setattr(node, changes, self.handles.get(fh))

    # -- files ---------------------------------------------------------------------------------
    async def open(self, ino: int, flags: int, pid: int = 0) -> Opened:
        """`pid`: the calling thread, for `--deny-read-procs` (0: unknown, never refused)."""
        return await self.handles.open(ino, flags, pid)

    async def create(
        self, parent_ino: int, name: str, mode: int, flags: int = os.O_WRONLY
    ) -> tuple[Opened, Attr]:
        return await self.handles.create(parent_ino, name, mode, flags)

    async def read(self, fh: int, offset: int, size: int) -> bytes:
        return await self.handles.read(fh, offset, size)

    async def write(self, fh: int, offset: int, data: bytes) -> int:
        return await self.handles.write(fh, offset, data)

    def size_learned(self, fh: int) -> int | None:
        return self.handles.size_learned(fh)

    async def flush(self, fh: int) -> None:
        await self.handles.flush(fh)

    async def fsync(self, fh: int) -> None:
        await self.handles.fsync(fh)

    async def release(self, fh: int) -> None:
        await self.handles.release(fh)
