"""The filesystem, as an async facade of plain-typed operations: what fuse_ops translates.

Each operation does its network I/O first (through the loaders, bounded and sharing calls, or
through the namespace and the upload queue), then changes the model in one synchronous step, so
concurrent handlers on the trio loop never see half an update. Errors leave here only as
`VfsError`.

The write side (when a `WriteSetup` is given): files written through the mount live in spool
files and the persistent upload queue until they are uploaded; they show in their folder (inode
key `("up", upload_id)`) from `create` on, and the same inode becomes `("file", code)` when the
upload is done. The metadata mirror (the local db) is the authority for the names, sizes,
mtimes and modes of the files vipfs wrote.
"""

from __future__ import annotations

import dataclasses
import errno
import itertools
import json
import logging
import os
import sqlite3
import time
from collections.abc import Awaitable, Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar

import trio

from vipfs.api import offloop
from vipfs.api.errors import ApiError, UnsupportedError
from vipfs.api.protocol import XvsApi
from vipfs.api.records import CloneResult, FileEntry, FileInfo, Folder, FolderListing
from vipfs.vfs import defaults
from vipfs.vfs.attrs import Attr, Owner, Statfs
from vipfs.vfs.errors import VfsError, bounded, from_api
from vipfs.vfs.features import HostFeatures
from vipfs.vfs.holdlist import HoldList
from vipfs.vfs.inodes import ROOT_INO, InodeTable, Node, NodeKey
from vipfs.vfs.journal import EntryKey, Journal
from vipfs.vfs.listing import (
    VIRTUAL_DIR,
    Listing,
    Pending,
    file_entry,
    folder_entry,
    pending_entry,
)
from vipfs.vfs.loader import Clock, Loader
from vipfs.vfs.metadata import UNKNOWN_SIZE, Metadata, name_only
from vipfs.vfs.metadb import MetaDb, Upload, UploadState, error_errno
from vipfs.vfs.names import as_listed, file_title, folder_title
from vipfs.vfs.namespace import TRASH, Namespace, Removed
from vipfs.vfs.quota import Quota
from vipfs.vfs.readpolicy import ReadPolicy
from vipfs.vfs.spool import Spool
from vipfs.vfs.uploads import UploadQueue
from vipfs.vfs.virtual import Virtual
from vipfs.vfs.writing import Live, SpoolHandle
from vipfs.vfs.xattrs import PREFIX, file_status, file_xattrs, folder_xattrs

log = logging.getLogger(__name__)
T = TypeVar("T")

VIRTUAL_KEY: NodeKey = ("virt", "")
NO_READER = "reading needs file/direct_link, which this host does not enable"
READ_ONLY = "the mount was started without a write engine"
IN_PLACE = (
    "{name}: uploaded files cannot be changed in place (the host keeps whole files only); "
    "truncate or overwrite it (O_TRUNC) to replace it"
)
RENAME_NOREPLACE = 1
RENAME_EXCHANGE = 2
EDITABLE = ("title", "descr", "tags", "public", "adult", "cat_id")
CLONE_XATTR = PREFIX + "clone"  # on a folder: {"code": ..., "name": ...} → file/clone into it
URL_XATTR = PREFIX + "url_upload"  # on a folder: a URL → upload/url into it


class FileReader(Protocol):
    """The read cache as the facade uses it (vipfs.vfs.readcache.ReadCache)."""

    async def open(self, code: str) -> int: ...
    async def read(self, handle: int, offset: int, size: int) -> bytes: ...
    async def release(self, handle: int) -> None: ...
    def known_size(self, code: str) -> int | None: ...


@dataclass(frozen=True, slots=True)
class Options:
    owner: Owner = field(default_factory=Owner.current)
    dir_cache_time: float = defaults.DIR_CACHE_TIME
    budget: float = defaults.OP_TIMEOUT  # seconds an interactive call may wait on the API
    deny_read_procs: frozenset[str] = frozenset()  # process names refused reads (readpolicy)
    sync_uploads: bool = False  # close (flush) uploads and waits, like fsync


@dataclass(slots=True)
class WriteSetup:
    """What the write side is built from; the mount composes it (tests too)."""

    db: MetaDb
    spool: Spool
    features: HostFeatures
    write_back: float = defaults.WRITE_BACK
    transfers: int = defaults.TRANSFERS
    hold: HoldList | None = None
    trash: bool = True
    clock: Callable[[], float] = time.time
    rate_state: Callable[[], object] | None = None  # the client's limiter, for status.json


@dataclass(frozen=True, slots=True)
class DirEntry:
    name: str
    attr: Attr
    next_id: int


@dataclass(frozen=True, slots=True)
class Opened:
    fh: int
    direct_io: bool = False


@dataclass(frozen=True, slots=True)
class AttrChanges:
    """What a setattr asks for; None means unchanged."""

    size: int | None = None
    mtime_ns: int | None = None
    mode: int | None = None


@dataclass(slots=True)
class _DirHandle:
    ino: int
    entries: list[tuple[str, NodeKey, FileEntry | Folder | None]]


@dataclass(slots=True)
class _VirtualHandle:
    content: bytes


@dataclass(slots=True)
class _ReadHandle:
    handle: int
    ino: int
    code: str
    size_told: int | None  # the size getattr reported when the file was opened


# Folders this big are named in a worker thread (about 15 µs an entry); one at a time.
OFF_LOOP_ENTRIES = 5000


@dataclass(frozen=True, slots=True)
class _ViewInputs:
    """What a folder's view is built from besides the server's answer (compared by value)."""

    exact: Mapping[str, str]
    pending: list[Pending]
    hide: set[str]
    tokens: set[str]


class _Writer:
    """The write engine's parts, built by the facade so the queue can call back into it."""

    def __init__(self, fs: Filesystem, api: XvsApi, setup: WriteSetup) -> None:
        self.setup = setup
        self.db = setup.db
        self.spool = setup.spool
        self.features = setup.features
        self.mirror = Metadata(setup.db)
        self.names = Namespace(api, self.mirror, setup.features, trash=setup.trash)
        self.queue = UploadQueue(
            api,
            setup.db,
            setup.spool,
            metadata=self.mirror,
            write_back=setup.write_back,
            transfers=setup.transfers,
            hold=setup.hold,
            clock=setup.clock,
            on_done=fs._uploaded,
        )
        self.live: dict[int, Live] = {}


