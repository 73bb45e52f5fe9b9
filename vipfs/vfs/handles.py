"""Open files: open … release, create, read and write, flush and fsync.

Owns: the file handle table and each handle's life — a `/.vipfs` snapshot, a read-cache
handle, or a spool handle (a queued file's bytes; a lazy write handle on an uploaded file,
which becomes a replacement only if truncated to 0) — and the read policy.
Imports: `vipfs.api.errors`, `vipfs.vfs` dto, errors, inodes, listing, metadb (states), model,
readpolicy, replace, writing.
"""

from __future__ import annotations

import errno
import itertools
import logging
import os
from dataclasses import dataclass

from vipfs.api.errors import ApiError
from vipfs.vfs.attrs import Attr
from vipfs.vfs.dto import Opened
from vipfs.vfs.errors import VfsError, from_api, title_for
from vipfs.vfs.inodes import FileKey, FolderKey, Node, QueuedKey, VirtualKey
from vipfs.vfs.listing import VIRTUAL_DIR
from vipfs.vfs.metadb import UploadState
from vipfs.vfs.model import Model
from vipfs.vfs.readpolicy import ReadPolicy
from vipfs.vfs.replace import IN_PLACE, Replace
from vipfs.vfs.writing import Live, SpoolHandle

log = logging.getLogger(__name__)

NO_READER = "reading needs file/direct_link, which this host does not enable"


@dataclass(slots=True)
class _VirtualHandle:
    content: bytes


@dataclass(slots=True)
class _ReadHandle:
    handle: int
    ino: int
    code: str
    size_told: int | None  # the size getattr reported when the file was opened


Handle = _VirtualHandle | _ReadHandle | SpoolHandle


