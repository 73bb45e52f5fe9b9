"""Background tasks run in the mount's nursery, where an escaping exception ends the mount.

Owns: `never_fatal`, the wrapper for background tasks that must not end the mount.
Imports: the standard library only.

A task that is not itself a loop with its own error handling is started through `never_fatal`:
whatever it raises (a bug met on some odd reply) is logged with its traceback and the mount goes
on. Cancellation (unmount) is a BaseException and passes through.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

log = logging.getLogger("vipfs")


async def never_fatal(what: str, fn: Callable[..., Awaitable[Any]], *args: Any) -> None:
    """Await `fn(*args)`; an exception is logged as `what` failing, never raised."""
    try:
        await fn(*args)
    except Exception:
        log.exception("%s failed; the mount goes on", what)
