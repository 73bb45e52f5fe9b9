"""A generic scheduler of background jobs by due time, a few at a time (rclone's writeback).

Owns: the heap of due times, the `slots` a job needs to run, the cancel scope of each running
job, the entries held back until a run ends, the count of runs ended per id, and the wake-ups
of its loop. It knows nothing of uploads or of what an id means: its owner says whether an
entry is still current, whether a due id may start now (`admit`: say, nothing it conflicts with
runs), claims an id when a slot is given to it, runs the job, and hears when a run ended.
Imports: `trio` only.

Entries are never removed when the owner changes its mind: a changed due time pushes a new
entry, and the old one is skipped when `current` says it is stale. An entry of an id that is
running is dropped as well; the owner schedules the id again when the run ends (`ended`).
A due entry `admit` refuses waits aside, and is looked at again after any run ends or a `wake`.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Awaitable, Callable

import trio


class Scheduler:
    """Runs `job(id)` for ids as they fall due, at most `slots` at once, in `serve`'s nursery."""

    def __init__(
        self,
        job: Callable[[int], Awaitable[None]],
        *,
        current: Callable[[int, float], bool],
        claim: Callable[[int], None],
        ended: Callable[[int], None],
        slots: int,
        clock: Callable[[], float],
        admit: Callable[[int], bool] = lambda ident: True,
    ) -> None:
        if slots < 1:
            raise ValueError("slots must be at least 1")
        self._job = job
        self._current = current  # is (id, due) still what the owner wants?
        self._claim = claim  # a slot was given to id: the owner marks it running (sync)
        self._ended = ended  # a run of id ended (after the scheduler's own books are done)
        self._admit = admit  # may a due id start now? (False: it waits for a run to end)
        self.slots = slots
        self._clock = clock
        self._due: list[tuple[float, int]] = []
        self._aside: list[tuple[float, int]] = []  # due, refused by `admit` for now
        self._running: dict[int, trio.CancelScope] = {}
        self._runs: dict[int, int] = {}  # id -> runs ended in this process
        self._wake = trio.Event()

    def at(self, ident: int, due: float) -> None:
        """Run `ident` at `due` (clock time), unless `current` says otherwise by then."""
        heapq.heappush(self._due, (due, ident))
        self.wake()

    def wake(self) -> None:
        """Look at the heap again (something changed that may make an entry due or stale)."""
        self._wake.set()

    def busy(self, ident: int) -> bool:
        return ident in self._running

    def cancel(self, ident: int) -> bool:
        """Cancel the running job of `ident`; False when none runs."""
        scope = self._running.get(ident)
        if scope is None:
            return False
        scope.cancel()
        return True

    def runs(self, ident: int) -> int:
        """How many runs of `ident` ended in this process."""
        return self._runs.get(ident, 0)

    async def serve(self, nursery: trio.Nursery) -> None:
        """Start due jobs in `nursery` for ever; sleep until the next is due or a wake-up."""
        while True:
            self._wake = trio.Event()
            with trio.move_on_after(self._start_due(nursery)):
                await self._wake.wait()

    def _start_due(self, nursery: trio.Nursery) -> float:
        """Start the due entries that free slots allow; returns how long until the next is due
        (inf when none, or when every slot is busy: an ending run wakes the loop)."""
        now = self._clock()
        for entry in self._aside:
            heapq.heappush(self._due, entry)
        self._aside.clear()
        while self._due:
            due, ident = self._due[0]
            if ident in self._running or not self._current(ident, due):
                heapq.heappop(self._due)  # stale, or running: the owner reschedules it
                continue
            if due > now:
                return due - now
            if len(self._running) >= self.slots:
                return math.inf
            heapq.heappop(self._due)
            if not self._admit(ident):
                self._aside.append((due, ident))
                continue
            scope = trio.CancelScope()
            self._running[ident] = scope
            self._claim(ident)
            nursery.start_soon(self._run, ident, scope)
        return math.inf

    async def _run(self, ident: int, scope: trio.CancelScope) -> None:
        try:
            with scope:
                await self._job(ident)
        finally:
            self._running.pop(ident, None)
            self._runs[ident] = self._runs.get(ident, 0) + 1
            self._ended(ident)
            self.wake()
