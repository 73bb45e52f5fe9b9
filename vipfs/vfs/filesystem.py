"""The filesystem, as an async facade of plain-typed operations: what fuse_ops translates.

Each operation does its network I/O first (through the loaders, bounded and sharing calls),
then changes the model in one synchronous step, so concurrent handlers on the trio loop never
see half an update. Errors leave here only as `VfsError`.
"""

from __future__ import annotations

import errno
import itertools
import logging
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Protocol

import trio

from vipfs.api.errors import ApiError
from vipfs.api.protocol import XvsApi
from vipfs.api.records import FileEntry, FileInfo, Folder
from vipfs.vfs.attrs import Attr, Owner, Statfs
from vipfs.vfs.errors import VfsError
from vipfs.vfs.inodes import ROOT_INO, InodeTable, Node, NodeKey
from vipfs.vfs.listing import VIRTUAL_DIR, Listing
from vipfs.vfs.loader import Clock, Loader
from vipfs.vfs.quota import Quota
from vipfs.vfs.virtual import Virtual
from vipfs.vfs.xattrs import file_status, file_xattrs, folder_xattrs

log = logging.getLogger(__name__)

VIRTUAL_KEY: NodeKey = ("virt", "")
NO_READER = "reading needs file/direct_link, which this host does not enable"


class FileReader(Protocol):
    """The read cache as the facade uses it (vipfs.vfs.readcache.ReadCache)."""

    async def open(self, code: str) -> int: ...
    async def read(self, handle: int, offset: int, size: int) -> bytes: ...
    async def release(self, handle: int) -> None: ...
    def known_size(self, code: str) -> int | None: ...


@dataclass(frozen=True, slots=True)
class Options:
    owner: Owner = field(default_factory=Owner.current)
    dir_cache_time: float = 300.0
    budget: float = 25.0  # seconds an interactive call may wait on the API (then EIO)


@dataclass(frozen=True, slots=True)
class DirEntry:
    name: str
    attr: Attr
    next_id: int


@dataclass(frozen=True, slots=True)
class Opened:
    fh: int
    direct_io: bool = False
    keep_cache: bool = False


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


class Filesystem:
    def __init__(
        self,
        api: XvsApi,
        *,
        options: Options | None = None,
        reader: FileReader | None = None,
        clock: Clock = time.monotonic,
    ) -> None:
        self.api = api
        self.options = options or Options()
        self.reader = reader
        self.inodes = InodeTable()
        self.listings: Loader[int, Listing] = Loader(
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
        self.mount_time_ns = time.time_ns()
        self._dirs: dict[int, _DirHandle] = {}
        self._files: dict[int, _VirtualHandle | _ReadHandle] = {}
        self._handles = itertools.count(1)

    # -- background ----------------------------------------------------------------------------
    async def run(self) -> None:
        """Background work of the model (the quota refresher); start in the mount's nursery."""
        await self.quota.run()

    def forget_all(self) -> None:
        """SIGHUP: drop every cached listing and file/info; inodes stay (the kernel holds them)."""
        self.listings.forget_all()
        self.infos.forget_all()
        log.info("forgot all cached listings")

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
            listing = await self.listings.get(parent.fld_id)
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
            listing = await self.listings.get(node.fld_id)
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

    def statfs(self) -> Statfs:
        return self.quota.statfs()

    # -- files ---------------------------------------------------------------------------------
    async def open(self, ino: int, flags: int) -> Opened:
        node = self._node(ino)
        if node.is_dir:
            raise VfsError(errno.EISDIR)
        if flags & os.O_ACCMODE != os.O_RDONLY:
            why = "/.vipfs is read-only" if node.key[0] == "virt" else "writing is not supported"
            raise VfsError(errno.EROFS, why)
        if node.key[0] == "virt":
            assert isinstance(node.key[1], str)
            content = await self._render(node.key[1])
            fh = next(self._handles)
            self._files[fh] = _VirtualHandle(content)
            return Opened(fh, direct_io=True)
        if self.reader is None:
            raise VfsError(errno.EACCES, NO_READER)
        try:
            handle = await self.reader.open(node.code)
        except ApiError as exc:
            raise VfsError(errno.EIO, f"opening {node.name!r}: {exc}") from None
        fh = next(self._handles)
        self._files[fh] = _ReadHandle(handle, ino, node.code, self.reader.known_size(node.code))
        # Until a direct link told the size, getattr says 0 and the kernel's page cache would
        # read nothing: bypass it so reads reach the read cache, which knows where the end is.
        return Opened(fh, direct_io=self.reader.known_size(node.code) is None)

    async def read(self, fh: int, offset: int, size: int) -> bytes:
        handle = self._files.get(fh)
        if handle is None:
            raise VfsError(errno.EBADF)
        if isinstance(handle, _VirtualHandle):
            return handle.content[offset : offset + size]
        assert self.reader is not None
        try:
            return await self.reader.read(handle.handle, offset, size)
        except ApiError as exc:
            raise VfsError(errno.EIO, f"reading: {exc}") from None

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

    async def release(self, fh: int) -> None:
        handle = self._files.pop(fh, None)
        if isinstance(handle, _ReadHandle):
            assert self.reader is not None
            await self.reader.release(handle.handle)

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

    def _attr(self, node: Node) -> Attr:
        owner = self.options.owner
        kind = node.key[0]
        if kind == "dir":
            return owner.dir_attr(node.ino, self.mount_time_ns)
        if node.key == VIRTUAL_KEY:
            return owner.dir_attr(node.ino, self.mount_time_ns, writable=False)
        if kind == "virt":
            return owner.file_attr(node.ino, 0, self.mount_time_ns, writable=False)
        size = self.reader.known_size(node.code) if self.reader else None
        return owner.file_attr(node.ino, size or 0, self._mtime_ns(node.entry))

    def _mtime_ns(self, entry: FileEntry | Folder | None) -> int:
        if isinstance(entry, FileEntry) and entry.uploaded is not None:
            try:
                return int(self.api.server_to_epoch(entry.uploaded) * 1e9)
            except (ValueError, OverflowError, OSError):
                pass
        return self.mount_time_ns

    async def _xattrs(self, node: Node) -> dict[str, bytes]:
        entry = node.entry
        if isinstance(entry, Folder):
            return folder_xattrs(entry)
        if not isinstance(entry, FileEntry):
            return {}
        try:
            info = (await self.infos.get(entry.fld_id)).get(entry.code)
        except VfsError as exc:  # the listing still says most of it
            log.info("xattrs of %r without file/info: %s", node.name, exc.why)
            info = None
        return file_xattrs(entry, info, file_status(entry, info))

    async def _render(self, name: str) -> bytes:
        try:
            with trio.fail_after(self.options.budget):
                return await self.virtual.render(name)
        except (ApiError, trio.TooSlowError) as exc:
            raise VfsError(errno.EIO, f"{VIRTUAL_DIR}/{name}: {exc}") from None

    async def _fetch_listing(self, fld_id: int) -> Listing:
        return Listing(fld_id, await self.api.folder_list(fld_id, files=True))

    async def _fetch_infos(self, fld_id: int) -> dict[str, FileInfo]:
        """file/info for every file of the folder: the client sends 50 codes per call."""
        listing = self.listings.peek(fld_id)
        codes = listing.file_codes() if listing is not None else []
        if not codes:
            return {}
        return {info.code: info for info in await self.api.file_info(codes)}
