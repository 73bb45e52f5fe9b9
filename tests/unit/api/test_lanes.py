"""Lanes: interactive calls get their turn and their slot before background ones (mock clock)."""

from __future__ import annotations

from datetime import datetime

import pytest
import trio
import trio.testing

from vipfs.api import lanes
from vipfs.api.errors import RateLimitedError
from vipfs.api.lanes import Lane, lane
from vipfs.api.ratelimit import RateLimiter

from .fakehost import FakeHost, ok

AT_30S = datetime(2026, 11, 27, 12, 0, 30)  # 30 s before the server minute ends
FAR = 1_000.0  # a deadline nothing here reaches


async def take(
    limiter: RateLimiter, which: Lane, name: str, order: list[tuple[str, float]]
) -> None:
    with lane(which):
        await limiter.turn(trio.current_time() + FAR)
    order.append((name, trio.current_time()))


def spent_window(limiter: RateLimiter, limit: int = 5) -> None:
    """A learned limit of `limit` a minute, all of this window's calls already spent."""
    limiter.observe(limit - 1, AT_30S)
    limiter.block(0, "min")  # nothing blocked, but the count is at 0 until the minute ends
    assert limiter.wait_needed() == pytest.approx(30)


def test_the_default_lane_is_interactive_and_the_mark_is_scoped() -> None:
    assert lanes.current() is Lane.INTERACTIVE
    with lane(Lane.BACKGROUND):
        assert lanes.current() is Lane.BACKGROUND
    assert lanes.current() is Lane.INTERACTIVE


async def test_spawned_tasks_inherit_the_lane_of_their_spawner() -> None:
    seen: list[Lane] = []

    async def note() -> None:
        seen.append(lanes.current())

    async with trio.open_nursery() as nursery:
        with lane(Lane.BACKGROUND):
            nursery.start_soon(note)
        nursery.start_soon(note)
    assert sorted(seen, key=lambda x: x.value) == [Lane.BACKGROUND, Lane.INTERACTIVE]


async def test_interactive_goes_first_when_the_minute_opens(autojump_clock: object) -> None:
    limiter = RateLimiter()
    spent_window(limiter)
    order: list[tuple[str, float]] = []
    async with trio.open_nursery() as nursery:
        for name in ("bg1", "bg2"):
            nursery.start_soon(take, limiter, Lane.BACKGROUND, name, order)
            await trio.testing.wait_all_tasks_blocked()  # they queued before the interactive
        nursery.start_soon(take, limiter, Lane.INTERACTIVE, "ui", order)
    assert order[0][0] == "ui"
    assert {name for name, _ in order} == {"ui", "bg1", "bg2"}
    assert all(when == pytest.approx(30) for _, when in order)  # all in the new minute


async def test_background_leaves_the_last_call_of_a_minute_to_interactive(
    autojump_clock: object,
) -> None:
    limiter = RateLimiter()
    limiter.observe(2, AT_30S)  # a limit of 3: two calls left in this minute
    order: list[tuple[str, float]] = []
    async with trio.open_nursery() as nursery:
        for name in ("bg1", "bg2"):
            nursery.start_soon(take, limiter, Lane.BACKGROUND, name, order)
            await trio.testing.wait_all_tasks_blocked()
        assert [name for name, _ in order] == ["bg1"]  # the second would spend the reserve
        await trio.sleep(5)
        nursery.start_soon(take, limiter, Lane.INTERACTIVE, "ui", order)
    assert order == [("bg1", 0), ("ui", 5), ("bg2", pytest.approx(30))]


async def test_a_host_of_one_call_a_minute_keeps_nothing_back(autojump_clock: object) -> None:
    limiter = RateLimiter()
    limiter.observe(0, AT_30S)  # the one call of this minute is spent: a limit of 1
    order: list[tuple[str, float]] = []
    await take(limiter, Lane.BACKGROUND, "bg", order)
    assert order == [("bg", pytest.approx(30))]


async def test_a_new_minute_counts_calls_before_their_replies(autojump_clock: object) -> None:
    """The limit learned (5) bounds a burst at the start of a minute: no refusals to earn."""
    limiter = RateLimiter()
    spent_window(limiter)
    await trio.sleep(30)
    for _ in range(5):
        await limiter.turn(trio.current_time() + 1)
    with pytest.raises(RateLimitedError):
        await limiter.turn(trio.current_time() + 1)


async def test_background_behind_interactive_fails_when_its_budget_ends(
    autojump_clock: object,
) -> None:
    limiter = RateLimiter()
    spent_window(limiter)
    async with trio.open_nursery() as nursery:
        nursery.start_soon(limiter.turn, trio.current_time() + FAR)  # interactive, waits 30 s
        await trio.testing.wait_all_tasks_blocked()
        with lane(Lane.BACKGROUND), pytest.raises(RateLimitedError) as caught:
            await limiter.turn(trio.current_time() + 10)
    assert caught.value.retry_after >= 1


