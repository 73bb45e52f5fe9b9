"""Spool files: the local bytes of files written through the mount, until they are uploaded.

Owns: the spool files on disk (`Spool`): their bytes, descriptors, and `rescue` into lost+found.
Imports: trio, `vipfs.vfs.localdirs` only.

The host takes whole files only, so every write lands in a file under `<state>/spool` (directory
0700, files 0600, opened with O_NOFOLLOW: they are the user's data) and the upload queue later
streams it. All disk I/O runs in worker threads so the trio loop serving FUSE never blocks on
the disk.

A spool file no queue row names (the db was lost) is never deleted: `rescue` moves it to
`<state>/lost+found`, where the user finds it and `vipfs status` counts it.

While a spool file has open handles, one OS file descriptor is kept for it, so a stream of 256 KiB
writes costs one `pwrite` each rather than an open/close pair. Deleting a file with open handles
unlinks it at once; the descriptor keeps working until the last release, like POSIX unlink.
"""

from __future__ import annotations

import errno
import hashlib
import os
import secrets
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import trio

from vipfs.vfs.localdirs import is_regular, open_nofollow, private_dir

T = TypeVar("T")

_CHUNK = 1 << 20


class Spool:
    """Owns the spool directory, the per-file open-handle counts and their descriptors."""

    def __init__(self, root: Path, lost_found: Path | None = None) -> None:
        self.root = root
        self.lost_found = lost_found if lost_found is not None else root.parent / "lost+found"
        self._fds: dict[Path, int] = {}
        self._handles: dict[Path, int] = {}

    async def _thread(self, fn: Callable[..., T], *args: object) -> T:
        return await trio.to_thread.run_sync(fn, *args)

    def _ensure_root(self) -> None:
        private_dir(self.root)

    # -- lifecycle ---------------------------------------------------------------------------
    async def create(self) -> Path:
        """A new, empty spool file (0600) with a unique name; not yet open."""

        def make() -> Path:
            self._ensure_root()
            while True:
                path = self.root / f"{secrets.token_hex(8)}.spool"
                try:
                    fd = open_nofollow(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL)
                except FileExistsError:
                    continue
                os.close(fd)
                return path

        return await self._thread(make)

    async def open(self, path: Path) -> None:
        """Count one more handle on `path`, opening its descriptor on the first."""
        if path not in self._fds:
            self._fds[path] = await self._thread(open_nofollow, path, os.O_RDWR)
        self._handles[path] = self._handles.get(path, 0) + 1

    async def release(self, path: Path) -> None:
        """Drop one handle; the last one closes the descriptor."""
        left = self._handles.get(path, 0) - 1
        if left > 0:
            self._handles[path] = left
            return
        self._handles.pop(path, None)
        fd = self._fds.pop(path, None)
        if fd is not None:
            await self._thread(os.close, fd)

    def handles(self, path: Path) -> int:
        """How many handles are open on `path` (0 when none)."""
        return self._handles.get(path, 0)

    async def link_in(self, source: Path, name: str) -> Path:
        """`source`'s bytes as the spool file `name`: a hard link (no byte copied), or a copy
        when `source` is on another file system. An existing `name` is kept (a replay)."""

        def run() -> Path:
            self._ensure_root()
            target = self.root / name
            if os.path.lexists(target):
                return target
            try:
                os.link(source, target)
            except OSError as exc:
                if exc.errno != errno.EXDEV:
                    raise
                _copy(source, target)
            return target

        return await self._thread(run)

    async def unshare(self, path: Path) -> None:
        """Before bytes change in place: a spool file with other hard links (a mirror shares
        it with other members' queues) becomes a private copy first, so an upload reading
        another link never sees its bytes change. An open descriptor moves to the copy."""
        await self._thread(self._unshare, path)

    def _unshare(self, path: Path) -> None:
        fd = self._fds.get(path)
        try:  # through the open descriptor: it works on a file unlinked while open
            links = os.fstat(fd).st_nlink if fd is not None else os.lstat(path).st_nlink
        except FileNotFoundError:
            return  # gone: whatever opens it next says so
        if links <= 1:
            return
        fresh = path.with_name(f"{path.stem}.{secrets.token_hex(4)}.tmp")
        _copy(path, fresh)
        os.replace(fresh, path)  # the other links keep the old inode, untouched
        old = self._fds.get(path)
        if old is not None:
            self._fds[path] = open_nofollow(path, os.O_RDWR)
            os.close(old)

    async def delete(self, path: Path) -> None:
        """Remove the file; a missing file is fine (already gone is what we wanted)."""
        await self._thread(path.unlink, True)

    def paths(self) -> list[Path]:
        """Every spool file on disk (for finding orphans no queue record names); symlinks and
        other strangers are not ours and are left alone."""
        if not self.root.is_dir():
            return []
        return sorted(p for p in self.root.glob("*.spool") if is_regular(p))

    async def rescue(self, path: Path) -> Path:
        """Move an orphan spool file into lost+found (under a name no other file there has)."""

        def move() -> Path:
            private_dir(self.lost_found)
            target = self.lost_found / path.name
            serial = 1
            while os.path.lexists(target):
                serial += 1
                target = self.lost_found / f"{path.stem}-{serial}{path.suffix}"
            os.rename(path, target)  # one file system: same state directory
            return target

        return await self._thread(move)

    def lost_files(self) -> list[str]:
        """Names of the files in lost+found (a worker-thread call: it lists a directory)."""
        try:
            return sorted(entry.name for entry in os.scandir(self.lost_found))
        except FileNotFoundError:
            return []

    # -- data --------------------------------------------------------------------------------
    def _with_fd(self, path: Path, flags: int, fn: Callable[[int], T]) -> T:
        fd = self._fds.get(path)
        if fd is not None:
            return fn(fd)
        fd = open_nofollow(path, flags)
        try:
            return fn(fd)
        finally:
            os.close(fd)

    async def write(self, path: Path, offset: int, data: bytes) -> int:
        """Write `data` at `offset` (sparse holes are fine); returns the byte count.

        A disk that fills part-way gives a short count, as pwrite(2) does, never an error for
        bytes already stored: the writer is told exactly what the spool holds, retries the rest
        and meets ENOSPC on a call that stores nothing."""

        def run(fd: int) -> int:
            view = memoryview(data)
            done = 0
            while done < len(view):
                try:
                    done += os.pwrite(fd, view[done:], offset + done)
                except OSError:
                    if done == 0:
                        raise
                    break
            return done

        def unshared_write() -> int:
            self._unshare(path)
            return self._with_fd(path, os.O_WRONLY, run)

        return await self._thread(unshared_write)

    async def read(self, path: Path, offset: int, size: int) -> bytes:
        """Up to `size` bytes from `offset`; short at end of file, like pread."""
        return await self._thread(
            self._with_fd, path, os.O_RDONLY, lambda fd: os.pread(fd, size, offset)
        )

    async def truncate(self, path: Path, size: int) -> None:
        def unshared_truncate() -> None:
            self._unshare(path)
            self._with_fd(path, os.O_WRONLY, lambda fd: os.ftruncate(fd, size))

        await self._thread(unshared_truncate)

    async def sync(self, path: Path) -> None:
        """fsync(2) the spool file: what `fsync` of a file that stays local promises."""
        await self._thread(self._with_fd, path, os.O_RDONLY, os.fsync)

    async def size(self, path: Path) -> int:
        return await self._thread(lambda: os.lstat(path).st_size)

    async def sha256(self, path: Path) -> str:
        """Hex SHA-256 of the whole file, streamed in 1 MiB chunks in a worker thread."""

        def run() -> str:
            digest = hashlib.sha256()
            with os.fdopen(open_nofollow(path, os.O_RDONLY), "rb") as f:
                while chunk := f.read(_CHUNK):
                    digest.update(chunk)
            return digest.hexdigest()

        return await self._thread(run)


def _copy(source: Path, target: Path) -> None:
    """A private 0600 copy of `source` at `target` (which must not exist)."""
    fd = open_nofollow(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL)
    with os.fdopen(fd, "wb") as out, os.fdopen(open_nofollow(source, os.O_RDONLY), "rb") as src:
        shutil.copyfileobj(src, out, _CHUNK)
