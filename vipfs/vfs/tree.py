"""The tree: names to nodes, directory handles, and the changes that add or remove entries.

Owns: lookup, opendir/readdir/releasedir, mkdir, rmdir, unlink, and removal (delete or trash,
through the namespace) with the model step that follows it; the old copy of a replaced file.
Imports: `vipfs.api.records`, `vipfs.vfs` attrs, dto, errors, inodes, listing, model, names,
namespace (Removed, TRASH).

Each change does its host I/O first and then changes the model in one synchronous step.
"""

from __future__ import annotations

import dataclasses
import errno
import itertools
import logging
from collections.abc import Iterator
from dataclasses import dataclass

from vipfs.api.records import FileEntry, Folder, FolderListing
from vipfs.vfs.attrs import Attr
from vipfs.vfs.dto import DirEntry
from vipfs.vfs.errors import VfsError, title_for
from vipfs.vfs.inodes import (
    ROOT_INO,
    VIRTUAL_DIR_KEY,
    FileKey,
    FolderKey,
    NodeKey,
    QueuedKey,
    VirtualKey,
)
from vipfs.vfs.listing import VIRTUAL_DIR
from vipfs.vfs.model import Model
from vipfs.vfs.names import Titles, UnsendableName, as_listed, legacy_title
from vipfs.vfs.namespace import TRASH, Removed

log = logging.getLogger(__name__)

Record = FileEntry | Folder | None
DOTS = (".", "..")  # readdir's first two entries (`ls -a` shows them)
MAX_DEPTH = 1000  # folders `in_trash` climbs at most (the parents it follows are last seen)


@dataclass(slots=True)
class _DirHandle:
    ino: int
    entries: list[tuple[str, NodeKey, Record]]
    fld_id: int | None = None  # the folder whose view the entries came from (None: /.vipfs)


@dataclass(frozen=True, slots=True)
class Gone:
    """What a removal did on the host, for the model step that follows it."""

    key: NodeKey
    entry: Record
    removed: Removed | None = None  # None: a queued file, discarded locally
    replaced: str | None = None  # the uploaded file a discarded queued file overwrote


def synthetic(code: str, name: str, fld_id: int, titles: Titles) -> FileEntry:
    """A listing record for a file the server has, under the title vipfs gave it for `name`,
    while a cached listing does not show it yet. A name no title carries gets its legacy
    title, which the listing's LEGACY rule shows under the metadata's exact name."""
    try:
        title = titles.file_title(name)
    except UnsendableName:
        title = legacy_title(name)
    return FileEntry(
        code=code,
        title=as_listed(title),
        fld_id=fld_id,
        uploaded=None,
        length=None,
        views=None,
        canplay=False,
        public=False,
        thumbnail=None,
        link=None,
    )