async def test_interactive_gets_the_next_free_slot(autojump_clock: object) -> None:
    limiter = RateLimiter(max_in_flight=1)
    order: list[str] = []
    release = trio.Event()

    async def hold() -> None:
        async with limiter.slot():
            await release.wait()

    async def wait_slot(which: Lane, name: str) -> None:
        with lane(which):
            async with limiter.slot():
                order.append(name)

    async with trio.open_nursery() as nursery:
        nursery.start_soon(hold)
        await trio.testing.wait_all_tasks_blocked()
        nursery.start_soon(wait_slot, Lane.BACKGROUND, "bg")
        await trio.testing.wait_all_tasks_blocked()
        nursery.start_soon(wait_slot, Lane.INTERACTIVE, "ui")
        await trio.testing.wait_all_tasks_blocked()
        state = limiter.state
        assert (state.in_flight, state.waiting_interactive, state.waiting_background) == (1, 1, 1)
        release.set()
    assert order == ["ui", "bg"]
    assert limiter.state.in_flight == 0


async def test_a_cancelled_interactive_waiter_lets_background_go(autojump_clock: object) -> None:
    limiter = RateLimiter(max_in_flight=1)
    release = trio.Event()
    got: list[str] = []

    async def hold() -> None:
        async with limiter.slot():
            await release.wait()

    async def bg() -> None:
        with lane(Lane.BACKGROUND):
            async with limiter.slot():
                got.append("bg")

    async with trio.open_nursery() as nursery:
        nursery.start_soon(hold)
        await trio.testing.wait_all_tasks_blocked()
        with trio.move_on_after(1):  # an interactive caller that gives up
            async with limiter.slot():
                pass
        nursery.start_soon(bg)
        release.set()
    assert got == ["bg"]
    assert limiter.state.waiting_interactive == 0


async def test_a_background_burst_leaves_a_call_for_the_user(autojump_clock: object) -> None:
    """Through the client: background uploads' calls never take the last one of a minute."""
    replies = [ok({"folders": [], "files": []}, requests_available=n) for n in (3, 2, 1, 0)]
    host = FakeHost().on("folder/list", *replies)
    async with host.client(retry_budget=120) as api:
        await api.folder_list()  # learns: 3 left of a limit of 4
        started = trio.current_time()
        done: list[float] = []

        async def background_call() -> None:
            with lane(Lane.BACKGROUND):
                await api.folder_list()
            done.append(trio.current_time() - started)

        async with trio.open_nursery() as nursery:
            for _ in range(3):
                nursery.start_soon(background_call)
            await trio.testing.wait_all_tasks_blocked()
            assert len(done) == 2  # the third would take the reserve
            await api.folder_list()  # the user's call: at once
            assert trio.current_time() - started < 1
    assert len(done) == 3 and done[2] >= 29  # the last background call waited for the minute


async def test_the_first_reply_counts_the_calls_still_on_the_wire(autojump_clock: object) -> None:
    """Four calls out before any budget is known; the first reply says 4 left of 5: the other
    three will be counted too, so one is left (the interactive reserve), not four."""
    limiter = RateLimiter()
    release = trio.Event()

    async def on_the_wire() -> None:
        await limiter.turn(trio.current_time() + FAR)
        async with limiter.slot():
            await release.wait()

    async with trio.open_nursery() as nursery:
        for _ in range(3):
            nursery.start_soon(on_the_wire)
        await trio.testing.wait_all_tasks_blocked()
        limiter.observe(4, AT_30S)  # the reply of a fourth call, sent beside them
        with lane(Lane.BACKGROUND), pytest.raises(RateLimitedError):
            await limiter.turn(trio.current_time() + 1)  # the last one is kept back
        await limiter.turn(trio.current_time() + 1)  # for this interactive call
        release.set()


async def test_background_never_holds_the_last_in_flight_place(autojump_clock: object) -> None:
    limiter = RateLimiter(max_in_flight=2)
    release = trio.Event()
    order: list[str] = []

    async def call(which: Lane, name: str) -> None:
        with lane(which):
            async with limiter.slot():
                order.append(name)
                await release.wait()

    async with trio.open_nursery() as nursery:
        for name in ("bg1", "bg2"):
            nursery.start_soon(call, Lane.BACKGROUND, name)
        await trio.testing.wait_all_tasks_blocked()
        assert order == ["bg1"] or order == ["bg2"]  # one place stays free
        nursery.start_soon(call, Lane.INTERACTIVE, "ui")
        await trio.testing.wait_all_tasks_blocked()
        assert order[-1] == "ui" and limiter.state.in_flight == 2  # at once
        release.set()
    assert len(order) == 3


async def test_one_place_in_flight_is_shared_by_both_lanes(autojump_clock: object) -> None:
    limiter = RateLimiter(max_in_flight=1)
    with lane(Lane.BACKGROUND):
        async with limiter.slot():  # nothing to keep back from a single place
            assert limiter.state.in_flight == 1
