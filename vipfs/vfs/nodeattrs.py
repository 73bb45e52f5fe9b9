"""What `stat` shows of a node: the attributes of each node kind.

Owns: the size, mtime and mode rules of folders, host files, queued files and `/.vipfs`.
Imports: `vipfs.api.records`, `vipfs.vfs` attrs, inodes, metadata (UNKNOWN_SIZE), and the
model (type only).

A folder's mode and mtime are what chmod/utime (or mkdir) recorded in the metadata, else the
defaults (the mount's time, 0755 under the umask): the host keeps neither. Entries made or
removed in a folder leave its mtime alone: changes made on the website or from another machine
could not move it, so a bump for ours alone would look like a change time it cannot be (and
rsync -a sets folder times after writing into them anyway).
A host file's size and mtime come from the metadata vipfs keeps where it knows them (it
uploaded the file, or chmod/utime were called), else the read cache's size and the listing's
upload time; a queued file's from its open writers, else its queue row.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from vipfs.api.records import FileEntry, Folder
from vipfs.vfs.attrs import Attr
from vipfs.vfs.inodes import VIRTUAL_DIR_KEY, FileKey, FolderKey, Node, QueuedKey, VirtualKey
from vipfs.vfs.metadata import UNKNOWN_SIZE

if TYPE_CHECKING:
    from vipfs.vfs.model import Model


def attr_of(m: Model, node: Node) -> Attr:
    owner = m.options.owner
    match node.key:
        case FolderKey(fld_id):
            return _folder_attr(m, node, fld_id)
        case VirtualKey() if node.key == VIRTUAL_DIR_KEY:
            return owner.dir_attr(node.ino, m.mount_time_ns, writable=False)
        case VirtualKey(name):
            mode = m.remote.virtual.mode(name)
            return owner.file_attr(node.ino, 0, m.mount_time_ns, writable=False, mode=mode)
        case QueuedKey(upload_id):
            return _queued_attr(m, node, upload_id)
        case FileKey(code):
            return _file_attr(m, node, code)


def _folder_attr(m: Model, node: Node, fld_id: int) -> Attr:
    writes = m.remote.writes
    meta = writes.metadata.folder(fld_id) if writes is not None else None
    if meta is None:
        return m.options.owner.dir_attr(node.ino, m.mount_time_ns)
    mtime_ns = m.mount_time_ns if meta.mtime_ns is None else meta.mtime_ns
    return m.options.owner.dir_attr(node.ino, mtime_ns, mode=meta.mode)


def _file_attr(m: Model, node: Node, code: str) -> Attr:
    writes = m.remote.writes
    meta = writes.metadata.meta(code) if writes is not None else None
    size = m.reader.known_size(code) if m.reader else None
    mtime_ns = _mtime_ns(m, node.entry)
    mode = 0
    if meta is not None:
        size = meta.size if meta.size != UNKNOWN_SIZE else size
        mtime_ns = meta.mtime_ns or mtime_ns
        mode = meta.mode
    return m.options.owner.file_attr(node.ino, size or 0, mtime_ns, mode=mode)


def _queued_attr(m: Model, node: Node, upload_id: int) -> Attr:
    writes = m.remote.writer()
    row = writes.queue.get(upload_id)
    live = writes.live.get(upload_id)
    if row is None:  # discarded (unlinked while open)
        size = live.size if live else 0
        return m.options.owner.file_attr(node.ino, size, m.mount_time_ns)
    size = live.size if live is not None else row.size
    mtime_ns = live.mtime_ns if live is not None else row.mtime_ns
    return m.options.owner.file_attr(node.ino, size, mtime_ns, mode=row.mode)


def _mtime_ns(m: Model, entry: FileEntry | Folder | None) -> int:
    if isinstance(entry, FileEntry) and entry.uploaded is not None:
        try:
            return int(m.remote.api.server_to_epoch(entry.uploaded) * 1e9)
        except (ValueError, OverflowError, OSError):
            pass
    return m.mount_time_ns
