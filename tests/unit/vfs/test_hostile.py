"""Issue 8, items 8-9 above the client: odd host numbers and failures never end the mount,
and no host string becomes a local path."""

from __future__ import annotations

import argparse
import logging
from datetime import UTC, datetime

import pytest
import trio
import trio.testing

from tests.unit.vfs.fake_api import FakeApi
from vipfs.api.clock import ServerClock, seconds_to_midnight
from vipfs.mount import option_safe
from vipfs.mount_options import byte_size as _byte_size
from vipfs.vfs.attrs import Statfs
from vipfs.vfs.errors import VfsError
from vipfs.vfs.guard import never_fatal
from vipfs.vfs.quota import RETRY_AFTER, Quota
from vipfs.vfs.readcache import cache_name


async def test_quota_refresh_survives_any_exception_and_logs_it_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    api = FakeApi()
    api.fail("account_info", RecursionError("deep"), times=3)
    quota = Quota(api, max_age=60)
    caplog.set_level(logging.INFO)
    for _ in range(3):
        await quota.refresh()  # would raise into the mount's nursery before the fix
    failures = [r for r in caplog.records if "could not refresh the quota" in r.getMessage()]
    assert len(failures) == 1
    await quota.refresh()
    assert quota.statfs().bfree == 100
    assert any("works again" in r.getMessage() for r in caplog.records)


async def test_quota_loop_keeps_running_after_a_failure(autojump_clock: object) -> None:
    api = FakeApi()
    api.fail("account_info", OverflowError("date"))
    quota = Quota(api, max_age=60, clock=trio.current_time)
    async with trio.open_nursery() as nursery:
        nursery.start_soon(quota.run)
        quota.statfs()  # no answer yet: wakes the refresher
        await trio.testing.wait_all_tasks_blocked()
        assert api.count("account_info") == 1
        quota.statfs()  # still old: wakes the refresher, which is alive (and waits a bit)
        await trio.sleep(RETRY_AFTER + 1)
        assert api.count("account_info") == 2
        assert quota.statfs().bfree == 100
        nursery.cancel_scope.cancel()


@pytest.mark.parametrize(
    ("used", "left", "files"),
    [(-5, -5, -5), (10**40, 10**40, 10**40), (None, 10**30, None)],
)
def test_df_numbers_are_clamped_to_what_statvfs_holds(
    used: int | None, left: int | None, files: int | None
) -> None:
    st = Statfs.from_quota(used, left, files)
    for value in (st.blocks, st.bfree, st.files, st.ffree):
        assert 0 <= value < 1 << 63
    assert st.bfree <= st.blocks


async def test_never_fatal_logs_and_returns(caplog: pytest.LogCaptureFixture) -> None:
    async def boom() -> None:
        raise RecursionError("deep reply")

    await never_fatal("the probe", boom)
    assert "the probe failed" in caplog.text


@pytest.mark.parametrize("code", ["../../../../tmp/vipfs-pwned", "a/b", "..", "x" * 500, "ab\x00"])
def test_cache_names_come_from_valid_codes_only(code: str) -> None:
    with pytest.raises(VfsError):
        cache_name(code, 1)


def test_cache_name_of_a_valid_code() -> None:
    assert cache_name("abcdefabcdef", 7) == "abcdefabcdef-7.cache"


def test_server_time_far_off_is_not_learnt() -> None:
    now = datetime(2026, 12, 1, 12, 0, 0, tzinfo=UTC)  # aware: the test's own zone plays no part
    clock = ServerClock(wall=lambda: now.timestamp())
    assert clock.learn(datetime(2026, 12, 1, 14, 0, 0))  # a host two hours east of UTC
    offset = clock.offset
    assert not clock.learn(datetime(9999, 12, 31, 23, 59, 59))
    assert not clock.learn(datetime(1, 1, 1))
    assert clock.offset == offset


def test_dates_are_clamped_to_epoch_and_tomorrow() -> None:
    wall = 1_800_000_000.0
    clock = ServerClock(wall=lambda: wall)
    clock.offset = None
    assert clock.server_to_epoch(datetime(9999, 12, 31, 23, 59, 59)) == wall + 86400
    assert clock.server_to_epoch(datetime(1, 1, 1)) == 0.0
    assert (
        clock.server_to_epoch(datetime(2021, 1, 1)) == datetime(2021, 1, 1, tzinfo=UTC).timestamp()
    )


def test_seconds_to_midnight_on_the_last_day_of_the_calendar() -> None:
    assert seconds_to_midnight(datetime(9999, 12, 31, 23, 59, 59)) == 1.0
    assert seconds_to_midnight(datetime(2026, 12, 1, 0, 0, 0)) == 86400.0


@pytest.mark.parametrize(
    ("text", "expected"), [("65536", 65536), ("64K", 65536), ("64M", 64 << 20), ("1G", 1 << 30),
                           ("64MiB", 64 << 20), ("64mb", 64 << 20)]
)  # fmt: skip
def test_max_reply_size_option(text: str, expected: int) -> None:
    assert _byte_size(text) == expected


@pytest.mark.parametrize("text", ["", "M", "12", "-1M", "1.5M", "64T", "lots"])
def test_max_reply_size_option_refuses_nonsense(text: str) -> None:
    with pytest.raises(argparse.ArgumentTypeError):
        _byte_size(text)


@pytest.mark.parametrize(
    ("login", "expected"),
    [("bob", "bob"), ("x,allow_other", "x_allow_other"), ("a=b\\c d", "a_b_c_d"),
     ("jürgen", "j_rgen"), ("", "_"), ("me@host.tld", "me@host.tld")],
)  # fmt: skip
def test_a_host_login_cannot_add_fuse_options(login: str, expected: str) -> None:
    assert option_safe(login) == expected
    assert "," not in option_safe(login) and option_safe(login).isascii()
