"""rename(2) over the host: a folder by `folder/edit`, a file by `file/edit`, a queued file in
the queue only; onto an existing name, that entry is removed (deleted or trashed) after,
unless a queued file only repeats its bytes (`Replace.repeated`): then it stays.

Owns: rename's checks (replace semantics, RENAME_NOREPLACE, EXCHANGE refused, a folder under
itself, host folder loops), its order of host calls, and its one model step.
Imports: `vipfs.api.records`, `vipfs.vfs` errors, inodes, model, names, replace (the same
content rule), tree, writing.

The order: every host call first (the move, then the removal of the entry it replaces), then
the model changes in one synchronous step, so a failed call leaves the model as it was and no
handler ever sees half a rename. The step reads the node's kind again: an upload that finished
during an await gave the same node its file code, and the rename follows it.
"""

from __future__ import annotations

import dataclasses
import errno

from vipfs.api.records import FileEntry, Folder
from vipfs.vfs.errors import VfsError, title_for
from vipfs.vfs.inodes import ROOT_INO, FileKey, FolderKey, Node, NodeKey, QueuedKey
from vipfs.vfs.metadata import name_only
from vipfs.vfs.model import Model
from vipfs.vfs.names import as_listed
from vipfs.vfs.replace import Replace
from vipfs.vfs.tree import Gone, Tree, synthetic

RENAME_NOREPLACE = 1
RENAME_EXCHANGE = 2


