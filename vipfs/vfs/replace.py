"""setattr, and replacing a file: truncate or O_TRUNC of an uploaded file makes a new upload
that takes the file's place (and inode); the old copy goes once the new one is on the host.

Owns: setattr of every node kind (size, mode, mtime; a folder's mode and mtime go to the
metadata), the in-place rule (an uploaded file is replaced whole, never changed in place), the
inode's move between a file code and a new queue row, and back to the file when a renamed
queued file only repeats its bytes (the same content rule is the queue's: `repeats`).
Imports: `vipfs.vfs` dto, errors, inodes, listing, metadb (states), model, writing.
"""

from __future__ import annotations

import errno
import logging

import trio

from vipfs.vfs.attrs import Attr
from vipfs.vfs.dto import AttrChanges
from vipfs.vfs.errors import VfsError
from vipfs.vfs.inodes import FileKey, FolderKey, Node, QueuedKey, VirtualKey
from vipfs.vfs.listing import VIRTUAL_DIR
from vipfs.vfs.metadata import name_only
from vipfs.vfs.metadb import Upload, UploadState
from vipfs.vfs.model import Model
from vipfs.vfs.writing import Live, SpoolHandle

log = logging.getLogger(__name__)
RELEASE_WAIT = 2.0  # seconds a rename waits for the release of a just-closed repeat

IN_PLACE = (
    "{name}: uploaded files cannot be changed in place (the host keeps whole files only); "
    "truncate or overwrite it (O_TRUNC) to replace it"
)


