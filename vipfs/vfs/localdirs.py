"""The rules for the local directories vipfs keeps files in (state, spool, read cache).

Owns: the rules for vipfs's local directories (owned, private, never chmodded) and O_NOFOLLOW opens.
Imports: the standard library only.

vipfs creates its own directories, mode 0700. A directory it is given but did not create is
used only if it is the user's own and nobody else can write into it (another user could swap a
file for a symlink there); vipfs then never chmods it and never cleans it: its own files go into
subdirectories it creates. Files inside are opened with O_NOFOLLOW, so a symlink planted in
place of one fails that file instead of reading (or uploading) what it points to.
"""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path

NOFOLLOW = os.O_NOFOLLOW | os.O_CLOEXEC  # add to the flags of every open of a file of ours


class DirError(Exception):
    """A directory vipfs will not use; the message is the one line the user sees."""


def check_dir(path: Path, what: str) -> None:
    """Refuse `path` unless it is a directory owned by us and writable by nobody else.

    `what` names it for the user: `--cache-dir /tmp`, `the state directory ...`.
    """
    try:
        info = os.stat(path)
    except OSError as exc:
        raise DirError(f"refusing {what}: {exc.strerror}") from None
    if not stat.S_ISDIR(info.st_mode):
        raise DirError(f"refusing {what}: not a directory")
    if info.st_uid != os.geteuid():
        raise DirError(
            f"refusing {what}: owned by uid {info.st_uid}, not by you "
            "(use a directory of your own, mode 0700)"
        )
    if info.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
        raise DirError(
            f"refusing {what}: writable by group or others (use a directory of your own, mode 0700)"
        )


def private_dir(path: Path, what: str | None = None) -> bool:
    """Make sure `path` is a directory fit for our files; True when this call created it.

    A missing directory (and its missing parents) is created 0700. An existing one is checked
    with `check_dir` and left exactly as it is.
    """
    label = what or f"the directory {path}"
    if not os.path.lexists(path):
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        try:
            os.mkdir(path, 0o700)
        except FileExistsError:
            pass  # made meanwhile: check it like any existing one
        else:
            os.chmod(path, 0o700)  # ours: mkdir's mode was masked by the umask
            return True
    if path.is_symlink() and what is None:  # a subdirectory of ours is never a symlink
        raise DirError(f"refusing {label}: a symbolic link")
    check_dir(path, label)
    return False


def open_nofollow(path: Path, flags: int, mode: int = 0o600) -> int:
    """os.open that never follows a symlink at `path` (ELOOP instead)."""
    return os.open(path, flags | NOFOLLOW, mode)


def is_regular(path: Path) -> bool:
    """A regular file itself, not a symlink to one (missing: False)."""
    try:
        return stat.S_ISREG(os.lstat(path).st_mode)
    except OSError as exc:
        if exc.errno in (errno.ENOENT, errno.ENOTDIR):
            return False
        raise
