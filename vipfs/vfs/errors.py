"""The one error the filesystem model raises, and the one way an API failure becomes it.

Owns: `VfsError` (an errno plus the reason a user should read), `from_api` (THE API-error →
errno mapping), `title_for` (a name no title can carry is EINVAL) and `bounded` (THE time
budget of an interactive call). Imports: vipfs.api.errors, vipfs.vfs.names (`UnsendableName`).

fuse_ops turns VfsError into FUSEError(errno) in one decorator; `why` goes to the log once, so a
refused operation always leaves a line that says what happened and what to do instead. Every
part of the model that turns an `ApiError` into an errno calls `from_api`, so a refused key reads
EACCES whether it was met listing a folder, opening a file or renaming it.
"""

from __future__ import annotations

import errno as _errno
import os
from collections.abc import Awaitable, Callable
from typing import TypeVar

import trio

from vipfs.api.errors import (
    ApiError,
    AuthError,
    NotFoundError,
    RequestRejectedError,
    UnsupportedError,
)
from vipfs.vfs.names import UnsendableName

T = TypeVar("T")


class VfsError(Exception):
    """An operation failed with `errno`; `why` is a one-line, key-free explanation (may be "")."""

    def __init__(self, errno: int, why: str = "") -> None:
        self.errno = errno
        self.why = why
        name = _errno.errorcode.get(errno, str(errno))
        super().__init__(f"{name}: {why or os.strerror(errno)}")


def from_api(exc: ApiError, what: str) -> VfsError:
    """An API failure as the errno a user's tool should see, with the server's words."""
    if isinstance(exc, NotFoundError):
        return VfsError(_errno.ENOENT, f"{what}: {exc.msg}")
    if isinstance(exc, AuthError):
        return VfsError(_errno.EACCES, f"{what}: the API key was refused: {exc.msg}")
    if isinstance(exc, UnsupportedError):
        return VfsError(_errno.EPERM, f"{what}: the host does not offer this: {exc.msg}")
    if isinstance(exc, RequestRejectedError):
        return VfsError(_errno.EINVAL, f"{what}: the host refused: {exc.msg}")
    return VfsError(_errno.EIO, f"{what}: {exc}")


def no_answer(what: str, budget: float) -> VfsError:
    return VfsError(_errno.EIO, f"{what}: no answer within {budget:g} s")


async def bounded(call: Awaitable[T], budget: float, what: str) -> T:
    """Await an interactive call within `budget` seconds: EIO then, never a hang; an API
    failure leaves as `from_api` says."""
    try:
        with trio.fail_after(budget):
            return await call
    except trio.TooSlowError:
        raise no_answer(what, budget) from None
    except ApiError as exc:
        raise from_api(exc, what) from None


def title_for(make: Callable[[str], str], name: str) -> str:
    """The title `make` (a `Titles` method) gives `name`; EINVAL, before anything is written or
    sent, for a name no title can carry (control characters)."""
    try:
        return make(name)
    except UnsendableName as exc:
        raise VfsError(_errno.EINVAL, str(exc)) from None
