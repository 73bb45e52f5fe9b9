"""`df` from `account/info`, refreshed in the background so statfs never waits on the network.

Owns: `Quota`: the `statfs` figures from `account/info`, when they are asked again, and their
refresh.  Imports: trio, `vipfs.api` errors, lanes, protocol, records, and `vipfs.vfs.attrs`.

The first statfs before any answer shows the 1 PiB default; afterwards the last answer, however
old. Numbers are asked again only when someone looks at them: a statfs that finds them older
than `max_age` (5 minutes) wakes the refresher, which asks once, in the BACKGROUND lane. A
failed refresh is tried again only after `retry_after`, and only if a statfs still wants it. So
on a host allowing 5 calls a minute, `df`, file managers polling free space and uploads
together cost at most one `account/info` per `max_age`, and an idle mount none at all.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable

import trio

from vipfs.api.errors import ApiError
from vipfs.api.lanes import Lane, lane
from vipfs.api.protocol import XvsApi
from vipfs.api.records import AccountInfo
from vipfs.vfs.attrs import DEFAULT_STATFS, Statfs

log = logging.getLogger(__name__)

MAX_AGE = 300.0  # seconds the quota numbers serve before a statfs asks for new ones
RETRY_AFTER = 60.0  # seconds after a failed refresh before the next try


class Quota:
    """`clock` is the clock `max_age` is measured on; the waits run on trio's (tests give both
    as trio's mock clock)."""

    def __init__(
        self,
        api: XvsApi,
        *,
        max_age: float = MAX_AGE,
        retry_after: float = RETRY_AFTER,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._api = api
        self.max_age = max_age
        self._retry_after = retry_after
        self._clock = clock
        self._value = DEFAULT_STATFS
        self._updated = -math.inf
        self._next_try = -math.inf  # no refresh before this (after a failure)
        self._wake = trio.Event()
        self.account: AccountInfo | None = None
        self._failing: str | None = None  # the failure last logged

    def statfs(self) -> Statfs:
        """The latest numbers, at once; wakes the refresher when they are old."""
        if self._old():
            self._wake.set()
        return self._value

    def _old(self) -> bool:
        return self._clock() - self._updated >= self.max_age

    def update(self, info: AccountInfo) -> None:
        """Take an `account/info` answer got elsewhere (the mount's own check)."""
        self.account = info
        self._value = Statfs.from_quota(info.storage_used, info.storage_left, info.files_total)
        self._updated = self._clock()

    def forget(self) -> None:
        """SIGHUP: the numbers count as old, and the next statfs asks for new ones at once."""
        self._updated = self._next_try = -math.inf

    async def refresh(self) -> None:
        """One refresh; never raises (this runs in the mount's nursery, where an exception
        would end the mount). A failure is logged once, until a refresh works again."""
        self._next_try = self._clock() + self._retry_after
        try:
            with trio.fail_after(self.max_age), lane(Lane.BACKGROUND):
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
        """Background task: one refresh each time a statfs finds the numbers old, no sooner
        than `retry_after` after a failed one."""
        while True:
            await self._wake.wait()
            while self._old():
                self._wake = trio.Event()
                wait = self._next_try - self._clock()
                if wait <= 0:
                    await self.refresh()
                    break  # a failure is tried again when a statfs asks again
                with trio.move_on_after(wait):  # a statfs after SIGHUP ends the wait early
                    await self._wake.wait()
            self._wake = trio.Event()
