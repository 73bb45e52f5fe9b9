"""df never waits on the network; the refresher catches up in the background."""

from __future__ import annotations

import dataclasses

import trio
import trio.testing

from tests.unit.vfs.fake_api import FakeApi
from vipfs.vfs.attrs import UNLIMITED_BYTES
from vipfs.vfs.quota import Quota


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
