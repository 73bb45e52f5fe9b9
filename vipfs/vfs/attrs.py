"""What `stat` shows, as plain records: fuse_ops turns them into pyfuse3 types.

Owns: the plain records `stat` and `statfs` show (`Attr`, `Owner`, `Statfs`) and their clamping.
Imports: the standard library only.

Sizes come from what is known (the read cache after a direct_link, later the local database)
and are 0 otherwise: the API never says how many bytes a video has.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass

BLOCK_SIZE = 1 << 20  # st_blksize: large reads suit a remote, download-only file
STATFS_BLOCK = 4096
NAME_MAX = 255
UNLIMITED_BYTES = 1 << 50  # 1 PiB: what `df` shows for "unlimited" or not yet known
_MAX_BYTES = 1 << 60  # far past any account, far inside statvfs's 64-bit block counts
_MAX_FILES = 1 << 40


@dataclass(frozen=True, slots=True)
class Attr:
    ino: int
    mode: int  # including the S_IFDIR/S_IFREG type bits
    nlink: int
    size: int
    uid: int
    gid: int
    mtime_ns: int
    blksize: int = BLOCK_SIZE

    @property
    def blocks(self) -> int:
        """512-byte blocks, as `du` counts them."""
        return (self.size + 511) // 512

    @property
    def is_dir(self) -> bool:
        return stat.S_ISDIR(self.mode)


@dataclass(frozen=True, slots=True)
class Owner:
    """Who owns everything in the mount, and which permission bits are masked."""

    uid: int
    gid: int
    umask: int = 0o022

    @classmethod
    def current(cls, umask: int = 0o022) -> Owner:
        return cls(os.getuid(), os.getgid(), umask)

    def dir_attr(
        self, ino: int, mtime_ns: int, *, writable: bool = True, mode: int | None = None
    ) -> Attr:
        """`mode`: permission bits vipfs recorded (chmod, mkdir); else the default."""
        perm = mode & 0o7777 if mode is not None else (0o755 if writable else 0o555) & ~self.umask
        return Attr(ino, stat.S_IFDIR | perm, 2, 0, self.uid, self.gid, mtime_ns)

    def file_attr(
        self, ino: int, size: int, mtime_ns: int, *, writable: bool = True, mode: int = 0
    ) -> Attr:
        """`mode`: permission bits vipfs recorded (chmod, or the writer's); else the default."""
        perm = mode & 0o7777 if mode else (0o644 if writable else 0o444) & ~self.umask
        return Attr(ino, stat.S_IFREG | perm, 1, size, self.uid, self.gid, mtime_ns)


@dataclass(frozen=True, slots=True)
class Statfs:
    """`df` numbers, in STATFS_BLOCK units."""

    blocks: int
    bfree: int
    files: int
    ffree: int
    bsize: int = STATFS_BLOCK
    namemax: int = NAME_MAX

    @classmethod
    def from_quota(cls, used: int | None, left: int | None, files: int | None = None) -> Statfs:
        # The host's numbers are clamped: statvfs fields are unsigned 64-bit, and a negative or
        # astronomical quota must show as a sane df, not fail every statfs.
        free = UNLIMITED_BYTES if left is None else _clamp(left, _MAX_BYTES)
        used_blocks = -(-_clamp(used or 0, _MAX_BYTES) // STATFS_BLOCK)
        free_blocks = free // STATFS_BLOCK
        count = _clamp(files or 0, _MAX_FILES)
        return cls(
            blocks=used_blocks + free_blocks,
            bfree=free_blocks,
            files=count + 1_000_000,
            ffree=1_000_000,
        )


def _clamp(value: int, most: int) -> int:
    return min(max(value, 0), most)


DEFAULT_STATFS = Statfs.from_quota(None, None)