class Filesystem:
    def __init__(
        self,
        api: XvsApi,
        *,
        options: Options | None = None,
        reader: FileReader | None = None,
        clock: Clock = time.monotonic,
        writes: WriteSetup | None = None,
    ) -> None:
        self.api = api
        self.options = options or Options()
        self.reader = reader
        self.inodes = InodeTable()
        self.listings: Loader[int, FolderListing] = Loader(
            self._fetch_listing,
            ttl=self.options.dir_cache_time,
            budget=self.options.budget,
            clock=clock,
            what="listing of folder",
        )
        self.infos: Loader[int, dict[str, FileInfo]] = Loader(
            self._fetch_infos,
            ttl=self.options.dir_cache_time,
            budget=self.options.budget,
            clock=clock,
            what="file/info of folder",
        )
        self.quota = Quota(api)
        self.virtual = Virtual(api)
        self.read_policy = ReadPolicy(self.options.deny_read_procs)
        if self.read_policy:
            log.info("refusing reads by: %s", ", ".join(sorted(self.read_policy.denied)))
        self.mount_time_ns = time.time_ns()
        self._dirs: dict[int, _DirHandle] = {}
        self._files: dict[int, _VirtualHandle | _ReadHandle | SpoolHandle] = {}
        self._handles = itertools.count(1)
        self._views: dict[int, tuple[FolderListing, Listing]] = {}
        self._build_slot = trio.CapacityLimiter(1)  # one big folder named at a time
        self._queued: dict[int, dict[int, None]] = {}  # folder → its upload rows, in order
        self._queued_at: dict[int, int] = {}  # upload row → the folder it shows in
        self.journal = Journal(clock=clock)
        self._nursery: trio.Nursery | None = None
        self.w = _Writer(self, api, writes) if writes is not None else None
        if self.w is not None:
            self.virtual.add("status.json", self._status_json)

    # -- background ----------------------------------------------------------------------------
    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Background work of the model: the upload queue (resumed from the db before this
        reports started, so the first listing already shows it) and the quota refresher."""
        async with trio.open_nursery() as nursery:
            self._nursery = nursery
            if self.w is not None:
                await self.w.mirror.load()
                await nursery.start(self.w.queue.run)
                for item in _all_items(self.w.queue.status()):
                    self._queued.setdefault(item.fld_id, {})[item.id] = None
                    self._queued_at[item.id] = item.fld_id
                self._views.clear()
            task_status.started()
            await self.quota.run()

    def forget_all(self) -> None:
        """SIGHUP: drop every cached listing and file/info; inodes stay (the kernel holds them)."""
        self.listings.forget_all()
        self.infos.forget_all()
        log.info("forgot all cached listings")

    async def wait_uploads(self, progress: Callable[[dict[str, Any]], None] | None = None) -> None:
        """Upload everything queued now and wait until nothing is queued or uploading."""
        if self.w is None:
            return
        report = None if progress is None else lambda st: progress(st.to_json())
        await self.w.queue.wait_idle(report)

    # -- names ---------------------------------------------------------------------------------
    async def lookup(self, parent_ino: int, name: str) -> Attr:
        parent = self._node(parent_ino)
        if parent.key == VIRTUAL_KEY:
            if name not in self.virtual:
                raise VfsError(errno.ENOENT)
            node = self.inodes.node(("virt", name), name=name, parent=parent.ino)
        elif not parent.is_dir:
            raise VfsError(errno.ENOTDIR)
        elif parent.ino == ROOT_INO and name == VIRTUAL_DIR:
            node = self.inodes.node(VIRTUAL_KEY, name=name, parent=ROOT_INO)
        else:
            listing = await self._view(parent.fld_id)
            child = listing.child(name)
            if child is None:
                raise VfsError(errno.ENOENT)
            node = self._adopt(child.key, child.name, child.entry, parent.ino)
        self.inodes.remember(node.ino)
        return self._attr(node)

    def forget(self, inodes: list[tuple[int, int]]) -> None:
        for ino, count in inodes:
            self.inodes.forget(ino, count)

    def remember(self, ino: int) -> None:
        """The kernel took a reference through a readdirplus entry."""
        self.inodes.remember(ino)

    def drop_unreferenced(self, ino: int) -> None:
        self.inodes.drop_unreferenced(ino)

    async def getattr(self, ino: int) -> Attr:
        return self._attr(self._node(ino))

    # -- directories ---------------------------------------------------------------------------
    async def opendir(self, ino: int) -> int:
        node = self._node(ino)
        entries: list[tuple[str, NodeKey, FileEntry | Folder | None]]
        if node.key == VIRTUAL_KEY:
            entries = [(name, ("virt", name), None) for name in self.virtual.names()]
        elif not node.is_dir:
            raise VfsError(errno.ENOTDIR)
        else:
            listing = await self._view(node.fld_id)
            entries = [(c.name, c.key, c.entry) for c in listing.children]
            if node.ino == ROOT_INO:
                entries.insert(0, (VIRTUAL_DIR, VIRTUAL_KEY, None))
        fh = next(self._handles)
        self._dirs[fh] = _DirHandle(ino, entries)
        return fh

    def readdir(self, fh: int, start_id: int) -> Iterator[DirEntry]:
        """Entries of the handle's snapshot from `start_id`; offsets are stable per handle.

        Each yielded entry has an inode but no reference yet: the caller calls `remember` when
        the kernel took it, or `drop_unreferenced` when it did not.
        """
        handle = self._dirs.get(fh)
        if handle is None:
            raise VfsError(errno.EBADF)
        for index in range(start_id, len(handle.entries)):
            name, key, entry = handle.entries[index]
            node = self._adopt(key, name, entry, handle.ino)
            yield DirEntry(name, self._attr(node), index + 1)

    def releasedir(self, fh: int) -> None:
        self._dirs.pop(fh, None)

    async def mkdir(self, parent_ino: int, name: str) -> Attr:
        parent = self._dir_for_change(parent_ino, name)
        w = self._writer()
        listing = await self._view(parent.fld_id)
        if listing.child(name) is not None:
            raise VfsError(errno.EEXIST)
        title = folder_title(name)
        known = {
            k for c in listing.children if c.key[0] == "dir" and isinstance(k := c.key[1], int)
        }
        fld_id = await self._bounded(
            w.names.create_folder(title, parent.fld_id, known), f"mkdir {name}"
        )
        folder = Folder(fld_id, as_listed(title), None)
        self._add(parent.fld_id, folder)
        self.listings.put(fld_id, FolderListing([], []))  # new: known empty, no call needed
        node = self.inodes.node(("dir", fld_id), name=name, parent=parent.ino)
        node.entry = folder
        self.inodes.remember(node.ino)
        return self._attr(node)

    async def rmdir(self, parent_ino: int, name: str) -> None:
        parent = self._dir_for_change(parent_ino, name)
        w = self._writer()
        child = (await self._view(parent.fld_id)).child(name)
        if child is None:
            raise VfsError(errno.ENOENT)
        if child.key[0] != "dir":
            raise VfsError(errno.ENOTDIR)
        fld_id = child.key[1]
        assert isinstance(fld_id, int)
        if len(await self._view(fld_id)):
            raise VfsError(errno.ENOTEMPTY)
        removed = await self._bounded(w.names.remove_folder(fld_id, name), f"rmdir {name}")
        self._drop(parent.fld_id, ("dir", fld_id))
        self.listings.invalidate(fld_id)
        if isinstance(child.entry, Folder):
            self._trashed(removed, folder=child.entry)

    async def rename(
        self, old_parent: int, old_name: str, new_parent: int, new_name: str, flags: int = 0
    ) -> None:
        if flags & RENAME_EXCHANGE:
            raise VfsError(errno.EINVAL, "rename: RENAME_EXCHANGE is not supported")
        src_dir = self._dir_for_change(old_parent, old_name)
        dst_dir = self._dir_for_change(new_parent, new_name)
        w = self._writer()
        await self._view(src_dir.fld_id)
        dst = (await self._view(dst_dir.fld_id)).child(new_name)
        src = self._views[src_dir.fld_id][1].child(old_name)  # as it is now, after the awaits
        if src is None:
            raise VfsError(errno.ENOENT)
        if dst is not None and dst.key == src.key:
            return
        # Nodes, not keys, from here on: an upload finishing during an await below gives the
        # same node its file code, and the rename must follow it.
        node = self._adopt(src.key, src.name, src.entry, src_dir.ino)
        target = None if dst is None else self._adopt(dst.key, dst.name, dst.entry, dst_dir.ino)
        if target is not None:
            if flags & RENAME_NOREPLACE:
                raise VfsError(errno.EEXIST)
            await self._check_replaceable(node.key, target.key, new_name)
        view = self._views.get(dst_dir.fld_id)
        if target is not None and view is not None:
            view[1].remove(target.key)  # the name goes to the source; the target goes below
        try:
            if node.key[0] == "dir":
                await self._rename_folder(node, src_dir, dst_dir, new_name)
            elif node.key[0] == "up":
                if w.queue.get(node.upload_id) is None:
                    raise VfsError(errno.ENOENT, f"{old_name} was removed meanwhile")
                upload_id = node.upload_id
                renamed = await w.queue.rename(upload_id, new_name, dst_dir.fld_id)
                if w.queue.get(upload_id) is not None:
                    self._show_pending(renamed)
                elif isinstance(node.key[1], str):  # it finished meanwhile, maybe under
                    meta = w.mirror.meta(node.code)  # the old name: rename the file now
                    if meta is None or (meta.name, meta.fld_id) != (new_name, dst_dir.fld_id):
                        await self._rename_file(node, src_dir, dst_dir, new_name)
            else:
                await self._rename_file(node, src_dir, dst_dir, new_name)
        except VfsError:
            self._views.pop(dst_dir.fld_id, None)  # rebuilt whole at the next look
            raise
        node.name, node.parent = new_name, dst_dir.ino
        if target is not None and target.key != node.key:
            await self._remove(dst_dir, new_name, target.key, target.entry)
            self._reshow(dst_dir.fld_id, node, new_name)

    def _reshow(self, fld_id: int, node: Node, name: str) -> None:
        """Give the renamed entry its name if the target held it meanwhile (an upload that
        finished during the rename shows under the name for a moment)."""
        view = self._views.get(fld_id)
        if view is None or self.w is None:
            return
        shown = view[1].child(name)
        if shown is not None and shown.key == node.key:
            return
        if node.key[0] == "up":
            row = self.w.queue.get(node.upload_id)
            if row is not None:
                view[1].add(pending_entry(_pending_of(row)), None)
        elif isinstance(node.entry, Folder):
            view[1].add(folder_entry(node.entry), node.entry)
        elif isinstance(node.entry, FileEntry):
            meta = self.w.mirror.meta(node.entry.code)
            view[1].add(file_entry(node.entry, meta.name if meta else ""), node.entry)

    async def unlink(self, parent_ino: int, name: str) -> None:
        parent = self._dir_for_change(parent_ino, name)
        child = (await self._view(parent.fld_id)).child(name)
        if child is None:
            raise VfsError(errno.ENOENT)
        if child.key[0] == "dir":
            raise VfsError(errno.EISDIR)
        await self._remove(parent, name, child.key, child.entry)

    # -- attributes ----------------------------------------------------------------------------
    async def getxattr(self, ino: int, name: str) -> bytes:
        if not name.startswith("user."):
            raise VfsError(errno.ENOTSUP)
        values = await self._xattrs(self._node(ino))
        try:
            return values[name]
        except KeyError:
            raise VfsError(errno.ENODATA) from None

    async def listxattr(self, ino: int) -> list[str]:
        return sorted(await self._xattrs(self._node(ino)))

    async def setxattr(self, ino: int, name: str, value: bytes) -> str | None:
        """Set a `user.vipfs.*` attribute; returns the name of an entry it created in the
        folder `ino` (a clone), whose earlier misses the kernel may still remember."""
        if not name.startswith(PREFIX):
            raise VfsError(errno.ENOTSUP)
        node = self._node(ino)
        if node.key[0] == "virt":
            raise VfsError(errno.EROFS, f"{VIRTUAL_DIR} is read-only")
        w = self._writer()
        key = name[len(PREFIX) :]
        text = value.decode(errors="replace")
        if node.key[0] == "dir":
            if name == CLONE_XATTR:
                return await self._clone_into(node, text)
            if name == URL_XATTR:
                await self._url_upload(node, text)
            elif key == "descr":
                await self._bounded(w.names.edit_folder(node.fld_id, descr=text), "folder descr")
            else:
                raise VfsError(errno.EPERM, f"{name}: folders take only {PREFIX}descr")
            return None
        if key not in EDITABLE:
            raise VfsError(errno.EPERM, f"{name} is read-only; writable: {', '.join(EDITABLE)}")
        if node.key[0] == "up":
            if key not in ("tags", "descr"):
                raise VfsError(errno.EBUSY, f"{name}: {node.name} is not uploaded yet")
            await w.queue.set_meta(node.upload_id, **{key: text})
            return None
        changes = _parse_edit(key, text)
        await self._bounded(
            w.names.edit_file(node.code, f"setting {name} of {node.name}", **changes),
            f"file/edit of {node.name}",
        )
        entry = node.entry
        if isinstance(entry, FileEntry):
            self.infos.invalidate(entry.fld_id)
            if key == "title":
                retitled = dataclasses.replace(entry, title=as_listed(text))
                node.entry = retitled
                self._add(entry.fld_id, retitled)
        return None

    async def removexattr(self, ino: int, name: str) -> None:
        if not name.startswith("user."):
            raise VfsError(errno.ENOTSUP)
        raise VfsError(errno.EPERM, "user.vipfs.* attributes can be set, not removed")

    def statfs(self) -> Statfs:
        return self.quota.statfs()

    async def setattr(self, ino: int, changes: AttrChanges, fh: int | None = None) -> Attr:
        node = self._node(ino)
        kind = node.key[0]
        if kind == "virt":
            raise VfsError(errno.EROFS, f"{VIRTUAL_DIR} is read-only")
        if kind == "dir" or self.w is None:
            if self.w is None and (changes.size is not None):
                raise VfsError(errno.EROFS, READ_ONLY)
            return self._attr(node)  # folders keep no mode or mtime: accept, like chmod on FAT
        handle = self._files.get(fh) if fh is not None else None
        if kind == "file" and changes.size is not None:
            await self._truncate_uploaded(node, changes.size, handle)
            kind = node.key[0]
        if kind == "up":
            await self._setattr_queued(node, changes)
        else:
            await self._setattr_uploaded(node, changes)
        return self._attr(node)

    # -- files ---------------------------------------------------------------------------------
    async def open(self, ino: int, flags: int, pid: int = 0) -> Opened:
        """`pid`: the calling thread, for `--deny-read-procs` (0: unknown, never refused)."""
        node = self._node(ino)
        if node.is_dir:
            raise VfsError(errno.EISDIR)
        writing = flags & os.O_ACCMODE != os.O_RDONLY
        if node.key[0] != "virt" and not writing:
            self.read_policy.check(pid)
        if node.key[0] == "virt":
            if writing:
                raise VfsError(errno.EROFS, f"{VIRTUAL_DIR} is read-only")
            assert isinstance(node.key[1], str)
            content = await self._render(node.key[1])
            return self._new_handle(_VirtualHandle(content), direct_io=True)
        if writing:
            return await self._open_for_write(node, flags)
        if node.key[0] == "up":
            return await self._open_spool(node, writable=False)
        if self.reader is None:
            raise VfsError(errno.EACCES, NO_READER)
        try:
            handle = await self.reader.open(node.code)
        except ApiError as exc:
            raise from_api(exc, f"opening {node.name!r}") from None
        opened = self._new_handle(
            _ReadHandle(handle, ino, node.code, self.reader.known_size(node.code)),
            # Until a direct link told the size, getattr says 0 and the kernel's page cache
            # would read nothing: bypass it so reads reach the read cache.
            direct_io=self.reader.known_size(node.code) is None,
        )
        return opened

    async def create(
        self, parent_ino: int, name: str, mode: int, flags: int = os.O_WRONLY
    ) -> tuple[Opened, Attr]:
        parent = self._dir_for_change(parent_ino, name)
        w = self._writer()
        existing = (await self._view(parent.fld_id)).child(name)
        if existing is not None:  # the kernel thought it missing (a name that just appeared)
            if flags & os.O_EXCL or existing.key[0] == "dir":
                raise VfsError(errno.EEXIST)
            node = self._adopt(existing.key, existing.name, existing.entry, parent.ino)
            opened = await self._open_for_write(node, flags)
            self.inodes.remember(node.ino)
            return opened, self._attr(node)
        row = await self._enqueue(name, parent.fld_id, mode & 0o7777 or 0o644)
        node = self.inodes.node(("up", row.id), name=name, parent=parent.ino)
        self.inodes.remember(node.ino)
        assert row.spool is not None
        await w.spool.open(row.spool)
        w.live[row.id] = Live(0, row.mtime_ns, writers=1)
        self._show_pending(row)
        opened = self._new_handle(SpoolHandle(node.ino, row.id, row.spool, writable=True))
        return opened, self._attr(node)

    async def read(self, fh: int, offset: int, size: int) -> bytes:
        handle = self._files.get(fh)
        if handle is None:
            raise VfsError(errno.EBADF)
        if isinstance(handle, _VirtualHandle):
            return handle.content[offset : offset + size]
        if isinstance(handle, SpoolHandle):
            if handle.path is None:
                raise VfsError(errno.EBADF, "this handle was opened for writing only")
            return await self._writer().spool.read(handle.path, offset, size)
        assert self.reader is not None
        try:
            return await self.reader.read(handle.handle, offset, size)
        except ApiError as exc:
            raise from_api(exc, "reading") from None

    async def write(self, fh: int, offset: int, data: bytes) -> int:
        handle = self._files.get(fh)
        if not isinstance(handle, SpoolHandle) or not handle.writable:
            raise VfsError(errno.EBADF)
        w = self._writer()
        node = self._node(handle.ino)
        if handle.upload_id is None or handle.path is None or handle.finished:
            raise VfsError(errno.EPERM, IN_PLACE.format(name=node.name))
        row = w.queue.get(handle.upload_id)
        reopen = row is not None and row.state is not UploadState.WRITING
        if reopen and not await w.queue.reopen(handle.upload_id):
            raise VfsError(errno.EPERM, IN_PLACE.format(name=node.name))
        try:
            written = await w.spool.write(handle.path, offset, data)
        except OSError as exc:  # ENOSPC above all: the writer hears it, the file is kept
            reason = f"a write failed: {exc.strerror or exc}"
            await w.queue.mark_incomplete(handle.upload_id, reason)
            raise VfsError(exc.errno or errno.EIO, f"{node.name}: {reason}") from None
        live = w.live.get(handle.upload_id)
        if live is not None:
            live.wrote(offset + written)
        return written

    def size_learned(self, fh: int) -> int | None:
        """The inode whose size a read just taught us (once per handle), for the kernel to forget
        the 0 it was told; None when nothing changed."""
        handle = self._files.get(fh)
        if not isinstance(handle, _ReadHandle) or self.reader is None:
            return None
        size = self.reader.known_size(handle.code)
        if size is None or size == handle.size_told:
            return None
        handle.size_told = size
        return handle.ino

    async def flush(self, fh: int) -> None:
        """close(): with --sync-uploads the last writer's close uploads and waits (EIO)."""
        handle = self._files.get(fh)
        if not self.options.sync_uploads or not isinstance(handle, SpoolHandle):
            return
        if not handle.writable or handle.upload_id is None or handle.finished:
            return
        live = self._writer().live.get(handle.upload_id)
        if live is not None and live.writers == 1:
            await self._upload_now(handle)

    async def fsync(self, fh: int) -> None:
        """Upload now and wait; EIO when it fails (a transient failure still retries)."""
        handle = self._files.get(fh)
        if not isinstance(handle, SpoolHandle) or not handle.writable or handle.finished:
            return
        if handle.upload_id is not None and self._writer().queue.get(handle.upload_id):
            await self._upload_now(handle)

    async def release(self, fh: int) -> None:
        handle = self._files.pop(fh, None)
        if isinstance(handle, _ReadHandle):
            assert self.reader is not None
            await self.reader.release(handle.handle)
        elif isinstance(handle, SpoolHandle):
            await self._release_spool(handle)

    # -- the write side: internals -------------------------------------------------------------
    def _writer(self) -> _Writer:
        if self.w is None:
            raise VfsError(errno.EROFS, READ_ONLY)
        return self.w

    def _dir_for_change(self, ino: int, name: str) -> Node:
        """The folder a change goes into: not /.vipfs, and never over /.vipfs itself."""
        node = self._node(ino)
        if node.key[0] == "virt":
            raise VfsError(errno.EROFS, f"{VIRTUAL_DIR} is read-only")
        if not node.is_dir:
            raise VfsError(errno.ENOTDIR)
        if node.ino == ROOT_INO and name == VIRTUAL_DIR:
            raise VfsError(errno.EPERM, f"/{VIRTUAL_DIR} is vipfs's own folder")
        return node

    async def _bounded(self, call: Awaitable[T], what: str) -> T:
        """Await an interactive call within the op budget (then EIO, never a hang)."""
        return await bounded(call, self.options.budget, what)

    def _new_handle(
        self, handle: _VirtualHandle | _ReadHandle | SpoolHandle, *, direct_io: bool = False
    ) -> Opened:
        fh = next(self._handles)
        self._files[fh] = handle
        return Opened(fh, direct_io=direct_io)

    async def _enqueue(
        self,
        name: str,
        fld_id: int,
        mode: int,
        *,
        replaces: str | None = None,
        tags: str | None = None,
        descr: str | None = None,
    ) -> Upload:
        w = self._writer()
        try:
            path = await w.spool.create()
        except OSError as exc:  # a full or broken spool disk: say so, not EIO
            raise VfsError(exc.errno or errno.EIO, f"creating a spool file: {exc}") from None
        row = Upload(
            spool=path,
            fld_id=fld_id,
            name=name,
            mtime_ns=time.time_ns(),
            mode=mode,
            replaces=replaces,
            tags=tags,
            descr=descr,
        )
        try:
            return await w.queue.enqueue(row)
        except sqlite3.Error as exc:  # no row names the (empty) spool file: it may go
            await w.spool.delete(path)
            raise VfsError(error_errno(exc), f"recording a new file in the queue: {exc}") from None

    async def _open_spool(self, node: Node, *, writable: bool, trunc: bool = False) -> Opened:
        w = self._writer()
        row = w.queue.get(node.upload_id)
        if row is None:
            raise VfsError(errno.ENOENT, f"{node.name}: no longer queued")
        await w.spool.open(row.spool)
        if writable:
            live = w.live.get(row.id)
            if live is None:
                size = 0 if trunc else await w.spool.size(row.spool)
                live = w.live[row.id] = Live(size, row.mtime_ns)
            live.writers += 1
            if trunc:
                await w.spool.truncate(row.spool, 0)
                live.size = 0
                live.wrote(0)
        return self._new_handle(SpoolHandle(node.ino, row.id, row.spool, writable=writable))

    async def _open_for_write(self, node: Node, flags: int) -> Opened:
        w = self._writer()
        trunc = bool(flags & os.O_TRUNC)
        if node.key[0] == "up":
            if await w.queue.reopen(node.upload_id, trunc=trunc):
                return await self._open_spool(node, writable=True, trunc=trunc)
            if trunc and await self._restart_upload(node):
                return await self._open_spool(node, writable=True, trunc=True)
        if node.key[0] == "up":  # an attempt is running: let it end (then it is a file)
            await self._bounded(w.queue.upload_now(node.upload_id), f"waiting for {node.name}")
            if node.key[0] == "up":  # it failed, and is not uploading any more
                await w.queue.reopen(node.upload_id, trunc=trunc)
                return await self._open_spool(node, writable=True, trunc=trunc)
        if trunc:
            await self._start_replace(node)
            return await self._open_spool(node, writable=True, trunc=True)
        # Not truncated: becomes a replacement if truncated to 0; a write first is refused.
        return self._new_handle(SpoolHandle(node.ino, None, None, writable=True, code=node.code))

    async def _restart_upload(self, node: Node) -> bool:
        """O_TRUNC of a file whose upload is running: its bytes are about to go, so the
        attempt is cancelled (whatever it stored is found by token and removed) and a new
        queue row takes the inode. False when the upload finished meanwhile."""
        w = self._writer()
        old = w.queue.get(node.upload_id)
        if old is None:
            return False
        new = await self._enqueue(
            old.name, old.fld_id, old.mode, replaces=old.replaces, tags=old.tags, descr=old.descr
        )
        if w.queue.get(old.id) is None or node.key != ("up", old.id):  # finished meanwhile
            await w.queue.discard(new.id)
            return False
        discarding = w.queue.discard(old.id)  # checked just above, with no await between
        w.live.pop(old.id, None)
        self._hide_pending(old.id)
        self.inodes.rekey(node.ino, ("up", new.id))
        self._show_pending(new)
        await discarding
        log.info("%s rewritten while uploading: upload %d restarts as %d", old.name, old.id, new.id)
        return True

    async def _start_replace(self, node: Node) -> None:
        """An uploaded file is being overwritten: a new upload takes its place (and inode);
        the old copy is removed once the new one is on the host."""
        w = self._writer()
        code = node.code
        parent = self._node(node.parent)
        meta = w.mirror.meta(code)
        row = await self._enqueue(
            node.name,
            parent.fld_id,
            meta.mode if meta and meta.mode else 0o644,
            replaces=code,
            tags=meta.tags if meta else None,
            descr=meta.descr if meta else None,
        )
        self.inodes.rekey(node.ino, ("up", row.id))
        node.entry = None
        view = self._views.get(parent.fld_id)
        if view is not None:
            view[1].remove(("file", code))
        self._show_pending(row)
        log.info("replacing %s (%s): upload %d takes its place", node.name, code, row.id)

    async def _truncate_uploaded(self, node: Node, size: int, handle: object) -> None:
        current = self._attr(node).size
        if size == current:
            return
        if size != 0:
            raise VfsError(errno.EPERM, IN_PLACE.format(name=node.name))
        w = self._writer()
        await self._start_replace(node)
        row = w.queue.get(node.upload_id)
        assert row is not None
        if isinstance(handle, SpoolHandle) and handle.upload_id is None:
            await w.spool.open(row.spool)  # the lazy handle becomes the replacement's writer
            handle.upload_id, handle.path = row.id, row.spool
            w.live[row.id] = Live(0, row.mtime_ns, writers=1)
        else:
            await w.queue.touch(row.id)  # replaced by an empty file, closed at once

    async def _setattr_queued(self, node: Node, changes: AttrChanges) -> None:
        w = self._writer()
        upload_id = node.upload_id
        row = w.queue.get(upload_id)
        if row is None:
            return
        live = w.live.get(upload_id)
        if changes.size is not None:
            if live is not None:
                if changes.size == 0 and row.state is UploadState.INCOMPLETE:
                    await w.queue.reopen(upload_id, trunc=True)  # starting over: complete again
                await w.spool.truncate(row.spool, changes.size)
                live.size = changes.size
                live.wrote(changes.size)
            elif await w.queue.reopen(upload_id, trunc=changes.size == 0):
                await w.spool.truncate(row.spool, changes.size)
                await w.queue.touch(upload_id)
            else:
                raise VfsError(errno.EBUSY, f"{node.name} is uploading right now")
        if changes.mode is not None:
            await w.queue.set_mode(upload_id, changes.mode & 0o7777)
        if changes.mtime_ns is not None:
            if live is not None:
                live.mtime_ns, live.dirty = changes.mtime_ns, False
            await w.queue.set_times(upload_id, changes.mtime_ns)

    async def _setattr_uploaded(self, node: Node, changes: AttrChanges) -> None:
        """chmod and utime of an uploaded file change only the local record (the host keeps
        neither), so rsync -a finds what it set."""
        w = self._writer()
        updates: dict[str, object] = {}
        if changes.mode is not None:
            updates["mode"] = changes.mode & 0o7777
        if changes.mtime_ns is not None:
            updates["mtime_ns"] = changes.mtime_ns
        if updates:
            fld_id = self._node(node.parent).fld_id
            await w.mirror.change(node.code, name_only(node.code, node.name, fld_id), **updates)

    async def _upload_now(self, handle: SpoolHandle) -> None:
        w = self._writer()
        assert handle.upload_id is not None
        live = w.live.get(handle.upload_id)
        if live is not None and live.dirty:
            await w.queue.set_times(handle.upload_id, live.mtime_ns)
            live.dirty = False
        await w.queue.upload_now(handle.upload_id)
        handle.finished = True

    async def _release_spool(self, handle: SpoolHandle) -> None:
        w = self._writer()
        if handle.path is not None:
            await w.spool.release(handle.path)
        if not handle.writable or handle.upload_id is None:
            return
        upload_id = handle.upload_id
        live = w.live.get(upload_id)
        if live is not None:
            live.writers -= 1
            if live.writers > 0:
                return
        try:
            await self._closed(handle, live)
        finally:  # only now: until the row has the size, stat must read it from here
            if live is not None and live.writers == 0 and w.live.get(upload_id) is live:
                del w.live[upload_id]

    async def _closed(self, handle: SpoolHandle, live: Live | None) -> None:
        """The last writer closed: the row takes the size and mtime, and its timer starts."""
        w = self._writer()
        assert handle.upload_id is not None
        row = w.queue.get(handle.upload_id)
        if row is None:
            return  # uploaded through fsync, or deleted while open
        if handle.finished and row.state is not UploadState.WRITING:
            return
        try:  # each call checks first: the file may be removed while this close runs
            if live is not None and live.dirty and w.queue.get(handle.upload_id):
                await w.queue.set_times(handle.upload_id, live.mtime_ns)
            if w.queue.get(handle.upload_id):
                await w.queue.touch(handle.upload_id)
        except KeyError:  # removed during touch's own await: nothing left to start
            return

    async def _check_replaceable(self, src: NodeKey, dst: NodeKey, name: str) -> None:
        """Refuse a rename onto `dst` before anything changes, as rename(2) would."""
        if src[0] == "dir" and dst[0] != "dir":
            raise VfsError(errno.ENOTDIR)
        if src[0] != "dir" and dst[0] == "dir":
            raise VfsError(errno.EISDIR)
        if dst[0] == "dir":
            assert isinstance(dst[1], int)
            if len(await self._view(dst[1])):
                raise VfsError(errno.ENOTEMPTY)
        if dst[0] != "up":
            await self._writer().names.check_removable(folder=dst[0] == "dir")

    def _ancestry(self, folder: Node) -> list[int]:
        """The inodes from `folder` up to the root. Parents are where the host last showed each
        folder, and a host may send a loop (A in B, B in A): a walk that meets a folder twice
        ends with ELOOP instead of running forever."""
        path: list[int] = []
        visited: set[int] = set()
        walk: Node | None = folder
        while walk is not None:
            if walk.ino in visited:
                raise VfsError(
                    errno.ELOOP,
                    f"the host's folders loop ({' → '.join(self._names(path, walk.ino))}); "
                    "fix it on the website",
                )
            path.append(walk.ino)
            visited.add(walk.ino)
            walk = None if walk.ino == ROOT_INO else self.inodes.get(walk.parent)
        return path

    def _names(self, inos: list[int], again: int) -> list[str]:
        nodes = (self.inodes.get(ino) for ino in [*inos, again])
        return [repr(n.name) if n is not None else "?" for n in nodes]

    async def _rename_folder(self, node: Node, src_dir: Node, dst_dir: Node, name: str) -> None:
        w = self._writer()
        if node.ino in self._ancestry(dst_dir):
            raise VfsError(errno.EINVAL, f"cannot move folder {node.name!r} under itself")
        fld_id = node.fld_id
        title = folder_title(name)
        await self._bounded(
            w.names.edit_folder(
                fld_id,
                name=title if name != node.name else None,
                parent=dst_dir.fld_id if dst_dir.ino != src_dir.ino else None,
            ),
            f"renaming folder {node.name}",
        )
        code = node.entry.code if isinstance(node.entry, Folder) else None
        folder = Folder(fld_id, as_listed(title), code)
        node.entry = folder
        self._drop(src_dir.fld_id, ("dir", fld_id))
        self._add(dst_dir.fld_id, folder)

    async def _rename_file(self, node: Node, src_dir: Node, dst_dir: Node, name: str) -> None:
        w = self._writer()
        code = node.code
        title = file_title(name)
        moved = dst_dir.ino != src_dir.ino
        old_title = file_title(node.name)
        await self._bounded(
            w.names.edit_file(
                code,
                f"renaming {node.name}",
                title=title if title != old_title else None,
                fld_id=dst_dir.fld_id if moved else None,
            ),
            f"renaming {node.name}",
        )
        await w.mirror.change(
            code, name_only(code, name, dst_dir.fld_id), name=name, fld_id=dst_dir.fld_id
        )
        entry = node.entry if isinstance(node.entry, FileEntry) else _synthetic(code, "", 0)
        entry = dataclasses.replace(entry, title=as_listed(title), fld_id=dst_dir.fld_id)
        node.entry = entry
        self._drop(src_dir.fld_id, ("file", code))
        self._add(dst_dir.fld_id, entry)
        self.infos.invalidate(src_dir.fld_id)

    async def _remove(
        self, parent: Node, name: str, key: NodeKey, entry: FileEntry | Folder | None
    ) -> None:
        """Remove a file (or, as a rename target, an empty folder) from the host and model."""
        w = self._writer()
        if key[0] == "up":
            assert isinstance(key[1], int)
            w.live.pop(key[1], None)
            row = w.queue.get(key[1])
            if row is not None:
                await w.queue.discard(key[1])
            self._hide_pending(key[1])
            if row is not None and row.replaces:  # it overwrote an uploaded file: that goes too
                await self._drop_replaced(row.replaces, name)
            return
        if key[0] == "dir":
            assert isinstance(key[1], int)
            fld_id = key[1]
            removed = await self._bounded(w.names.remove_folder(fld_id, name), f"removing {name}")
            self._drop(parent.fld_id, ("dir", fld_id))
            if isinstance(entry, Folder):
                self._trashed(removed, folder=entry)
            return
        assert isinstance(key[1], str)
        code = key[1]
        removed = await self._bounded(w.names.remove_file(code, name), f"removing {name}")
        self._drop(parent.fld_id, ("file", code))
        if isinstance(entry, FileEntry):
            self._trashed(removed, file=entry)
        await w.mirror.drop(code)

    def _trashed(
        self, removed: Removed, *, file: FileEntry | None = None, folder: Folder | None = None
    ) -> None:
        """Show what went into the trash folder there (and the folder, if it is new)."""
        if removed.trash is None:
            return
        trash = removed.trash
        if removed.trash_created:
            self._add(0, Folder(trash, TRASH, None))
            self.listings.put(trash, FolderListing([], []))
        if file is not None:
            moved = dataclasses.replace(file, fld_id=trash)
            self._add(trash, moved)
        if folder is not None:
            self._add(trash, folder)

    async def _clone_into(self, node: Node, request: str) -> str:
        """`vipfs clone`: file/clone of a code into this folder, under the asked name."""
        w = self._writer()
        try:
            asked = json.loads(request)
            code, name = str(asked["code"]), str(asked["name"])
        except (ValueError, KeyError, TypeError):
            raise VfsError(errno.EINVAL, 'clone wants {"code": ..., "name": ...}') from None
        if (await self._view(node.fld_id)).child(name) is not None:
            raise VfsError(errno.EEXIST, f"clone: {name} exists")

        async def clone() -> CloneResult:
            try:
                return await self.api.file_clone(code, title=file_title(name), fld_id=node.fld_id)
            except UnsupportedError:
                w.features.mark_unsupported("clone")
                raise

        result = await self._bounded(clone(), f"file/clone of {code}")
        source = w.mirror.meta(code)
        if source is not None:
            meta = dataclasses.replace(source, code=result.code, name=name, fld_id=node.fld_id)
        else:
            meta = name_only(result.code, name, node.fld_id)
        await w.mirror.put(meta)
        entry = _synthetic(result.code, as_listed(file_title(name)), node.fld_id)
        self._add(node.fld_id, entry)
        self.infos.invalidate(node.fld_id)  # the folder's file/info answer lacks the clone
        log.info("cloned %s into %s as %s (%s)", code, node.name or "/", name, result.code)
        return name

    async def _url_upload(self, node: Node, url: str) -> None:
        """`vipfs url-upload`: the host fetches the URL; the file shows once it has it."""
        code = await self._bounded(
            self.api.upload_url(url.strip(), fld_id=node.fld_id), "upload/url"
        )
        self.listings.invalidate(node.fld_id)
        log.info("URL upload into %s queued by the host as %s", node.name or "/", code)

    # -- the upload queue's callbacks (synchronous: one step of the model) ---------------------
    def _uploaded(self, row: Upload) -> None:
        assert self.w is not None and row.code is not None
        code = row.code  # the queue recorded it in the metadata (and tells of no discarded row)
        entry = _synthetic(code, as_listed(file_title(row.name)), row.fld_id)
        node = self.inodes.by_key(("up", row.id))
        if node is not None:
            self.inodes.rekey(node.ino, ("file", code))
            node.entry = entry
        self._hide_pending(row.id)
        self._add(row.fld_id, entry)
        self.w.live.pop(row.id, None)
        if row.replaces and row.replaces != code and self._nursery is not None:
            self._nursery.start_soon(self._drop_replaced, row.replaces, row.name)

    async def _drop_replaced(self, code: str, name: str) -> None:
        """The old copy of an overwritten file goes once the new one is on the host (or when
        the new one is removed before its upload)."""
        w = self._writer()
        meta = w.mirror.meta(code)  # before a move into the trash changes its folder
        try:
            removed = await w.names.remove_file(code, name)
        except VfsError as exc:
            log.warning("the old copy of %s (%s) stays on the host: %s", name, code, exc.why)
            return
        folders = {meta.fld_id} if meta is not None else set()
        old: FileEntry | None = None
        for fld_id, (raw, view) in self._views.items():  # the new version may have moved away
            for file in (*raw.files, *view.raw.files):
                if file.code == code:
                    folders.add(fld_id)
                    old = file
        for fld_id in folders:
            self._drop(fld_id, ("file", code))
        if old is None:  # no listing holds it any more: what the db knows stands in
            title = as_listed(file_title(meta.name if meta else name))
            old = _synthetic(code, title, meta.fld_id if meta else 0)
        self._trashed(removed, file=old)
        await w.mirror.drop(code)

    async def _status_json(self) -> dict[str, Any]:
        w = self._writer()
        lost = await trio.to_thread.run_sync(w.spool.lost_files)
        return {
            "pid": os.getpid(),  # so `vipfs umount` finds the process whatever its environment
            "queue": w.queue.status().to_json(),
            "lost_found": {"dir": str(w.spool.lost_found), "files": lost},
            "rate_limit": w.setup.rate_state() if w.setup.rate_state is not None else None,
            "features": w.features.as_dict(),
            "trash_folder": w.names.trash_id,
        }

    # -- internals -----------------------------------------------------------------------------
    def _node(self, ino: int) -> Node:
        node = self.inodes.get(ino)
        if node is None:
            raise VfsError(errno.ENOENT, f"inode {ino} is not known (forgotten)")
        return node

    def _adopt(
        self, key: NodeKey, name: str, entry: FileEntry | Folder | None, parent: int
    ) -> Node:
        node = self.inodes.node(key, name=name, parent=parent)
        if entry is not None:
            node.entry = entry
        return node

    async def _view(self, fld_id: int) -> Listing:
        """The folder as the user sees it: the server's listing under our own knowledge.
        Built whole once per fetched answer; our changes then edit it in place."""
        fetched = await self.listings.get(fld_id)
        cached = self._views.get(fld_id)
        if cached is not None and cached[0] is fetched:
            return cached[1]
        listing = None
        if len(fetched.files) + len(fetched.folders) >= OFF_LOOP_ENTRIES:
            listing = await self._build_off_loop(fld_id, fetched)
            cached = self._views.get(fld_id)
            if cached is not None and cached[0] is fetched:
                return cached[1]  # another caller won the race (and may have edited it since)
        if listing is None:
            listing = self._build_view(fld_id, fetched, self._view_inputs(fld_id, snapshot=False))
        self._views[fld_id] = (fetched, listing)
        return listing

    def _view_inputs(self, fld_id: int, *, snapshot: bool = True) -> _ViewInputs:
        """What a view of `fld_id` is built from. A build on the loop reads the mirror itself;
        only a worker thread needs (and pays for) a copy of it."""
        mirror: Mapping[str, str] = self.w.mirror if self.w is not None else {}
        hide, tokens = self._queued_stand_ins()
        exact = dict(mirror) if snapshot else mirror
        return _ViewInputs(exact, self._pending(fld_id), hide, tokens)

    def _build_view(self, fld_id: int, fetched: FolderListing, inputs: _ViewInputs) -> Listing:
        return Listing(
            fld_id,
            self.journal.apply(fld_id, fetched),
            exact=inputs.exact,
            pending=inputs.pending,
            hide=inputs.hide,
            tokens=inputs.tokens,
        )

    async def _build_off_loop(self, fld_id: int, fetched: FolderListing) -> Listing | None:
        """Name a big folder in a worker thread, so a 100,000-entry listing does not hold
        every other handler for seconds. The thread sees only snapshots; when our own changes
        touched the inputs meanwhile, or the folder has journal notes, None: build it here."""
        if self.journal.apply(fld_id, fetched) is not fetched:
            return None
        inputs = self._view_inputs(fld_id)

        def build() -> Listing:
            listing = Listing(
                fld_id,
                fetched,
                exact=inputs.exact,
                pending=inputs.pending,
                hide=inputs.hide,
                tokens=inputs.tokens,
            )
            listing.children  # noqa: B018  (sorted here too: readdir asks for it next)
            return listing

        listing = await offloop.run_sync(build, limiter=self._build_slot)
        if self.journal.apply(fld_id, fetched) is not fetched:
            return None
        return listing if self._view_inputs(fld_id) == inputs else None

    def _queued_stand_ins(self) -> tuple[set[str], set[str]]:
        """Codes and tokens of server files that queued rows stand for, in any folder."""
        codes: set[str] = set()
        tokens: set[str] = set()
        if self.w is None:
            return codes, tokens
        for ids in self._queued.values():
            for upload_id in ids:
                row = self.w.queue.get(upload_id)
                if row is not None:
                    codes.update(c for c in (row.code, row.replaces) if c)
                    tokens.add(row.token)
        return codes, tokens

    def _pending(self, fld_id: int) -> list[Pending]:
        if self.w is None:
            return []
        rows = (self.w.queue.get(i) for i in self._queued.get(fld_id, {}))
        return [_pending_of(row) for row in rows if row is not None]

    def _show_pending(self, row: Upload) -> None:
        """A file in the upload queue shows in its folder under its own name."""
        self._hide_pending(row.id)  # from where it showed before (a rename)
        self._queued.setdefault(row.fld_id, {})[row.id] = None
        self._queued_at[row.id] = row.fld_id
        view = self._views.get(row.fld_id)
        if view is not None:
            view[1].add(pending_entry(_pending_of(row)), None)

    def _hide_pending(self, upload_id: int) -> None:
        fld_id = self._queued_at.pop(upload_id, None)
        if fld_id is None:
            return
        self._queued.get(fld_id, {}).pop(upload_id, None)
        view = self._views.get(fld_id)
        if view is not None:
            view[1].remove(("up", upload_id))

    def _add(self, fld_id: int, entry: FileEntry | Folder) -> None:
        """Our own change shows at once, without a call, and survives a listing that lags."""
        self.journal.added(fld_id, entry)
        view = self._views.get(fld_id)
        if view is None:
            return
        if isinstance(entry, Folder):
            view[1].add(folder_entry(entry), entry)
        else:
            meta = self.w.mirror.meta(entry.code) if self.w is not None else None
            view[1].add(file_entry(entry, meta.name if meta else ""), entry)

    def _drop(self, fld_id: int, key: EntryKey) -> None:
        self.journal.removed(fld_id, key)
        view = self._views.get(fld_id)
        if view is not None:
            view[1].remove(key)  # type: ignore[arg-type]

    def _attr(self, node: Node) -> Attr:
        owner = self.options.owner
        kind = node.key[0]
        if kind == "dir":
            return owner.dir_attr(node.ino, self.mount_time_ns)
        if node.key == VIRTUAL_KEY:
            return owner.dir_attr(node.ino, self.mount_time_ns, writable=False)
        if kind == "virt":
            mode = self.virtual.mode(str(node.key[1]))
            return owner.file_attr(node.ino, 0, self.mount_time_ns, writable=False, mode=mode)
        if kind == "up":
            return self._queued_attr(node)
        meta = self.w.mirror.meta(node.code) if self.w is not None else None
        size = self.reader.known_size(node.code) if self.reader else None
        mtime_ns = self._mtime_ns(node.entry)
        mode = 0
        if meta is not None:
            size = meta.size if meta.size != UNKNOWN_SIZE else size
            mtime_ns = meta.mtime_ns or mtime_ns
            mode = meta.mode
        return owner.file_attr(node.ino, size or 0, mtime_ns, mode=mode)

    def _queued_attr(self, node: Node) -> Attr:
        assert self.w is not None
        row = self.w.queue.get(node.upload_id)
        live = self.w.live.get(node.upload_id)
        if row is None:  # discarded (unlinked while open)
            size = live.size if live else 0
            return self.options.owner.file_attr(node.ino, size, self.mount_time_ns)
        size = live.size if live is not None else row.size
        mtime_ns = live.mtime_ns if live is not None else row.mtime_ns
        return self.options.owner.file_attr(node.ino, size, mtime_ns, mode=row.mode)

    def _mtime_ns(self, entry: FileEntry | Folder | None) -> int:
        if isinstance(entry, FileEntry) and entry.uploaded is not None:
            try:
                return int(self.api.server_to_epoch(entry.uploaded) * 1e9)
            except (ValueError, OverflowError, OSError):
                pass
        return self.mount_time_ns

    async def _xattrs(self, node: Node) -> dict[str, bytes]:
        if node.key[0] == "up":
            return self._queued_xattrs(node)
        entry = node.entry
        if isinstance(entry, Folder):
            values = folder_xattrs(entry)
            values[PREFIX + "fld_id"] = str(entry.fld_id).encode()
            return values
        if node.key[0] == "dir":
            return {PREFIX + "fld_id": str(node.fld_id).encode()}
        if not isinstance(entry, FileEntry):
            return {}
        try:
            info = (await self.infos.get(entry.fld_id)).get(entry.code)
        except VfsError as exc:  # the listing still says most of it
            log.info("xattrs of %r without file/info: %s", node.name, exc.why)
            info = None
        return file_xattrs(entry, info, file_status(entry, info))

    def _queued_xattrs(self, node: Node) -> dict[str, bytes]:
        assert self.w is not None
        row = self.w.queue.get(node.upload_id)
        if row is None:
            return {}
        status = str(row.state)
        if row.state in (UploadState.FAILED, UploadState.INCOMPLETE):
            status = f"{row.state}: {row.last_error}"
        elif row.state is UploadState.QUEUED and row.attempts:
            status = f"retrying: {row.last_error} ({_attempts(row.attempts)} failed)"
        return {PREFIX + "status": status.encode()}

    async def _render(self, name: str) -> bytes:
        return await self._bounded(self.virtual.render(name), f"{VIRTUAL_DIR}/{name}")

    async def _fetch_listing(self, fld_id: int) -> FolderListing:
        return await self.api.folder_list(fld_id, files=True)

    async def _fetch_infos(self, fld_id: int) -> dict[str, FileInfo]:
        """file/info for every file of the folder: the client sends 50 codes per call."""
        listing = self.listings.peek(fld_id)
        if listing is not None:
            listing = self.journal.apply(fld_id, listing)
        codes = [f.code for f in listing.files] if listing is not None else []
        if not codes:
            return {}
        return {info.code: info for info in await self.api.file_info(codes)}


