"""`df` from `account/info`, refreshed in the background so statfs never waits on the network.

Owns: `Quota`: the `statfs` figures from `account/info` and their background refresh.
Imports: trio, `vipfs.api` errors, protocol, records, and `vipfs.vfs.attrs`.

The first statfs before any answer shows the 1 PiB default; afterwards the last answer, however
old. A statfs that finds the answer older than `max_age` only wakes the refresher.
"""

from __future__ import annotations

import logging
import math
import time

import trio

from vipfs.api.errors import ApiError
from vipfs.api.protocol import XvsApi
from vipfs.api.records import AccountInfo
from vipfs.vfs.attrs import DEFAULT_STATFS, Statfs

log = logging.getLogger(__name__)


class Quota:
    def __init__(self, api: XvsApi, *, max_age: float = 60.0) -> None:
        self._api = api
        self.max_age = max_age
        self._value = DEFAULT_STATFS
        self._updated = -math.inf
        self._wake = trio.Event()
        self.account: AccountInfo | None = None
        self._failing: str | None = None  # the failure last logged

    def statfs(self) -> Statfs:
        """The latest numbers, at once; wakes the refresher when they are old."""
        if time.monotonic() - self._updated >= self.max_age:
            self._wake.set()
        return self._value

    def update(self, info: AccountInfo) -> None:
        """Take an `account/info` answer got elsewhere (the mount's own check)."""
        self.account = info
        self._value = Statfs.from_quota(info.storage_used, info.storage_left, info.files_total)
        self._updated = time.monotonic()

    async def refresh(self) -> None:
        """One refresh; never raises (this runs in the mount's nursery, where an exception
        would end the mount). A failure is logged once, until a refresh works again."""
        try:
            with trio.fail_after(self.max_age):
                self.update(await self._api.account_info())
        except (ApiError, trio.TooSlowError) as exc:
            self._failed(f"could not refresh the quota: {exc}", trace=False)
        except Exception as exc:  # a bug on some reply: keep the old numbers, keep going
            self._failed(f"could not refresh the quota: {type(exc).__name__}", trace=True)
        else:
            if self._failing is not None:
                log.info("the quota refresh works again")
            self._failing = None

    def _failed(self, why: str, *, trace: bool) -> None:
        if why != self._failing:
            log.log(logging.WARNING if trace else logging.INFO, "%s", why, exc_info=trace)
        self._failing = why

    async def run(self) -> None:
        """Background task: refresh when asked and at least every `max_age` seconds."""
        while True:
            with trio.move_on_after(self.max_age):
                await self._wake.wait()
            self._wake = trio.Event()
            if time.monotonic() - self._updated >= self.max_age / 2:
                await self.refresh()
