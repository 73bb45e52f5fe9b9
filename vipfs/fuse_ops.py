"""pyfuse3 handlers that only translate: bytes ↔ str, `Attr` → `EntryAttributes`, errors.

Owns: `Operations`, the pyfuse3 handlers, and the one VfsError -> FUSEError translation.
Imports: pyfuse3, `vipfs.vfs` attrs, defaults, dto, errors and the `Facade` protocol (facade); never
`vipfs.api` or the emulator.

All filesystem logic lives in the facade (`vipfs.vfs.filesystem.Filesystem`, or a mirror's
`vipfs.vfs.mirror.MirrorFs`). One decorator maps a
`VfsError` to `FUSEError(errno)` (its reason logged once) and anything else to a logged `EIO`:
an exception escaping a handler would end the whole mount.
"""

from __future__ import annotations

import errno
import functools
import logging
import os
from collections.abc import Callable, Coroutine, Sequence
from typing import Any, ParamSpec, TypeVar

import pyfuse3

from vipfs.vfs import defaults
from vipfs.vfs.attrs import Attr
from vipfs.vfs.dto import AttrChanges, Opened
from vipfs.vfs.errors import VfsError
from vipfs.vfs.facade import Facade

log = logging.getLogger(__name__)

P = ParamSpec("P")
R = TypeVar("R")

NEGATIVE_TIMEOUT = 1.0  # seconds the kernel may remember that a name does not exist
_QUIET = {errno.ENOENT, errno.ENODATA, errno.ENOTSUP}  # routine answers: never worth a log line


class _Reasons:
    """Log each distinct reason once, so a repeated refusal does not flood the log."""

    def __init__(self) -> None:
        self._seen: set[tuple[int, str]] = set()

    def report(self, exc: VfsError) -> None:
        if not exc.why or (exc.errno, exc.why) in self._seen:
            return
        self._seen.add((exc.errno, exc.why))
        level = logging.INFO if exc.errno in _QUIET else logging.WARNING
        log.log(level, "%s: %s", errno.errorcode.get(exc.errno, exc.errno), exc.why)


_reasons = _Reasons()


def translated(
    handler: Callable[P, Coroutine[Any, Any, R]],
) -> Callable[P, Coroutine[Any, Any, R]]:
    """VfsError → FUSEError(errno) with its reason logged once; anything else → logged EIO."""

    @functools.wraps(handler)
    async def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return await handler(*args, **kwargs)
        except pyfuse3.FUSEError:
            raise
        except VfsError as exc:
            _reasons.report(exc)
            raise pyfuse3.FUSEError(exc.errno) from None
        except Exception:
            log.exception("%s failed", handler.__name__)
            raise pyfuse3.FUSEError(errno.EIO) from None

    return wrapper


