"""The one error the filesystem model raises: an errno plus the reason a user should read.

fuse_ops turns VfsError into FUSEError(errno) in one decorator; `why` goes to the log once, so a
refused operation always leaves a line that says what happened and what to do instead.
"""

from __future__ import annotations

import errno as _errno
import os


class VfsError(Exception):
    """An operation failed with `errno`; `why` is a one-line, key-free explanation (may be "")."""

    def __init__(self, errno: int, why: str = "") -> None:
        self.errno = errno
        self.why = why
        name = _errno.errorcode.get(errno, str(errno))
        super().__init__(f"{name}: {why or os.strerror(errno)}")