class Handles:
    def __init__(self, model: Model, replace: Replace, read_policy: ReadPolicy) -> None:
        self.m = model
        self.replace = replace
        self.read_policy = read_policy
        self._files: dict[int, Handle] = {}
        self._fhs = itertools.count(1)

    def get(self, fh: int | None) -> Handle | None:
        return self._files.get(fh) if fh is not None else None

    async def open(self, ino: int, flags: int, pid: int = 0) -> Opened:
        m = self.m
        node = m.node(ino)
        if node.is_dir:
            raise VfsError(errno.EISDIR)
        writing = flags & os.O_ACCMODE != os.O_RDONLY
        match node.key:
            case VirtualKey(name):
                if writing:
                    raise VfsError(errno.EROFS, f"{VIRTUAL_DIR} is read-only")
                what = f"{VIRTUAL_DIR}/{name}"
                content = await m.bounded(m.remote.virtual.render(name), what)
                return self._new(_VirtualHandle(content), direct_io=True)
            case _ if writing:
                return await self.open_for_write(node, flags)
            case QueuedKey(upload_id):
                self.read_policy.check(pid)
                return await self._open_spool(node, upload_id, writable=False)
            case FileKey(code):
                self.read_policy.check(pid)
                return await self._open_read(node, code)
            case _:
                raise VfsError(errno.EISDIR)

    async def _open_read(self, node: Node, code: str) -> Opened:
        reader = self.m.reader
        if reader is None:
            raise VfsError(errno.EACCES, NO_READER)
        try:
            handle = await reader.open(code)
        except ApiError as exc:
            raise from_api(exc, f"opening {node.name!r}") from None
        return self._new(
            _ReadHandle(handle, node.ino, code, reader.known_size(code)),
            # Until a direct link told the size, getattr says 0 and the kernel's page cache
            # would read nothing: bypass it so reads reach the read cache.
            direct_io=reader.known_size(code) is None,
        )

    async def create(
        self, parent_ino: int, name: str, mode: int, flags: int
    ) -> tuple[Opened, Attr]:
        m = self.m
        parent, parent_fld = m.dir_for_change(parent_ino, name)
        w = m.remote.writer()
        existing = (await m.views.get(parent_fld)).child(name)
        if existing is not None:  # the kernel thought it missing (a name that just appeared)
            if flags & os.O_EXCL or isinstance(existing.key, FolderKey):
                raise VfsError(errno.EEXIST)
            node = m.adopt(existing.key, existing.name, existing.entry, parent.ino)
            opened = await self.open_for_write(node, flags)
            m.inodes.remember(node.ino)
            return opened, m.attr(node)
        title_for(m.options.titles.file_title, name)  # EINVAL now, not a failed upload later
        row = await w.enqueue(name, parent_fld, mode & 0o7777 or 0o644)
        node = m.inodes.node(QueuedKey(row.id), name=name, parent=parent.ino)
        m.inodes.remember(node.ino)
        await w.spool.open(row.spool)
        w.live[row.id] = Live(0, row.mtime_ns, writers=1)
        m.views.show_pending(row)
        opened = self._new(SpoolHandle(node.ino, row.id, row.spool, writable=True))
        return opened, m.attr(node)

    async def read(self, fh: int, offset: int, size: int) -> bytes:
        match self._files.get(fh):
            case None:
                raise VfsError(errno.EBADF)
            case _VirtualHandle(content):
                return content[offset : offset + size]
            case SpoolHandle(path=None):
                raise VfsError(errno.EBADF, "this handle was opened for writing only")
            case SpoolHandle(path=path) if path is not None:
                return await self.m.remote.writer().spool.read(path, offset, size)
            case _ReadHandle(handle=handle) if self.m.reader is not None:
                try:
                    return await self.m.reader.read(handle, offset, size)
                except ApiError as exc:
                    raise from_api(exc, "reading") from None
            case _:
                raise VfsError(errno.EBADF)

    async def write(self, fh: int, offset: int, data: bytes) -> int:
        handle = self._files.get(fh)
        if not isinstance(handle, SpoolHandle) or not handle.writable:
            raise VfsError(errno.EBADF)
        w = self.m.remote.writer()
        node = self.m.node(handle.ino)
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
        if not isinstance(handle, _ReadHandle) or self.m.reader is None:
            return None
        size = self.m.reader.known_size(handle.code)
        if size is None or size == handle.size_told:
            return None
        handle.size_told = size
        return handle.ino

    async def flush(self, fh: int) -> None:
        """close(): with --sync-uploads the last writer's close uploads and waits (EIO)."""
        handle = self._files.get(fh)
        if not self.m.options.sync_uploads or not isinstance(handle, SpoolHandle):
            return
        if not handle.writable or handle.upload_id is None or handle.finished:
            return
        live = self.m.remote.writer().live.get(handle.upload_id)
        if live is not None and live.writers == 1:
            await self._upload_now(handle, handle.upload_id)

    async def fsync(self, fh: int) -> None:
        """The bytes reach the spool's disk; then upload now and wait, EIO when it fails (a
        transient failure still retries). A file the queue keeps local (a held temp name)
        stops at the spool."""
        handle = self._files.get(fh)
        if not isinstance(handle, SpoolHandle) or not handle.writable or handle.finished:
            return
        w = self.m.remote.writer()
        if handle.path is not None:
            await w.spool.sync(handle.path)
        if handle.upload_id is not None and w.queue.get(handle.upload_id):
            await self._upload_now(handle, handle.upload_id)

    async def release(self, fh: int) -> None:
        handle = self._files.pop(fh, None)
        if isinstance(handle, _ReadHandle) and self.m.reader is not None:
            await self.m.reader.release(handle.handle)
        elif isinstance(handle, SpoolHandle):
            await self._release_spool(handle)

    # -- spool handles -------------------------------------------------------------------------
    def _new(self, handle: Handle, *, direct_io: bool = False) -> Opened:
        fh = next(self._fhs)
        self._files[fh] = handle
        return Opened(fh, direct_io=direct_io)

    async def _open_spool(
        self, node: Node, upload_id: int, *, writable: bool, trunc: bool = False
    ) -> Opened:
        w = self.m.remote.writer()
        row = w.queue.get(upload_id)
        if row is None:
            raise VfsError(errno.ENOENT, f"{node.name}: no longer queued")
        if writable:  # a spool file shared with a mirror's other members is copied first
            await w.spool.unshare(row.spool)
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
        return self._new(SpoolHandle(node.ino, row.id, row.spool, writable=writable))

    async def open_for_write(self, node: Node, flags: int) -> Opened:
        w = self.m.remote.writer()
        trunc = bool(flags & os.O_TRUNC)
        if isinstance(node.key, QueuedKey):
            upload_id = node.key.upload_id
            if await w.queue.reopen(upload_id, trunc=trunc):
                return await self._open_spool(node, upload_id, writable=True, trunc=trunc)
            if trunc and await self.replace.restart_upload(node, upload_id):
                return await self._open_spool(node, node.key.upload_id, writable=True, trunc=True)
        if isinstance(node.key, QueuedKey):  # an attempt is running: let it end (a file then)
            waiting = w.queue.upload_now(node.key.upload_id)
            await self.m.bounded(waiting, f"waiting for {node.name}")
            if isinstance(node.key, QueuedKey):  # it failed, and is not uploading any more
                upload_id = node.key.upload_id
                await w.queue.reopen(upload_id, trunc=trunc)
                return await self._open_spool(node, upload_id, writable=True, trunc=trunc)
        if not isinstance(node.key, FileKey):
            raise VfsError(errno.EISDIR)
        code = node.key.code
        if trunc:
            row = await self.replace.start_replace(node, code)
            return await self._open_spool(node, row.id, writable=True, trunc=True)
        # Not truncated: becomes a replacement if truncated to 0; a write first is refused.
        return self._new(SpoolHandle(node.ino, None, None, writable=True, code=code))

    async def _upload_now(self, handle: SpoolHandle, upload_id: int) -> None:
        w = self.m.remote.writer()
        live = w.live.get(upload_id)
        if live is not None and live.dirty:
            await w.queue.set_times(upload_id, live.mtime_ns)
            live.dirty = False
        if await w.queue.upload_now(upload_id):
            handle.finished = True

    async def _release_spool(self, handle: SpoolHandle) -> None:
        w = self.m.remote.writer()
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
            await self._closed(handle, upload_id, live)
        finally:  # only now: until the row has the size, stat must read it from here
            if live is not None and live.writers == 0:
                if w.live.get(upload_id) is live:
                    del w.live[upload_id]
                live.closed.set()

    async def _closed(self, handle: SpoolHandle, upload_id: int, live: Live | None) -> None:
        """The last writer closed: the row takes the size and mtime, and its timer starts."""
        w = self.m.remote.writer()
        row = w.queue.get(upload_id)
        if row is None:
            return  # uploaded through fsync, or deleted while open
        if handle.finished and row.state is not UploadState.WRITING:
            return
        try:  # each call checks first: the file may be removed while this close runs
            if live is not None and live.dirty and w.queue.get(upload_id):
                await w.queue.set_times(upload_id, live.mtime_ns)
            if w.queue.get(upload_id):
                await w.queue.touch(upload_id)
        except KeyError:  # removed during touch's own await: nothing left to start
            return
