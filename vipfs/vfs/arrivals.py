"""The upload queue's callbacks: a queued file is on the host now, or the queue dropped it.

Owns: the one synchronous model step of an upload done (the queue has recorded the file in
the metadata already, and tells of no discarded row): the inode moves from its queue row to
the file code (same inode, same Node), the file shows in its folder instead of the queued
entry; the folder's `file/info` answer, which lacks the new file, is dropped (the next
`getfattr` asks again, and shows the host's length at once); and starting the removal of the
copy it replaced. And the step of a row the queue dropped by itself (an empty temp file left
idle): its entry goes from its folder.
Imports: `vipfs.vfs` inodes, metadb (rows), model (and its remote's loaders), tree.
"""

from __future__ import annotations

from vipfs.vfs.inodes import FileKey, QueuedKey
from vipfs.vfs.metadb import Upload
from vipfs.vfs.model import Model
from vipfs.vfs.tree import Tree, synthetic


class Arrivals:
    def __init__(self, model: Model, tree: Tree) -> None:
        self.m = model
        self.tree = tree

    def uploaded(self, row: Upload) -> None:
        """Called by the queue, on the loop, with no await: one step of the model."""
        m = self.m
        code = row.code
        if code is None:
            return
        entry = synthetic(code, row.name, row.fld_id, m.views.titles)
        node = m.inodes.by_key(QueuedKey(row.id))
        if node is not None:
            m.inodes.rekey(node.ino, FileKey(code))
            node.entry = entry
        m.views.hide_pending(row.fld_id, row.id)
        m.views.add(row.fld_id, entry)
        m.remote.infos.invalidate(row.fld_id)  # the next getfattr asks file/info, with the new code
        m.remote.writer().live.pop(row.id, None)
        if row.replaces and row.replaces != code:
            m.later(self.tree.drop_replaced, row.replaces, row.name)

    def dropped(self, row: Upload) -> None:
        """Called by the queue, on the loop, with no await: the row and its spool are gone."""
        self.m.views.hide_pending(row.fld_id, row.id)
        self.m.remote.writer().live.pop(row.id, None)
