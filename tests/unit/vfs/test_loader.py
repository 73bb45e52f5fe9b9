"""The keyed loader: shared calls, stale-on-error, invalidation racing a call, bounded waits."""

from __future__ import annotations

import errno

import pytest
import trio
import trio.testing

from vipfs.api import lanes
from vipfs.api.errors import NotFoundError, RateLimitedError, TransientError
from vipfs.api.lanes import Lane
from vipfs.vfs.errors import VfsError
from vipfs.vfs.loader import Loader


class Source:
    def __init__(self) -> None:
        self.calls = 0
        self.value = "v1"
        self.error: Exception | None = None
        self.gate: trio.Event | None = None

    async def __call__(self, key: int) -> str:
        self.calls += 1
        if self.gate is not None:
            await self.gate.wait()
        if self.error is not None:
            raise self.error
        return f"{self.value}@{key}"


class Clock:
    now = 0.0

    def __call__(self) -> float:
        return self.now


async def test_fresh_answers_make_no_call() -> None:
    source, clock = Source(), Clock()
    loader = Loader(source, ttl=10, clock=clock)
    assert await loader.get(1) == "v1@1"
    clock.now = 9.9
    assert await loader.get(1) == "v1@1"
    assert source.calls == 1
    clock.now = 10.0
    source.value = "v2"
    assert await loader.get(1) == "v2@1"
    assert source.calls == 2


async def test_rate_limit_serves_stale_and_missing_folder_does_not() -> None:
    source, clock = Source(), Clock()
    loader = Loader(source, ttl=10, clock=clock)
    await loader.get(1)
    clock.now = 100
    source.error = RateLimitedError(
        "Requests limit reached: 5 per min", retry_after=30, scope="min"
    )
    assert await loader.get(1) == "v1@1"
    with pytest.raises(VfsError) as err:
        await loader.get(2)
    assert err.value.errno == errno.EIO and "limit" in err.value.why
    source.error = NotFoundError("Folder not exist or not yours")
    with pytest.raises(VfsError) as err:
        await loader.get(1)  # gone is gone: a stale copy would resurrect it
    assert err.value.errno == errno.ENOENT


async def test_invalidation_during_a_call_discards_its_answer() -> None:
    source = Source()
    loader = Loader(source, ttl=10, clock=Clock())
    source.gate = trio.Event()
    async with trio.open_nursery() as nursery:
        nursery.start_soon(loader.get, 1)
        await trio.testing.wait_all_tasks_blocked()
        loader.invalidate(1)  # our own change landed while the old listing was in flight
        source.value = "v2"
        source.gate.set()
    source.gate = None
    assert await loader.get(1) == "v2@1"
    assert source.calls == 2


async def test_followers_share_the_failure_then_the_next_ask_retries() -> None:
    source = Source()
    loader = Loader(source, ttl=10, clock=Clock())
    source.error = TransientError("connection reset")
    source.gate = trio.Event()
    errors: list[int] = []

    async def ask() -> None:
        try:
            await loader.get(1)
        except VfsError as exc:
            errors.append(exc.errno)

    async with trio.open_nursery() as nursery:
        for _ in range(5):
            nursery.start_soon(ask)
        await trio.testing.wait_all_tasks_blocked()
        source.gate.set()
    assert errors == [errno.EIO] * 5 and source.calls == 1
    source.error, source.gate = None, None
    assert await loader.get(1) == "v1@1"


async def test_budget_bounds_a_hung_call(autojump_clock: trio.testing.MockClock) -> None:
    source = Source()
    source.gate = trio.Event()  # never set
    loader = Loader(source, ttl=10, budget=30)
    start = trio.current_time()
    with pytest.raises(VfsError) as err:
        await loader.get(1)
    assert err.value.errno == errno.EIO
    assert trio.current_time() - start == pytest.approx(30)


