"""A virtual clock that stands still while worker threads run.

trio's autojump clock jumps as soon as the loop has been idle for its threshold, and a task
awaiting `trio.to_thread.run_sync` (SQLite, spool I/O) leaves the loop idle. On a loaded machine
a thread can take longer than any threshold, so timers fired "early" and tests that pin what
happens before a deadline were flaky. Here the clock may only jump while no thread work is out:
virtual time then models an instant disk, whatever the machine's load.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import pytest
import trio
from trio.testing import MockClock


def thread_aware_clock(monkeypatch: pytest.MonkeyPatch, threshold: float = 0.005) -> MockClock:
    """A MockClock whose autojump pauses while any `trio.to_thread.run_sync` call is running."""
    clock = MockClock(autojump_threshold=threshold)
    real_run_sync = trio.to_thread.run_sync
    busy = 0

    async def run_sync(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        nonlocal busy
        busy += 1
        clock.autojump_threshold = math.inf
        try:
            return await real_run_sync(fn, *args, **kwargs)
        finally:
            busy -= 1
            if busy == 0:
                clock.autojump_threshold = threshold

    monkeypatch.setattr(trio.to_thread, "run_sync", run_sync)
    return clock
