"""The shared limiter: budgets learned from replies, refusals honoured, all on a mock clock."""

from __future__ import annotations

from datetime import datetime

import httpx
import pytest
import trio

from vipfs.api.errors import RateLimitedError
from vipfs.api.ratelimit import RateLimiter

from .fakehost import SERVER_TIME, FakeHost, err, ok

AT_30S = datetime(2026, 11, 27, 12, 0, 30)


def listing(left: int | None) -> httpx.Response:
    extra = {} if left is None else {"requests_available": left}
    return ok({"folders": [], "files": []}, **extra)


async def test_learned_budget_holds_calls_until_the_next_server_minute(
    autojump_clock: object,
) -> None:
    host = FakeHost().on("folder/list", listing(2), listing(1), listing(0), listing(4))
    async with host.client(retry_budget=120) as api:
        started = trio.current_time()
        for _ in range(3):
            await api.folder_list()
        assert api.requests_available == 0
        assert trio.current_time() - started < 1  # the budget allowed these three
        assert api.rate_state.blocked_until is not None
        await api.folder_list()  # this one had to wait for the server's next minute
        assert trio.current_time() - started >= 29
        assert api.requests_available == 4
        assert api.rate_state.blocked_until is None
    assert len(host.calls("folder/list")) == 4


async def test_spent_budget_and_short_deadline_fail_without_a_request(
    autojump_clock: object,
) -> None:
    host = FakeHost().on("folder/list", listing(0))
    async with host.client(retry_budget=5) as api:
        await api.folder_list()
        with pytest.raises(RateLimitedError) as caught:
            await api.folder_list()
    assert caught.value.retry_after == pytest.approx(30, abs=1)
    assert len(host.calls("folder/list")) == 1


async def test_a_refusal_blocks_every_concurrent_caller(autojump_clock: object) -> None:
    host = FakeHost().on(
        "file/list", err(403, "Requests limit reached: 5 per min"), ok({"files": []})
    )
    async with host.client(retry_budget=90) as api, trio.open_nursery() as nursery:
        for _ in range(4):
            nursery.start_soon(api.file_list)
    # One refusal, then every caller waited for the new minute instead of hammering.
    assert len(host.calls("file/list")) <= 5


async def test_limiter_counts_down_within_one_window(autojump_clock: object) -> None:
    limiter = RateLimiter(2)
    limiter.observe(3, AT_30S)
    deadline = trio.current_time() + 10
    for _ in range(3):
        await limiter.turn(deadline)
    with pytest.raises(RateLimitedError) as caught:
        await limiter.turn(deadline)
    assert caught.value.scope == "min"
    # A later reply from the same minute can only lower the count, never raise it.
    limiter.observe(5, datetime(2026, 11, 27, 12, 0, 31))
    assert limiter.wait_needed() > 25
    await limiter.turn(trio.current_time() + 60)  # waits out the minute, then goes
    assert limiter.wait_needed() == 0


async def test_block_and_state(autojump_clock: object) -> None:
    walls = iter([1000.0, 1000.0])
    limiter = RateLimiter(1, wall=lambda: next(walls))
    limiter.block(3600, "day")
    state = limiter.state
    assert state.scope == "day" and state.blocked_until == pytest.approx(4600)
    assert state.in_flight == 0
    async with limiter.slot():
        assert limiter.state.in_flight == 1


async def test_no_reported_budget_means_no_waiting(autojump_clock: object) -> None:
    host = FakeHost().on("folder/list", listing(None))
    async with host.client() as api:
        started = trio.current_time()
        for _ in range(10):
            await api.folder_list()
        assert trio.current_time() - started < 1
        assert api.requests_available is None


def test_server_time_constant_is_mid_minute() -> None:
    assert SERVER_TIME.endswith(":30")  # the waits asserted above depend on it
