"""The generic scheduler: due order, slots, stale entries, cancel; on trio's virtual clock."""

from __future__ import annotations

import pytest
import trio
from trio.testing import MockClock

from vipfs.vfs.scheduler import Scheduler


class Owner:
    """What an owner of the scheduler keeps: wanted due times, and what ran when."""

    def __init__(self, slots: int = 1) -> None:
        self.wanted: dict[int, float] = {}
        self.started: list[tuple[int, float]] = []
        self.claimed: list[int] = []
        self.ended: list[int] = []
        self.gates: dict[int, trio.Event] = {}
        self.running = 0
        self.most_running = 0
        self.scheduler = Scheduler(
            self.job,
            current=lambda ident, due: self.wanted.get(ident) == due,
            claim=self.claimed.append,
            ended=self.end,
            slots=slots,
            clock=trio.current_time,
        )

    def want(self, ident: int, due: float) -> None:
        self.wanted[ident] = due
        self.scheduler.at(ident, due)

    def end(self, ident: int) -> None:
        """As the queue does: an id wanted again while it ran is scheduled again now."""
        self.ended.append(ident)
        if ident in self.wanted:
            self.scheduler.at(ident, self.wanted[ident])

    async def job(self, ident: int) -> None:
        self.started.append((ident, trio.current_time()))
        self.wanted.pop(ident, None)
        self.running += 1
        self.most_running = max(self.most_running, self.running)
        try:
            gate = self.gates.get(ident)
            if gate is not None:
                await gate.wait()
        finally:
            self.running -= 1


async def _serving(owner: Owner, nursery: trio.Nursery) -> None:
    async def serve() -> None:
        async with trio.open_nursery() as jobs:
            await owner.scheduler.serve(jobs)

    nursery.start_soon(serve)


async def test_jobs_run_in_due_order_never_early(
    nursery: trio.Nursery, autojump_clock: MockClock
) -> None:
    owner = Owner()
    await _serving(owner, nursery)
    owner.want(1, 30.0)
    owner.want(2, 10.0)
    owner.want(3, 20.0)
    await trio.sleep(60)
    assert [i for i, _ in owner.started] == [2, 3, 1]
    assert [round(t) for _, t in owner.started] == [10, 20, 30]
    assert owner.claimed == [2, 3, 1] and owner.ended == [2, 3, 1]
    assert [owner.scheduler.runs(i) for i in (1, 2, 3, 4)] == [1, 1, 1, 0]


async def test_slots_bound_the_jobs_that_run_at_once(
    nursery: trio.Nursery, autojump_clock: MockClock
) -> None:
    owner = Owner(slots=2)
    await _serving(owner, nursery)
    for ident in (1, 2, 3):
        owner.gates[ident] = trio.Event()
        owner.want(ident, 0.0)
    await trio.sleep(5)
    assert owner.claimed == [1, 2] and owner.scheduler.busy(1)  # tasks start in any order
    assert sorted(i for i, _ in owner.started) == [1, 2]
    owner.gates[1].set()
    await trio.sleep(5)
    assert owner.claimed == [1, 2, 3] and len(owner.started) == 3
    owner.gates[2].set()
    owner.gates[3].set()
    await trio.sleep(5)
    assert owner.most_running == 2


async def test_stale_entries_are_skipped(nursery: trio.Nursery, autojump_clock: MockClock) -> None:
    owner = Owner()
    await _serving(owner, nursery)
    owner.want(1, 10.0)
    owner.want(1, 40.0)  # the owner changed its mind: the entry at 10 s is stale
    owner.want(2, 20.0)
    del owner.wanted[2]  # and gave up on this one
    await trio.sleep(60)
    assert [(i, round(t)) for i, t in owner.started] == [(1, 40)]


async def test_cancel_ends_a_running_job_and_counts_the_run(
    nursery: trio.Nursery, autojump_clock: MockClock
) -> None:
    owner = Owner()
    await _serving(owner, nursery)
    owner.gates[1] = trio.Event()  # never set
    owner.want(1, 0.0)
    await trio.sleep(1)
    assert owner.scheduler.busy(1) and not owner.scheduler.cancel(2)
    assert owner.scheduler.cancel(1)
    await trio.sleep(10)
    assert not owner.scheduler.busy(1) and owner.scheduler.runs(1) == 1
    assert owner.ended == [1] and len(owner.started) == 1


async def test_an_id_due_again_while_it_runs_runs_again_after(
    nursery: trio.Nursery, autojump_clock: MockClock
) -> None:
    owner = Owner()
    await _serving(owner, nursery)
    owner.gates[1] = trio.Event()
    owner.want(1, 0.0)
    await trio.sleep(1)
    owner.want(1, 2.0)  # its entry is dropped while it runs; the owner schedules it at its end
    await trio.sleep(5)
    assert len(owner.started) == 1  # never twice at once
    owner.gates[1].set()
    await trio.sleep(5)
    assert [(i, round(t)) for i, t in owner.started] == [(1, 0), (1, 6)]


def test_a_scheduler_needs_a_slot() -> None:
    with pytest.raises(ValueError):
        Scheduler(
            Owner().job,
            current=lambda i, d: True,
            claim=lambda i: None,
            ended=lambda i: None,
            slots=0,
            clock=lambda: 0.0,
        )