class Operations(pyfuse3.Operations):
    enable_writeback_cache = False

    def __init__(self, fs: Facade, *, attr_timeout: float = defaults.ATTR_TIMEOUT) -> None:
        super().__init__()
        self.fs = fs
        self.attr_timeout = attr_timeout

    def entry(self, attr: Attr) -> pyfuse3.EntryAttributes:
        out = pyfuse3.EntryAttributes()
        out.st_ino = attr.ino
        out.generation = 0
        out.entry_timeout = self.attr_timeout
        out.attr_timeout = self.attr_timeout
        out.st_mode = attr.mode
        out.st_nlink = attr.nlink
        out.st_uid = attr.uid
        out.st_gid = attr.gid
        out.st_rdev = 0
        out.st_size = attr.size
        out.st_blksize = attr.blksize
        out.st_blocks = attr.blocks
        out.st_atime_ns = attr.mtime_ns
        out.st_mtime_ns = attr.mtime_ns
        out.st_ctime_ns = attr.mtime_ns
        return out

    @translated
    async def lookup(
        self, parent_inode: int, name: bytes, ctx: pyfuse3.RequestContext
    ) -> pyfuse3.EntryAttributes:
        try:
            attr = await self.fs.lookup(parent_inode, os.fsdecode(name))
        except VfsError as exc:
            if exc.errno != errno.ENOENT:
                raise
            miss = pyfuse3.EntryAttributes()  # a negative entry: the kernel caches the miss
            miss.st_ino = 0
            miss.entry_timeout = NEGATIVE_TIMEOUT
            return miss
        return self.entry(attr)

    async def forget(self, inode_list: Sequence[tuple[int, int]]) -> None:
        try:
            self.fs.forget(list(inode_list))
        except Exception:  # forget must never raise
            log.exception("forget failed")

    @translated
    async def getattr(self, inode: int, ctx: pyfuse3.RequestContext) -> pyfuse3.EntryAttributes:
        return self.entry(await self.fs.getattr(inode))

    @translated
    async def opendir(self, inode: int, ctx: pyfuse3.RequestContext) -> int:
        return await self.fs.opendir(inode)

    @translated
    async def readdir(self, fh: int, start_id: int, token: pyfuse3.ReaddirToken) -> None:
        for item in self.fs.readdir(fh, start_id):
            dots = item.name in (".", "..")  # the kernel takes no reference for these two
            if not pyfuse3.readdir_reply(
                token, os.fsencode(item.name), self.entry(item.attr), item.next_id
            ):
                if not dots:
                    self.fs.drop_unreferenced(item.attr.ino)
                break
            if not dots:
                self.fs.remember(item.attr.ino)

    @translated
    async def releasedir(self, fh: int) -> None:
        self.fs.releasedir(fh)

    @translated
    async def getxattr(self, inode: int, name: bytes, ctx: pyfuse3.RequestContext) -> bytes:
        return await self.fs.getxattr(inode, os.fsdecode(name))

    @translated
    async def listxattr(self, inode: int, ctx: pyfuse3.RequestContext) -> Sequence[bytes]:
        return [os.fsencode(n) for n in await self.fs.listxattr(inode)]

    @translated
    async def setxattr(
        self, inode: int, name: bytes, value: bytes, ctx: pyfuse3.RequestContext
    ) -> None:
        created = await self.fs.setxattr(inode, os.fsdecode(name), value)
        if created is not None:  # the kernel may remember a miss of this name: drop it
            pyfuse3.invalidate_entry_async(inode, os.fsencode(created), ignore_enoent=True)

    @translated
    async def removexattr(self, inode: int, name: bytes, ctx: pyfuse3.RequestContext) -> None:
        await self.fs.removexattr(inode, os.fsdecode(name))

    @translated
    async def setattr(
        self,
        inode: int,
        attr: pyfuse3.EntryAttributes,
        fields: pyfuse3.SetattrFields,
        fh: int | None,
        ctx: pyfuse3.RequestContext,
    ) -> pyfuse3.EntryAttributes:
        mtime_ns = None
        if fields.update_mtime:
            mtime_ns = attr.st_mtime_ns
        changes = AttrChanges(
            size=attr.st_size if fields.update_size else None,
            mtime_ns=mtime_ns,
            mode=attr.st_mode if fields.update_mode else None,
        )
        return self.entry(await self.fs.setattr(inode, changes, fh))

    @translated
    async def mkdir(
        self, parent_inode: int, name: bytes, mode: int, ctx: pyfuse3.RequestContext
    ) -> pyfuse3.EntryAttributes:
        return self.entry(await self.fs.mkdir(parent_inode, os.fsdecode(name), mode))

    @translated
    async def rmdir(self, parent_inode: int, name: bytes, ctx: pyfuse3.RequestContext) -> None:
        await self.fs.rmdir(parent_inode, os.fsdecode(name))

    @translated
    async def unlink(self, parent_inode: int, name: bytes, ctx: pyfuse3.RequestContext) -> None:
        await self.fs.unlink(parent_inode, os.fsdecode(name))

    @translated
    async def rename(
        self,
        parent_inode_old: int,
        name_old: bytes,
        parent_inode_new: int,
        name_new: bytes,
        flags: int,
        ctx: pyfuse3.RequestContext,
    ) -> None:
        await self.fs.rename(
            parent_inode_old,
            os.fsdecode(name_old),
            parent_inode_new,
            os.fsdecode(name_new),
            flags,
        )

    @translated
    async def link(
        self, inode: int, new_parent_inode: int, new_name: bytes, ctx: pyfuse3.RequestContext
    ) -> pyfuse3.EntryAttributes:
        raise VfsError(errno.EPERM, "hard links are not supported: copy the file (or vipfs clone)")

    @translated
    async def symlink(
        self, parent_inode: int, name: bytes, target: bytes, ctx: pyfuse3.RequestContext
    ) -> pyfuse3.EntryAttributes:
        raise VfsError(errno.EPERM, "symbolic links are not supported: the host stores videos")

    @translated
    async def mknod(
        self, parent_inode: int, name: bytes, mode: int, rdev: int, ctx: pyfuse3.RequestContext
    ) -> pyfuse3.EntryAttributes:
        raise VfsError(errno.EPERM, "only regular files and folders can be made here")

    @translated
    async def statfs(self, ctx: pyfuse3.RequestContext) -> pyfuse3.StatvfsData:
        value = self.fs.statfs()
        out = pyfuse3.StatvfsData()
        out.f_bsize = value.bsize
        out.f_frsize = value.bsize
        out.f_blocks = value.blocks
        out.f_bfree = value.bfree
        out.f_bavail = value.bfree
        out.f_files = value.files
        out.f_ffree = value.ffree
        out.f_favail = value.ffree
        out.f_namemax = value.namemax
        return out

    @staticmethod
    def file_info(opened: Opened) -> pyfuse3.FileInfo:
        return pyfuse3.FileInfo(fh=opened.fh, direct_io=opened.direct_io)

    @translated
    async def open(self, inode: int, flags: int, ctx: pyfuse3.RequestContext) -> pyfuse3.FileInfo:
        return self.file_info(await self.fs.open(inode, flags, ctx.pid))

    @translated
    async def create(
        self, parent_inode: int, name: bytes, mode: int, flags: int, ctx: pyfuse3.RequestContext
    ) -> tuple[pyfuse3.FileInfo, pyfuse3.EntryAttributes]:
        opened, attr = await self.fs.create(parent_inode, os.fsdecode(name), mode, flags)
        return self.file_info(opened), self.entry(attr)

    @translated
    async def write(self, fh: int, off: int, buf: bytes) -> int:
        return await self.fs.write(fh, off, buf)

    @translated
    async def flush(self, fh: int) -> None:
        await self.fs.flush(fh)

    @translated
    async def fsync(self, fh: int, datasync: bool) -> None:
        await self.fs.fsync(fh)

    @translated
    async def read(self, fh: int, off: int, size: int) -> bytes:
        data = await self.fs.read(fh, off, size)
        ino = self.fs.size_learned(fh)
        if ino is not None:  # stat should show the size now, not after attr_timeout
            try:
                pyfuse3.invalidate_inode(ino, attr_only=True)  # cheap: writeback cache is off
            except OSError as exc:
                log.debug("could not invalidate inode %d: %s", ino, exc)
        return data

    @translated
    async def release(self, fh: int) -> None:
        await self.fs.release(fh)
