"""Which lane an API call travels in: INTERACTIVE (someone is waiting) or BACKGROUND.

Owns: `Lane`, the `lane()` mark and `current()`.  Imports: the standard library only.

The mark is a context variable, so it follows a call down through every layer without a
parameter in each signature, and trio copies it into every task a task spawns: marking the
background tasks where they start (upload queue, quota refresh, listing refreshes) marks every
call they make. The default is INTERACTIVE, so a call nobody marked is never starved behind
uploads; a forgotten mark costs the user nothing, only the background its place.
"""

from __future__ import annotations

import enum
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar


class Lane(enum.Enum):
    INTERACTIVE = "interactive"  # lookups, readdir, xattrs, reads: a user waits for the answer
    BACKGROUND = "background"  # uploads, retitles, refreshes, strays: nobody waits on this call


_LANE: ContextVar[Lane] = ContextVar("vipfs_lane", default=Lane.INTERACTIVE)


def current() -> Lane:
    """The lane of the calling task."""
    return _LANE.get()


@contextmanager
def lane(which: Lane) -> Iterator[None]:
    """Calls made inside (and by tasks spawned inside) travel in `which`."""
    token = _LANE.set(which)
    try:
        yield
    finally:
        _LANE.reset(token)