class Rename:
    def __init__(self, model: Model, tree: Tree, replace: Replace) -> None:
        self.m = model
        self.tree = tree
        self.replace = replace

    async def rename(
        self, old_parent: int, old_name: str, new_parent: int, new_name: str, flags: int = 0
    ) -> None:
        if flags & RENAME_EXCHANGE:
            raise VfsError(errno.EINVAL, "rename: RENAME_EXCHANGE is not supported")
        m = self.m
        src_dir, src_fld = m.dir_for_change(old_parent, old_name)
        dst_dir, dst_fld = m.dir_for_change(new_parent, new_name)
        m.remote.writer()
        await m.views.get(src_fld)
        dst = (await m.views.get(dst_fld)).child(new_name)
        src_view = m.views.cached(src_fld)  # as it is now, after the awaits
        src = src_view.child(old_name) if src_view is not None else None
        if src is None:
            raise VfsError(errno.ENOENT)
        if dst is not None and dst.key == src.key:
            return
        # Nodes, not keys, from here on: an upload finishing during an await below gives the
        # same node its file code, and the rename must follow it.
        node = m.adopt(src.key, src.name, src.entry, src_dir.ino)
        target = None if dst is None else m.adopt(dst.key, dst.name, dst.entry, dst_dir.ino)
        if target is not None:
            if flags & RENAME_NOREPLACE:
                raise VfsError(errno.EEXIST)
            if await self.replace.repeated(node, target, new_name):
                return  # the same bytes again: the target stays (nothing removed, nothing sent)
            await self._check_replaceable(node.key, target.key)
        await self._move(node, src_dir, dst_dir, src_fld, dst_fld, new_name)
        gone: Gone | None = None
        if target is not None and target.key != node.key:
            try:
                gone = await self.tree.take_away(target.key, target.entry, new_name)
            except VfsError:
                self._moved(node, src_fld, dst_fld, dst_dir.ino, new_name)  # that part happened
                raise
        if gone is not None:  # the one step: the target's name goes to the renamed entry
            self.tree.gone(dst_fld, gone)
        self._moved(node, src_fld, dst_fld, dst_dir.ino, new_name)
        if gone is not None:
            await self.tree.settle(gone, new_name)

    async def _check_replaceable(self, src: NodeKey, dst: NodeKey) -> None:
        """Refuse a rename onto `dst` before anything changes, as rename(2) would."""
        if isinstance(src, FolderKey) and not isinstance(dst, FolderKey):
            raise VfsError(errno.ENOTDIR)
        if not isinstance(src, FolderKey) and isinstance(dst, FolderKey):
            raise VfsError(errno.EISDIR)
        if isinstance(dst, FolderKey) and len(await self.m.views.get(dst.fld_id)):
            raise VfsError(errno.ENOTEMPTY)
        if not isinstance(dst, QueuedKey):
            await self.m.remote.writer().names.check_removable(folder=isinstance(dst, FolderKey))

    # -- the host's part -----------------------------------------------------------------------
    async def _move(
        self, node: Node, src_dir: Node, dst_dir: Node, src_fld: int, dst_fld: int, name: str
    ) -> None:
        w = self.m.remote.writer()
        match node.key:
            case FolderKey(fld_id):
                if node.ino in self._ancestry(dst_dir):
                    raise VfsError(errno.EINVAL, f"cannot move folder {node.name!r} under itself")
                titles = self.m.options.titles
                title = title_for(titles.folder_title, name) if name != node.name else None
                await self.m.bounded(
                    w.names.edit_folder(
                        fld_id,
                        name=title,
                        parent=dst_fld if dst_dir.ino != src_dir.ino else None,
                    ),
                    f"renaming folder {node.name}",
                )
            case QueuedKey(upload_id):
                if w.queue.get(upload_id) is None:
                    raise VfsError(errno.ENOENT, f"{node.name} was removed meanwhile")
                title_for(self.m.options.titles.file_title, name)  # EINVAL before the move
                await w.queue.rename(upload_id, name, dst_fld)
                if isinstance(node.key, FileKey):  # it finished meanwhile, maybe under the
                    meta = w.metadata.meta(node.key.code)  # old name: rename the file now
                    if meta is None or (meta.name, meta.fld_id) != (name, dst_fld):
                        await self._move_file(node, node.key.code, src_fld, dst_fld, name)
            case FileKey(code):
                await self._move_file(node, code, src_fld, dst_fld, name)

    async def _move_file(
        self, node: Node, code: str, src_fld: int, dst_fld: int, name: str
    ) -> None:
        """`file/edit` of the title and/or folder, then the metadata's record of the name."""
        w = self.m.remote.writer()
        title = title_for(self.m.options.titles.file_title, name) if name != node.name else None
        await self.m.bounded(
            w.names.edit_file(
                code,
                f"renaming {node.name}",
                title=title,
                fld_id=dst_fld if dst_fld != src_fld else None,
            ),
            f"renaming {node.name}",
        )
        await w.metadata.change(code, name_only(code, name, dst_fld), name=name, fld_id=dst_fld)

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
            walk = None if walk.ino == ROOT_INO else self.m.inodes.get(walk.parent)
        return path

    def _names(self, inos: list[int], again: int) -> list[str]:
        nodes = (self.m.inodes.get(ino) for ino in [*inos, again])
        return [repr(n.name) if n is not None else "?" for n in nodes]

    # -- the model's step ----------------------------------------------------------------------
    def _moved(self, node: Node, src_fld: int, dst_fld: int, dst_ino: int, name: str) -> None:
        """The renamed entry shows under its new name in its new folder (synchronous); the
        folder's next listing checks that the host took the name."""
        m = self.m
        match node.key:
            case FolderKey(fld_id) as key:
                code = node.entry.code if isinstance(node.entry, Folder) else None
                folder = Folder(fld_id, as_listed(m.options.titles.folder_title(name)), code)
                node.entry = folder
                m.views.drop(src_fld, key)
                m.views.add(dst_fld, folder)
                m.views.expect(dst_fld, key, name)
            case QueuedKey(upload_id):
                m.views.hide_pending(src_fld, upload_id)
                row = m.remote.writer().queue.get(upload_id)
                if row is not None:
                    m.views.show_pending(row)
            case FileKey(code) as key:
                entry = synthetic(code, name, dst_fld, m.views.titles)
                if isinstance(node.entry, FileEntry):
                    entry = dataclasses.replace(node.entry, title=entry.title, fld_id=dst_fld)
                node.entry = entry
                m.views.drop(src_fld, key)
                m.views.add(dst_fld, entry)
                m.views.expect(dst_fld, key, name)
                m.remote.infos.invalidate(src_fld)
        node.name, node.parent = name, dst_ino