class Replace:
    def __init__(self, model: Model) -> None:
        self.m = model

    async def setattr(self, node: Node, changes: AttrChanges, handle: object) -> Attr:
        m = self.m
        if isinstance(node.key, VirtualKey):
            raise VfsError(errno.EROFS, f"{VIRTUAL_DIR} is read-only")
        if m.remote.writes is None:
            if changes.size is not None:
                m.remote.writer()  # EROFS
            return m.attr(node)  # nowhere to keep a mode or mtime: accept, like chmod on FAT
        if isinstance(node.key, FolderKey):
            await self._setattr_folder(node.key.fld_id, changes)
            return m.attr(node)
        if isinstance(node.key, FileKey) and changes.size is not None:
            await self._truncate_uploaded(node, node.key.code, changes.size, handle)
        match node.key:
            case QueuedKey(upload_id):
                await self._setattr_queued(node, upload_id, changes)
            case FileKey(code):
                await self._setattr_uploaded(node, code, changes)
        return m.attr(node)

    async def start_replace(self, node: Node, code: str) -> Upload:
        """An uploaded file is being overwritten: a new upload takes its place (and inode);
        the old copy is removed once the new one is on the host."""
        m = self.m
        w = m.remote.writer()
        fld_id = m.folder_of(node)
        meta = w.metadata.meta(code)
        row = await w.enqueue(
            node.name,
            fld_id,
            meta.mode if meta and meta.mode else 0o644,
            replaces=code,
            tags=meta.tags if meta else None,
            descr=meta.descr if meta else None,
        )
        m.inodes.rekey(node.ino, QueuedKey(row.id))
        node.entry = None
        m.views.unshow(fld_id, FileKey(code))
        m.views.show_pending(row)
        log.info("replacing %s (%s): upload %d takes its place", node.name, code, row.id)
        return row

    async def repeated(self, node: Node, target: Node, name: str) -> bool:
        """A rename of a closed queued file onto an uploaded file whose bytes it repeats (rsync
        writing a file again because it cannot read it back): nothing is uploaded and nothing
        removed; the known file takes the row's mtime and mode, and the renamed inode (the
        one the kernel now has under `name`). False when it is no repeat: rename as usual."""
        if not isinstance(node.key, QueuedKey) or not isinstance(target.key, FileKey):
            return False
        m = self.m
        w = m.remote.writer()
        upload_id, code = node.key.upload_id, target.key.code
        live = w.live.get(upload_id)
        if live is not None:
            # FUSE sends the release after close(2) has returned, and rsync renames at once:
            # a last release still on its way is waited for, briefly, when the sizes match
            meta = w.metadata.meta(code)
            if meta is None or meta.size != live.size:
                return False
            with trio.move_on_after(RELEASE_WAIT):
                await live.closed.wait()
            if not live.closed.is_set():  # still open for writing: its bytes are not final
                return False
        row = await w.queue.repeats(upload_id, code)
        if row is None:
            return False
        m.views.hide_pending(row.fld_id, row.id)
        if node.key == QueuedKey(upload_id):  # the one step: the inode stands for the file
            m.inodes.rekey(node.ino, FileKey(code))
            node.entry = target.entry
            node.name, node.parent = name, target.parent
        await w.metadata.update(code, mtime_ns=row.mtime_ns, mode=row.mode)
        return True

    async def restart_upload(self, node: Node, upload_id: int) -> bool:
        """O_TRUNC of a file whose upload is running: its bytes are about to go, so the
        attempt is cancelled (whatever it stored is found by token and removed) and a new
        queue row takes the inode. False when the upload finished meanwhile."""
        m = self.m
        w = m.remote.writer()
        old = w.queue.get(upload_id)
        if old is None:
            return False
        new = await w.enqueue(
            old.name, old.fld_id, old.mode, replaces=old.replaces, tags=old.tags, descr=old.descr
        )
        if w.queue.get(old.id) is None or node.key != QueuedKey(old.id):  # finished meanwhile
            await w.queue.discard(new.id)
            return False
        discarding = w.queue.discard(old.id)  # checked just above, with no await between
        w.live.pop(old.id, None)
        m.views.hide_pending(old.fld_id, old.id)
        m.inodes.rekey(node.ino, QueuedKey(new.id))
        m.views.show_pending(new)
        await discarding
        log.info("%s rewritten while uploading: upload %d restarts as %d", old.name, old.id, new.id)
        return True

    async def _truncate_uploaded(self, node: Node, code: str, size: int, handle: object) -> None:
        if size == self.m.attr(node).size:
            return
        if size != 0:
            raise VfsError(errno.EPERM, IN_PLACE.format(name=node.name))
        w = self.m.remote.writer()
        row = await self.start_replace(node, code)
        if isinstance(handle, SpoolHandle) and handle.upload_id is None:
            await w.spool.open(row.spool)  # the lazy handle becomes the replacement's writer
            handle.upload_id, handle.path = row.id, row.spool
            w.live[row.id] = Live(0, row.mtime_ns, writers=1)
        else:
            await w.queue.touch(row.id)  # replaced by an empty file, closed at once

    async def _setattr_queued(self, node: Node, upload_id: int, changes: AttrChanges) -> None:
        w = self.m.remote.writer()
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

    async def _setattr_folder(self, fld_id: int, changes: AttrChanges) -> None:
        """chmod and utime of a folder are kept in the metadata by fld_id (the host keeps
        neither, and a rename keeps the fld_id), so `rsync -a` finds what it set, remount or
        not. A folder's size cannot be set: the kernel answers truncate with EISDIR."""
        mode = None if changes.mode is None else changes.mode & 0o7777
        await self.m.remote.writer().metadata.change_folder(
            fld_id, mode=mode, mtime_ns=changes.mtime_ns
        )

    async def _setattr_uploaded(self, node: Node, code: str, changes: AttrChanges) -> None:
        """chmod and utime of an uploaded file change only the local record (the host keeps
        neither), so rsync -a finds what it set."""
        w = self.m.remote.writer()
        updates: dict[str, object] = {}
        if changes.mode is not None:
            updates["mode"] = changes.mode & 0o7777
        if changes.mtime_ns is not None:
            updates["mtime_ns"] = changes.mtime_ns
        if updates:
            fld_id = self.m.folder_of(node)
            await w.metadata.change(code, name_only(code, node.name, fld_id), **updates)
