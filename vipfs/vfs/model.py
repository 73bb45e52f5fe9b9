"""The state the facade's parts share, and the few helpers every part needs.

Owns: the inode table, the folder views, the mount time, the background nursery, and the
lookups every part repeats (the node of an inode, the folder a change goes into, a bounded
call, a node's attributes).  Imports: `vipfs.api.records`, `vipfs.vfs` attrs, dto, errors,
inodes, listing (the reserved name), nodeattrs, remote, views.

rclone's `vfs.VFS` plays this part for its Dir and File nodes: one object the parts hold,
so each part owns an operation and none owns another part's state.
"""

from __future__ import annotations

import errno
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

import trio

from vipfs.api.records import FileEntry, Folder
from vipfs.vfs import nodeattrs
from vipfs.vfs.attrs import Attr
from vipfs.vfs.dto import FileReader, Options
from vipfs.vfs.errors import VfsError, bounded
from vipfs.vfs.inodes import ROOT_INO, FileKey, FolderKey, InodeTable, Node, NodeKey, VirtualKey
from vipfs.vfs.listing import VIRTUAL_DIR
from vipfs.vfs.remote import Remote
from vipfs.vfs.views import Views

T = TypeVar("T")


class Model:
    def __init__(self, remote: Remote, options: Options, reader: FileReader | None) -> None:
        self.remote = remote
        self.options = options
        self.reader = reader
        self.inodes = InodeTable()
        if remote.writes is not None:  # status.json names each queued file's folder
            remote.writes.folder_path = self.inodes.folder_path
            remote.writes.urls.folder_path = self.inodes.folder_path
            remote.writes.urls.locate = self.locate_file
        remote.events.folder_path = self.inodes.folder_path  # events name files by path
        self.views = Views(remote, options.titles)
        self.mount_time_ns = time.time_ns()
        self.nursery: trio.Nursery | None = None  # set while `Filesystem.run` runs

    def node(self, ino: int) -> Node:
        node = self.inodes.get(ino)
        if node is None:
            raise VfsError(errno.ENOENT, f"inode {ino} is not known (forgotten)")
        return node

    def adopt(self, key: NodeKey, name: str, entry: FileEntry | Folder | None, parent: int) -> Node:
        """The node of a child just seen in a listing, with that listing's record."""
        node = self.inodes.node(key, name=name, parent=parent)
        if entry is not None:
            node.entry = entry
        return node

    def dir_for_change(self, ino: int, name: str) -> tuple[Node, int]:
        """The folder a change goes into (node and fld_id): not /.vipfs, never over it."""
        node = self.node(ino)
        match node.key:
            case VirtualKey():
                raise VfsError(errno.EROFS, f"{VIRTUAL_DIR} is read-only")
            case FolderKey(fld_id):
                if node.ino == ROOT_INO and name == VIRTUAL_DIR:
                    raise VfsError(errno.EPERM, f"/{VIRTUAL_DIR} is vipfs's own folder")
                return node, fld_id
            case _:
                raise VfsError(errno.ENOTDIR)

    def folder_of(self, node: Node) -> int:
        """The host folder a node was last seen in (its parent's fld_id)."""
        parent = self.node(node.parent)
        if not isinstance(parent.key, FolderKey):
            raise VfsError(errno.ENOTDIR)
        return parent.key.fld_id

    async def bounded(self, call: Awaitable[T], what: str) -> T:
        """Await an interactive call within the op budget (then EIO, never a hang)."""
        return await bounded(call, self.options.budget, what)

    def attr(self, node: Node) -> Attr:
        return nodeattrs.attr_of(self, node)

    async def locate_file(self, fld_id: int, code: str) -> tuple[str | None, str | None]:
        """A host file's path in the mount and its watch link (a URL upload's event)."""
        listing = await self.views.get(fld_id)
        child = next((c for c in listing.children if c.key == FileKey(code)), None)
        if child is None:
            return None, None
        link = child.entry.link if isinstance(child.entry, FileEntry) else None
        return self.remote.events.path_of(fld_id, child.name), link

    def later(self, fn: Callable[..., Awaitable[object]], *args: object) -> None:
        """Start background work of the model (dropped when the model is not running)."""
        if self.nursery is not None:
            self.nursery.start_soon(fn, *args)