class LaneSource(Source):
    """A source that notes the lane each call travels in."""

    def __init__(self) -> None:
        super().__init__()
        self.lanes: list[Lane] = []

    async def __call__(self, key: int) -> str:
        self.lanes.append(lanes.current())
        return await super().__call__(key)


async def test_an_expired_answer_is_served_while_a_slow_refresh_runs_in_background(
    autojump_clock: trio.testing.MockClock,
) -> None:
    source = LaneSource()
    loader = Loader(source, ttl=10, budget=30, clock=trio.current_time)
    assert await loader.get(1) == "v1@1"
    await trio.sleep(11)  # expired
    source.value, source.gate = "v2", trio.Event()  # the host is slow (or the quota spent)
    async with trio.open_nursery() as nursery:
        loader.nursery = nursery
        asked = trio.current_time()
        assert await loader.get(1) == "v1@1"  # the last answer, after the grace
        assert trio.current_time() - asked == pytest.approx(loader.grace)
        assert await loader.get(1) == "v1@1"  # the refresh in flight is shared, not repeated
        assert source.calls == 2
        source.gate.set()
    assert await loader.get(1) == "v2@1"  # the refresh's answer, fresh: no call
    assert source.calls == 2
    assert source.lanes == [Lane.INTERACTIVE, Lane.BACKGROUND]


async def test_a_quick_refresh_gives_the_new_answer_and_a_vanished_folder_its_error(
    autojump_clock: trio.testing.MockClock,
) -> None:
    source = Source()
    loader = Loader(source, ttl=10, clock=trio.current_time)
    await loader.get(1)
    async with trio.open_nursery() as nursery:
        loader.nursery = nursery
        await trio.sleep(11)
        source.value = "v2"
        assert await loader.get(1) == "v2@1"  # within the grace: the new answer at once
        await trio.sleep(11)
        source.error = NotFoundError("no such folder", op="folder/list")
        with pytest.raises(VfsError) as caught:
            await loader.get(1)
    assert caught.value.errno == errno.ENOENT  # never a stale listing of a folder that is gone


async def test_a_refresh_that_meets_a_bug_leaves_the_mount_and_the_cache_alone(
    autojump_clock: trio.testing.MockClock,
) -> None:
    source = Source()
    loader = Loader(source, ttl=10, clock=trio.current_time)
    await loader.get(1)
    await trio.sleep(11)
    source.error = OverflowError("a date out of range")  # not an ApiError: a bug, say
    async with trio.open_nursery() as nursery:  # would end with the error if it escaped
        loader.nursery = nursery
        first = await loader.get(1)
        await trio.testing.wait_all_tasks_blocked()
    assert first == "v1@1" and source.calls == 2
    assert loader.peek(1) == "v1@1"  # the last answer is kept
    loader.nursery, source.error, source.value = None, None, "v2"
    assert await loader.get(1) == "v2@1"  # asked again, it heals


async def test_expire_all_asks_again_but_keeps_the_last_answer_to_fall_back_on() -> None:
    """SIGHUP on a host that cannot answer (quota spent) must not turn a listed folder to EIO."""
    source = Source()
    loader = Loader(source, ttl=10, clock=Clock())
    await loader.get(1)
    loader.expire_all()
    source.value = "v2"
    assert await loader.get(1) == "v2@1"  # asked again at once
    loader.expire_all()
    source.error = RateLimitedError("quota", retry_after=40, scope="min")
    assert await loader.get(1) == "v2@1"  # the last answer, not EIO
    assert source.calls == 3


async def test_an_answer_in_flight_at_expire_all_is_not_taken_as_new() -> None:
    source = Source()
    source.gate = trio.Event()
    loader = Loader(source, ttl=10, clock=Clock())
    async with trio.open_nursery() as nursery:
        nursery.start_soon(loader.get, 1)
        await trio.testing.wait_all_tasks_blocked()
        loader.expire_all()  # the answer on its way was asked for before the signal
        source.gate.set()
    source.gate, source.value = None, "v2"
    assert await loader.get(1) == "v2@1"
    assert source.calls == 2