# -- small pure helpers ------------------------------------------------------------------------
def _all_items(status: Any) -> Iterator[Any]:
    groups = (status.writing, status.held, status.queued, status.uploading, status.failed)
    for group in (*groups, status.incomplete):
        yield from group


def _pending_of(row: Upload) -> Pending:
    return Pending(row.id, row.name, row.token, row.code, row.replaces)


def _synthetic(code: str, title: str, fld_id: int) -> FileEntry:
    """A listing record for a file the server has but a cached listing does not show yet."""
    return FileEntry(
        code=code,
        title=title,
        fld_id=fld_id,
        uploaded=None,
        length=None,
        views=None,
        canplay=False,
        public=False,
        thumbnail=None,
        link=None,
    )


def _parse_edit(key: str, text: str) -> dict[str, Any]:
    """An xattr value as the `file/edit` argument it sets."""
    if key in ("public", "adult"):
        value = text.strip().lower()
        if value not in ("0", "1", "true", "false", "yes", "no"):
            raise VfsError(errno.EINVAL, f"{PREFIX}{key} takes 0 or 1, not {text!r}")
        return {key: value in ("1", "true", "yes")}
    if key == "cat_id":
        try:
            return {key: int(text.strip())}
        except ValueError:
            raise VfsError(errno.EINVAL, f"{PREFIX}cat_id takes a number, not {text!r}") from None
    return {key: text}


def _attempts(count: int) -> str:
    return f"{count} attempt" + ("" if count == 1 else "s")
