"""df never waits on the network; the refresher catches up in the background."""

from __future__ import annotations

import dataclasses

import trio
import trio.testing

from tests.unit.vfs.fake_api import FakeApi
from vipfs.api import lanes
from vipfs.api.errors import RateLimitedError
from vipfs.api.lanes import Lane
from vipfs.api.records import AccountInfo
from vipfs.vfs.attrs import UNLIMITED_BYTES
from vipfs.vfs.quota import RETRY_AFTER, Quota


async def test_first_statfs_is_the_default_then_the_refresher_fills_in() -> None:
    api = FakeApi()
    quota = Quota(api, max_age=60)
    async with trio.open_nursery() as nursery:
        nursery.start_soon(quota.run)
        first = quota.statfs()  # no answer yet: never wait, show 1 PiB free
        assert first.bfree * first.bsize == UNLIMITED_BYTES
        await trio.testing.wait_all_tasks_blocked()  # the refresher answered (no latency)
        assert quota.statfs().bfree == 100
        assert api.count("account_info") == 1
        nursery.cancel_scope.cancel()


async def test_unlimited_storage_shows_one_pib() -> None:
    api = FakeApi()
    api.account = dataclasses.replace(api.account, storage_left=None)
    quota = Quota(api)
    quota.update(api.account)
    assert quota.statfs().bfree * 4096 == UNLIMITED_BYTES


def clocked(api: FakeApi) -> Quota:
    """A quota on trio's (mock) clock, numbers from the mount's start-up check."""
    quota = Quota(api, clock=trio.current_time)
    quota.update(api.account)
    return quota


async def test_statfs_all_day_asks_at_most_once_per_max_age(autojump_clock: object) -> None:
    """A file manager polling free space every 2 s costs one account/info per 5 minutes."""
    api = FakeApi()
    quota = clocked(api)
    async with trio.open_nursery() as nursery:
        nursery.start_soon(quota.run)
        for _ in range(int(3 * quota.max_age / 2)):  # 15 minutes
            quota.statfs()
            await trio.sleep(2)
        nursery.cancel_scope.cancel()
    assert 2 <= api.count("account_info") <= 3


async def test_nobody_asking_costs_no_call(autojump_clock: object) -> None:
    api = FakeApi()
    quota = clocked(api)
    async with trio.open_nursery() as nursery:
        nursery.start_soon(quota.run)
        await trio.sleep(10 * quota.max_age)
        nursery.cancel_scope.cancel()
    assert api.count("account_info") == 0


async def test_the_refresh_travels_in_the_background_lane(autojump_clock: object) -> None:
    api = FakeApi()
    seen: list[Lane] = []
    answer = api.account_info

    async def account_info() -> AccountInfo:
        seen.append(lanes.current())
        return await answer()

    api.account_info = account_info  # type: ignore[method-assign]
    quota = clocked(api)
    quota.forget()  # SIGHUP: the next statfs asks at once
    async with trio.open_nursery() as nursery:
        nursery.start_soon(quota.run)
        quota.statfs()
        await trio.testing.wait_all_tasks_blocked()
        nursery.cancel_scope.cancel()
    assert seen == [Lane.BACKGROUND]
    assert lanes.current() is Lane.INTERACTIVE  # the mark stayed inside the refresh


async def test_a_failed_refresh_waits_before_the_next_try(autojump_clock: object) -> None:
    """Under a spent quota a refresh fails; statfs calls meanwhile must not each try again."""
    api = FakeApi()
    api.fail("account_info", RateLimitedError("quota", retry_after=30, scope="min"))
    quota = clocked(api)
    quota.forget()
    async with trio.open_nursery() as nursery:
        nursery.start_soon(quota.run)
        started = trio.current_time()
        for _ in range(30):
            quota.statfs()
            await trio.sleep(1)
        assert api.count("account_info") == 1  # the failure, and nothing for 30 s after
        while api.count("account_info") < 2:
            quota.statfs()
            await trio.sleep(1)
        assert trio.current_time() - started >= RETRY_AFTER
        assert quota.statfs().bfree == 100
        nursery.cancel_scope.cancel()


async def test_sighup_cuts_the_wait_after_a_failure_short(autojump_clock: object) -> None:
    api = FakeApi()
    api.fail("account_info", RateLimitedError("quota", retry_after=30, scope="min"))
    quota = clocked(api)
    quota.forget()
    async with trio.open_nursery() as nursery:
        nursery.start_soon(quota.run)
        quota.statfs()
        await trio.sleep(1)
        quota.statfs()  # the refresher now waits out the failure's pause
        await trio.sleep(1)
        assert api.count("account_info") == 1
        quota.forget()
        quota.statfs()
        await trio.testing.wait_all_tasks_blocked()
        assert api.count("account_info") == 2
        assert trio.current_time() < RETRY_AFTER
        nursery.cancel_scope.cancel()