class Tree:
    def __init__(self, model: Model) -> None:
        self.m = model
        self._dirs: dict[int, _DirHandle] = {}
        self._handles = itertools.count(1)

    # -- names ---------------------------------------------------------------------------------
    async def lookup(self, parent_ino: int, name: str) -> Attr:
        m = self.m
        parent = m.node(parent_ino)
        match parent.key:
            case VirtualKey() if parent.key == VIRTUAL_DIR_KEY:
                if name not in m.remote.virtual:
                    raise VfsError(errno.ENOENT)
                node = m.inodes.node(VirtualKey(name), name=name, parent=parent.ino)
            case FolderKey() if parent.ino == ROOT_INO and name == VIRTUAL_DIR:
                node = m.inodes.node(VIRTUAL_DIR_KEY, name=name, parent=ROOT_INO)
            case FolderKey(fld_id):
                child = (await m.views.get(fld_id)).child(name)
                if child is None:
                    raise VfsError(errno.ENOENT)
                node = m.adopt(child.key, child.name, child.entry, parent.ino)
            case _:
                raise VfsError(errno.ENOTDIR)
        m.inodes.remember(node.ino)
        return m.attr(node)

    # -- directories ---------------------------------------------------------------------------
    async def opendir(self, ino: int) -> int:
        m = self.m
        node = m.node(ino)
        entries: list[tuple[str, NodeKey, Record]]
        folder: int | None = None
        match node.key:
            case VirtualKey() if node.key == VIRTUAL_DIR_KEY:
                entries = [(name, VirtualKey(name), None) for name in m.remote.virtual.names()]
            case FolderKey(fld_id):
                folder = fld_id
                listing = await m.views.get(fld_id)
                # /.vipfs and /vipfs-trash are not among them: reachable by name only (as
                # ZFS's `.zfs`), so `rsync --delete` and `rm -r *` of the root never try to
                # remove the mount's own files or empty the trash, the user's safety net
                entries = [
                    (c.name, c.key, c.entry)
                    for c in listing.children
                    if not (fld_id == 0 and c.name == TRASH and isinstance(c.key, FolderKey))
                ]
            case _:
                raise VfsError(errno.ENOTDIR)
        fh = next(self._handles)
        self._dirs[fh] = _DirHandle(ino, entries, folder)
        return fh

    def readdir(self, fh: int, start_id: int) -> Iterator[DirEntry]:
        """`.` and `..`, then the entries of the handle's snapshot, from `start_id`; offsets
        are stable per handle.

        Each yielded entry has an inode but no reference yet: the caller calls `remember` when
        the kernel took it, or `drop_unreferenced` when it did not (the kernel takes none for
        `.` and `..`, which name nodes that exist already).
        """
        handle = self._dirs.get(fh)
        if handle is None:
            raise VfsError(errno.EBADF)
        yield from self._dots(handle, start_id)
        for index in range(max(start_id - len(DOTS), 0), len(handle.entries)):
            name, key, entry = handle.entries[index]
            now = self._listed_now(handle, name, key, entry)
            if now is None:
                continue  # removed (or renamed away) since opendir
            node = self.m.adopt(now[0], name, now[1], handle.ino)
            yield DirEntry(name, self.m.attr(node), index + len(DOTS) + 1)

    def _dots(self, handle: _DirHandle, start_id: int) -> Iterator[DirEntry]:
        """`.` (the directory) and `..` (where it was last seen; the root's own is the root)."""
        here = self.m.node(handle.ino)
        parent = self.m.inodes.get(here.parent) or self.m.node(ROOT_INO)
        for index, (name, node) in enumerate(zip(DOTS, (here, parent), strict=True)):
            if index >= start_id:
                yield DirEntry(name, self.m.attr(node), index + 1)

    def _listed_now(
        self, handle: _DirHandle, name: str, key: NodeKey, entry: Record
    ) -> tuple[NodeKey, Record] | None:
        """A snapshot entry as the folder's view holds it now. An upload that finished since
        opendir is its file (the same inode, its real attributes), a removed entry is gone:
        readdir never adopts a key the model has moved on from, which would make a new inode
        with invented attributes for readdirplus to hand the kernel."""
        listing = None if handle.fld_id is None else self.m.views.cached(handle.fld_id)
        if listing is None or isinstance(key, VirtualKey):
            return key, entry
        child = listing.child(name)
        return None if child is None else (child.key, child.entry)

    def releasedir(self, fh: int) -> None:
        self._dirs.pop(fh, None)

    # -- changes -------------------------------------------------------------------------------
    async def mkdir(self, parent_ino: int, name: str, mode: int | None = None) -> Attr:
        """`mode`: mkdir(2)'s (the umask applied), kept with the creation time as the folder's
        own attributes; None keeps the defaults."""
        m = self.m
        parent, parent_fld = m.dir_for_change(parent_ino, name)
        w = m.remote.writer()
        listing = await m.views.get(parent_fld)
        if listing.child(name) is not None:
            raise VfsError(errno.EEXIST)
        title = title_for(m.options.titles.folder_title, name)
        known = {c.key.fld_id for c in listing.children if isinstance(c.key, FolderKey)}
        fld_id = await m.bounded(w.names.create_folder(title, parent_fld, known), f"mkdir {name}")
        folder = Folder(fld_id, as_listed(title), None)
        m.views.add(parent_fld, folder)
        m.remote.listings.put(fld_id, FolderListing([], []))  # new: known empty, no call needed
        node = m.inodes.node(FolderKey(fld_id), name=name, parent=parent.ino)
        node.entry = folder
        m.inodes.remember(node.ino)
        await w.metadata.folder_made(fld_id, mode)
        return m.attr(node)

    async def rmdir(self, parent_ino: int, name: str) -> None:
        m = self.m
        _, parent_fld = m.dir_for_change(parent_ino, name)
        w = m.remote.writer()
        child = (await m.views.get(parent_fld)).child(name)
        if child is None:
            raise VfsError(errno.ENOENT)
        if not isinstance(child.key, FolderKey):
            raise VfsError(errno.ENOTDIR)
        fld_id = child.key.fld_id
        if len(await m.views.get(fld_id)):
            raise VfsError(errno.ENOTEMPTY)
        in_trash = self.in_trash(parent_ino) or (parent_fld == 0 and name == TRASH)
        what = w.names.remove_folder(fld_id, name, in_trash=in_trash)
        removed = await m.bounded(what, f"rmdir {name}")
        m.views.drop(parent_fld, child.key)
        m.remote.listings.invalidate(fld_id)
        if isinstance(child.entry, Folder):
            self.trashed(removed, folder=child.entry)
        await w.metadata.drop_folder(fld_id)

    async def unlink(self, parent_ino: int, name: str) -> None:
        _, parent_fld = self.m.dir_for_change(parent_ino, name)
        child = (await self.m.views.get(parent_fld)).child(name)
        if child is None:
            raise VfsError(errno.ENOENT)
        if isinstance(child.key, FolderKey):
            raise VfsError(errno.EISDIR)
        in_trash = self.in_trash(parent_ino)
        gone = await self.take_away(child.key, child.entry, name, in_trash=in_trash)
        self.gone(parent_fld, gone)
        await self.settle(gone, name)

    # -- removal: the host's part, the model's step, what follows ------------------------------
    def in_trash(self, ino: int) -> bool:
        """Whether directory `ino` is the trash folder or lies in it, by where its nodes were
        last seen (no call): the trash is the folder removals went to in this mount or, before
        any did, the one the root shows under that name."""
        trash = self.m.remote.writer().names.trash_id
        node = self.m.inodes.get(ino)
        for _ in range(MAX_DEPTH):
            if node is None or node.ino == ROOT_INO or not isinstance(node.key, FolderKey):
                return False
            if trash is not None and node.key.fld_id == trash:
                return True
            if trash is None and node.parent == ROOT_INO and node.name == TRASH:
                return True
            node = self.m.inodes.get(node.parent)
        return False

    async def take_away(
        self, key: NodeKey, entry: Record, name: str, *, in_trash: bool = False
    ) -> Gone:
        """Remove a file (or, as a rename target, an empty folder) from the host: I/O only.
        `in_trash`: it lies in the trash, where only a delete can remove it."""
        m = self.m
        w = m.remote.writer()
        match key:
            case QueuedKey(upload_id):
                w.live.pop(upload_id, None)
                row = w.queue.get(upload_id)
                if row is not None:
                    await w.queue.discard(upload_id)
                return Gone(key, entry, replaced=row.replaces if row is not None else None)
            case FolderKey(fld_id):
                what = w.names.remove_folder(fld_id, name, in_trash=in_trash)
            case FileKey(code):
                what = w.names.remove_file(code, name, in_trash=in_trash)
            case _:
                raise VfsError(errno.EROFS, f"{VIRTUAL_DIR} is read-only")
        return Gone(key, entry, removed=await m.bounded(what, f"removing {name}"))

    def gone(self, fld_id: int, gone: Gone) -> None:
        """The model step of a removal from folder `fld_id`."""
        match gone.key:
            case QueuedKey(upload_id):
                self.m.views.hide_pending(fld_id, upload_id)
            case FolderKey() | FileKey() as key:
                self.m.views.drop(fld_id, key)
                if gone.removed is not None and isinstance(gone.entry, FileEntry | Folder):
                    if isinstance(gone.entry, Folder):
                        self.trashed(gone.removed, folder=gone.entry)
                    else:
                        self.trashed(gone.removed, file=gone.entry)

    async def settle(self, gone: Gone, name: str) -> None:
        """After the step: the metadata forgets a removed file (or follows it into the trash);
        an overwritten one goes too."""
        w = self.m.remote.writer()
        if isinstance(gone.key, FileKey):
            await self.forget_file(gone.key.code, gone.removed)
        elif isinstance(gone.key, FolderKey):  # an empty folder a rename replaced
            await w.metadata.drop_folder(gone.key.fld_id)
        elif gone.replaced:  # it overwrote an uploaded file: that goes too
            await self.drop_replaced(gone.replaced, name)

    def trashed(
        self, removed: Removed, *, file: FileEntry | None = None, folder: Folder | None = None
    ) -> None:
        """Show what went into the trash folder there (and the folder, if it is new)."""
        if removed.trash is None:
            return
        trash = removed.trash
        views = self.m.views
        if removed.trash_created:
            views.add(0, Folder(trash, TRASH, None))
            self.m.remote.listings.put(trash, FolderListing([], []))
        if file is not None:
            views.add(trash, dataclasses.replace(file, fld_id=trash))
        if folder is not None:
            views.add(trash, folder)

    async def drop_replaced(self, code: str, name: str) -> None:
        """The old copy of an overwritten file goes once the new one is on the host (or when
        the new one is removed before its upload)."""
        m = self.m
        w = m.remote.writer()
        meta = w.metadata.meta(code)  # before a move into the trash changes its folder
        try:
            removed = await w.names.remove_file(code, name)
        except VfsError as exc:
            log.warning("the old copy of %s (%s) stays on the host: %s", name, code, exc.why)
            return
        folders = {meta.fld_id} if meta is not None else set()
        old: FileEntry | None = None
        for fld_id, view in m.views.all():  # the new version may have moved away
            for answer in (view.fetched, view.listing.raw):
                file = answer.file(code)
                if file is not None:
                    folders.add(fld_id)
                    old = file
        for fld_id in folders:
            m.views.drop(fld_id, FileKey(code))
        if old is None:  # no listing holds it any more: what the db knows stands in
            old = synthetic(
                code, meta.name if meta else name, meta.fld_id if meta else 0, m.views.titles
            )
        self.trashed(removed, file=old)
        await self.forget_file(code, removed)

    async def forget_file(self, code: str, removed: Removed | None) -> None:
        """A deleted file leaves the metadata; a trashed one keeps its record (its name, size,
        time and mode), now in the trash folder, so it shows there as it was."""
        metadata = self.m.remote.writer().metadata
        if removed is not None and removed.trash is not None:
            await metadata.update(code, fld_id=removed.trash)
        else:
            await metadata.drop(code)
