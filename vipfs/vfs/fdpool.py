"""A bounded set of open file descriptors over many files: least recently used closed first.

Owns: `FdPool`, the capped, least-recently-used set of open read-cache descriptors.
Imports: trio and the standard library only.

The read cache may hold thousands of cache files. Keeping one descriptor open per file ran the
mount into `EMFILE` after about 20,000 reads, and then every open, read and write of the mount
failed. So descriptors live here, capped: a file's descriptor is opened on demand, kept while
recently used, and closed when the cap needs room or its file goes idle. A descriptor in use
by a worker thread (`pread`/`pwrite`) is pinned and never closed under it; pinned descriptors may
briefly push the count past the cap, never past cap + the number of I/O calls in flight.

Bookkeeping runs on the trio loop in synchronous steps; `open` and `close` go to worker threads.
"""

from __future__ import annotations

import contextlib
import errno
import os
import resource
from collections import OrderedDict
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import trio

DEFAULT_LIMIT = 64


def default_limit() -> int:
    """64, or a quarter of the soft RLIMIT_NOFILE when that is lower (a mount started under a
    tight `ulimit -n` still leaves most descriptors to FUSE, SQLite, spool files and sockets)."""
    soft, _hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY or soft <= 0:
        return DEFAULT_LIMIT
    return max(4, min(DEFAULT_LIMIT, soft // 4))


@dataclass(slots=True)
class _Slot:
    fd: int
    pins: int = 0
    doomed: bool = False  # close as soon as the last pin goes


class FdPool:
    """Descriptors of regular files by path, at most `limit` open while unpinned."""

    def __init__(self, limit: int | None = None, *, flags: int = os.O_RDWR) -> None:
        self._limit = None if limit is None else max(1, limit)
        self._flags = flags | os.O_CLOEXEC | os.O_NOFOLLOW
        self._slots: OrderedDict[Path, _Slot] = OrderedDict()  # least recently used first

    @property
    def limit(self) -> int:
        """The cap given, else `default_limit()` as of now (`prlimit` may lower a running
        process's limit)."""
        return self._limit if self._limit is not None else default_limit()

    def __len__(self) -> int:
        """Descriptors open right now."""
        return len(self._slots)

    def is_open(self, path: Path) -> bool:
        return path in self._slots

    async def add(self, path: Path, fd: int) -> None:
        """Take over `fd`, just opened by the caller, as `path`'s descriptor."""
        extra: list[int] = []
        if path in self._slots:
            extra.append(fd)  # opened by another task meanwhile: keep theirs
        else:
            self._slots[path] = _Slot(fd)
        self._slots.move_to_end(path)
        await _close_all(extra + self._over_cap())

    @asynccontextmanager
    async def use(self, path: Path) -> AsyncIterator[int]:
        """Path's descriptor, open (and pinned) for the block; reopened when it was closed."""
        extra: list[int] = []
        slot = self._slots.get(path)
        if slot is None:
            fd = await self._open(path)
            slot = self._slots.get(path)
            if slot is None:
                slot = self._slots[path] = _Slot(fd)
            else:
                extra.append(fd)  # opened by another task meanwhile: keep theirs
        self._slots.move_to_end(path)
        slot.pins += 1  # before the cap is applied: a pinned descriptor is never closed
        try:
            await _close_all(extra + self._over_cap())
            yield slot.fd
        finally:
            slot.pins -= 1
            if slot.pins == 0 and slot.doomed:
                await _close_all([slot.fd])
            else:
                await _close_all(self._over_cap())

    async def _open(self, path: Path) -> int:
        """Open `path`; when the process is out of descriptors, give back every one the pool
        holds idle and try once more (the pool yields to the spool, SQLite and sockets)."""
        try:
            return await trio.to_thread.run_sync(os.open, path, self._flags)
        except OSError as exc:
            if exc.errno not in (errno.EMFILE, errno.ENFILE) or not self._slots:
                raise
        await _close_all(self.take_all())
        return await trio.to_thread.run_sync(os.open, path, self._flags)

    async def pread(self, path: Path, size: int, offset: int) -> bytes:
        async with self.use(path) as fd:
            return await trio.to_thread.run_sync(os.pread, fd, size, offset)

    async def pwrite(self, path: Path, data: bytes, offset: int) -> int:
        async with self.use(path) as fd:
            return await trio.to_thread.run_sync(os.pwrite, fd, data, offset)

    def take(self, path: Path) -> int | None:
        """Stop tracking `path`: its descriptor for the caller to close now, or None when there
        is none or it is pinned (then it closes when its last user is done)."""
        slot = self._slots.pop(path, None)
        if slot is None:
            return None
        if slot.pins:
            slot.doomed = True
            return None
        return slot.fd

    async def close(self, path: Path) -> None:
        """Close `path`'s descriptor (or as soon as it is unpinned); it reopens on next use."""
        fd = self.take(path)
        if fd is not None:
            await _close_all([fd])

    def take_all(self) -> list[int]:
        """Every unpinned descriptor, for the caller to close (shutdown)."""
        return [fd for fd in (self.take(path) for path in list(self._slots)) if fd is not None]

    def _over_cap(self) -> list[int]:
        """Unpinned descriptors to close, least recently used first, until the cap holds."""
        excess = len(self._slots) - self.limit if self._slots else 0
        doomed: list[int] = []
        if excess <= 0:
            return doomed
        for path, slot in list(self._slots.items()):
            if len(doomed) >= excess:
                break
            if slot.pins == 0:
                del self._slots[path]
                doomed.append(slot.fd)
        return doomed


def close_fds(fds: list[int]) -> None:
    for fd in fds:
        with contextlib.suppress(OSError):  # already closed: nothing left to release
            os.close(fd)


async def _close_all(fds: list[int]) -> None:
    if fds:
        with trio.CancelScope(shield=True):  # a cancelled caller must not leak descriptors
            await trio.to_thread.run_sync(close_fds, fds)
