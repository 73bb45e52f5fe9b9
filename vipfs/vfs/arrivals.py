"""The upload queue's callback: a queued file is on the host now.

Owns: the one synchronous model step of an upload done — the metadata takes the row, the
inode moves from its queue row to the file code (same inode, same Node), the file shows in its
folder instead of the queued entry — and starting the removal of the copy it replaced.
Imports: `vipfs.vfs` inodes, metadb, model, names, tree.
"""

from __future__ import annotations

from vipfs.vfs.inodes import FileKey, QueuedKey
from vipfs.vfs.metadb import FileMeta, Upload
from vipfs.vfs.model import Model
from vipfs.vfs.names import as_listed, file_title
from vipfs.vfs.tree import Tree, synthetic


class Arrivals:
    def __init__(self, model: Model, tree: Tree) -> None:
        self.m = model
        self.tree = tree

    def uploaded(self, row: Upload) -> None:
        """Called by the queue, on the loop, with no await: one step of the model."""
        m = self.m
        w = m.remote.writer()
        code = row.code
        if code is None:
            return
        if not m.views.is_shown(row.id):  # discarded while its last step ran: the queue
            m.later(w.db.delete_file, code)  # removes the copy; forget what it recorded
            return
        w.mirror.set(
            FileMeta(
                code=code,
                name=row.name,
                fld_id=row.fld_id,
                size=row.size,
                mtime_ns=row.mtime_ns,
                mode=row.mode,
                tags=row.tags or "",
                descr=row.descr,
            )
        )
        entry = synthetic(code, as_listed(file_title(row.name)), row.fld_id)
        node = m.inodes.by_key(QueuedKey(row.id))
        if node is not None:
            m.inodes.rekey(node.ino, FileKey(code))
            node.entry = entry
        m.views.hide_pending(row.id)
        m.views.add(row.fld_id, entry)
        w.live.pop(row.id, None)
        if row.replaces and row.replaces != code:
            m.later(self.tree.drop_replaced, row.replaces, row.name)
