"""The one gate every API call passes: a concurrency cap plus the host's per-minute quota, in lanes.

Owns: `RateLimiter`, the one gate every call passes (in-flight cap and the host's per-minute quota),
and the order in which waiting calls get their turn (INTERACTIVE before BACKGROUND).
Imports: trio, `vipfs.api` clock, errors and lanes.

XVS hosts count calls per *server calendar minute* (and per server day) and refuse the excess
with `Requests limit reached`; some allow only 5 a minute. Wasting calls on refusals only
deepens the hole, so the limiter learns the budget from `requests_available` in every reply and
from refusals, and holds calls back until the window that refused them has ended. A caller with
a time budget is told at once (RateLimitedError) when the wait would outlast it, so it can serve
stale data instead of hanging.

The budget of a window is learned, not only read: the largest `requests_available` ever seen,
plus the call that reply answered, is the host's per-minute limit, and each new server minute
starts from it. So the calls let out as a minute begins are counted before their replies come
back, and a burst never overruns the quota. The first reply of a window whose budget was not
known counts the calls still on the wire as spent too (the host may count them after it).

Lanes (`vipfs.api.lanes`), the rule written once:
- a BACKGROUND call waits while any INTERACTIVE call waits, for a turn or for an in-flight slot,
  and background calls hold at most all but `SLOT_RESERVE` of the in-flight places, so a user's
  call never waits for a slow background one to end;
- a BACKGROUND call never spends the last `RESERVE` calls of a window whose budget is known, so
  an interactive call that comes mid-minute finds one at once (on a host allowing 1 call a
  minute there is nothing to keep back: background keeps that one);
- among calls of one lane, whoever the trio scheduler wakes first goes (no queue order).
"""

from __future__ import annotations

import math
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime

import trio

from vipfs.api import lanes
from vipfs.api.clock import seconds_to_next_minute
from vipfs.api.errors import RateLimitedError
from vipfs.api.lanes import Lane

# Replies whose server minute ends this much later than the one known are in a new window.
_NEW_WINDOW = 30.0
_MINUTE = 60.0
RESERVE = 1  # calls of a known window that background leaves to interactive callers
SLOT_RESERVE = 1  # in-flight places background leaves free for interactive callers
_YIELD_RETRY = 1.0  # retry_after told to a background call whose budget ran out behind others


@dataclass(frozen=True, slots=True)
class RateState:
    """What `vipfs status` shows: the last reported budget and when calls may resume."""

    requests_available: int | None
    blocked_until: float | None  # Unix epoch; None when calls may go out now
    scope: str | None  # "min" or "day" while blocked by a refusal
    in_flight: int
    waiting_interactive: int = 0
    waiting_background: int = 0


class RateLimiter:
    """Shared by all calls of one client; `now`/`wall` are injectable for tests (waits run on
    trio's clock, so trio's MockClock drives them)."""

    def __init__(
        self,
        max_in_flight: int = 4,
        *,
        now: Callable[[], float] = trio.current_time,
        wall: Callable[[], float] = time.time,
    ) -> None:
        self._max_in_flight = max_in_flight
        self._in_flight = 0
        self._now = now
        self._wall = wall
        self.requests_available: int | None = None
        self._limit: int | None = None  # calls the host allows a minute, as learned
        self._remaining: int | None = None  # calls we may still send in the current window
        self._window_end = -math.inf  # when the server minute of `_remaining` ends (our time)
        self._blocked_until = -math.inf  # no call before this, after a refusal
        self._scope: str | None = None
        self._want_turn: Counter[Lane] = Counter()
        self._want_slot: Counter[Lane] = Counter()
        self._changed = trio.Event()  # set (and replaced) whenever a waiter might now go

    # -- gate ---------------------------------------------------------------------------------
    def wait_needed(self) -> float:
        """Seconds before the next call may go out (0 when it may go now)."""
        now = self._now()
        if self._blocked_until > now:
            return self._blocked_until - now
        self._roll(now)
        if self._remaining is not None and self._remaining <= 0:
            return self._window_end - now
        return 0.0

    def _roll(self, now: float) -> None:
        """Past the end of the known window: the next server minute starts from the limit."""
        if now < self._window_end:
            return
        if math.isfinite(self._window_end):
            self._window_end += _MINUTE * (math.floor((now - self._window_end) / _MINUTE) + 1)
        self._remaining = self._limit

    def _reserve(self) -> int:
        return min(RESERVE, self._limit - 1) if self._limit is not None else 0

    def _wait_for(self, which: Lane) -> float:
        """Seconds before a call of lane `which` may go; inf: when others have gone."""
        wait = self.wait_needed()
        if wait > 0 or which is Lane.INTERACTIVE:
            return wait
        if self._want_turn[Lane.INTERACTIVE]:
            return math.inf
        if self._remaining is not None and self._remaining <= self._reserve():
            return self._window_end - self._now()
        return 0.0

    async def turn(self, deadline: float, op: str | None = None) -> None:
        """Wait until one call may go; RateLimitedError at once if that is after `deadline`."""
        mine = lanes.current()
        self._want_turn[mine] += 1
        try:
            while True:
                wait = self._wait_for(mine)
                if wait <= 0:
                    if self._remaining is not None:
                        self._remaining -= 1
                    return
                left = deadline - self._now()
                if wait > left:
                    if math.isinf(wait) and left > 0:
                        await self._park(left)  # behind interactive calls: wait our budget out
                        continue
                    raise self._refusal(wait, op)
                await self._park(wait)
        finally:
            self._want_turn[mine] -= 1
            self._notify()

    def _refusal(self, wait: float, op: str | None) -> RateLimitedError:
        if math.isinf(wait):
            wait = max(self.wait_needed(), _YIELD_RETRY)
            msg = f"waiting behind interactive calls; retry in {wait:.0f} s"
        else:
            msg = f"request quota spent; calls resume in {wait:.0f} s"
        return RateLimitedError(msg, retry_after=wait, scope=self._scope or "min", op=op)

    @asynccontextmanager
    async def slot(self) -> AsyncIterator[None]:
        """Hold one of the `max_in_flight` places while a request is on the wire."""
        mine = lanes.current()
        self._want_slot[mine] += 1
        try:
            while not self._slot_free(mine):
                await self._park(math.inf)  # a slot frees when a call ends (each has timeouts)
            self._in_flight += 1
        finally:
            self._want_slot[mine] -= 1
            self._notify()
        try:
            yield
        finally:
            self._in_flight -= 1
            self._notify()

    def _slot_free(self, which: Lane) -> bool:
        if which is Lane.INTERACTIVE:
            return self._in_flight < self._max_in_flight
        kept = SLOT_RESERVE if self._max_in_flight > SLOT_RESERVE else 0
        if self._in_flight >= self._max_in_flight - kept:
            return False
        return not self._want_slot[Lane.INTERACTIVE]

    async def _park(self, longest: float) -> None:
        """Sleep `longest` seconds or until the limiter's state changes, whichever comes first."""
        changed = self._changed
        with trio.move_on_after(longest):
            await changed.wait()

    def _notify(self) -> None:
        self._changed.set()
        self._changed = trio.Event()

    # -- learning -----------------------------------------------------------------------------
    def observe(self, requests_available: int | None, server_time: datetime | None) -> None:
        """Take in a reply's `requests_available` (left in the server minute of `server_time`)."""
        if requests_available is None:
            return
        self.requests_available = requests_available
        self._limit = max(self._limit or 0, requests_available + 1)
        now = self._now()
        ends = now + (seconds_to_next_minute(server_time) if server_time else _MINUTE)
        same = now < self._window_end and ends <= self._window_end + _NEW_WINDOW
        if same and self._remaining is not None:
            self._remaining = min(self._remaining, requests_available)
        else:  # a new window: the calls still on the wire may all be counted in it too
            self._remaining = max(0, requests_available - self._in_flight)
        self._window_end = ends if not same else max(self._window_end, ends)
        self._notify()

    def block(self, retry_after: float, scope: str) -> None:
        """A refusal: no call goes out for `retry_after` seconds (server minute or day)."""
        until = self._now() + retry_after
        if until > self._blocked_until:
            self._blocked_until = until
            self._scope = scope
        self._remaining = 0
        self._window_end = max(self._window_end, until)
        self._notify()

    @property
    def state(self) -> RateState:
        wait = self.wait_needed()
        return RateState(
            requests_available=self.requests_available,
            blocked_until=self._wall() + wait if wait > 0 else None,
            scope=self._scope if self._blocked_until > self._now() else None,
            in_flight=self._in_flight,
            waiting_interactive=self._want_turn[Lane.INTERACTIVE]
            + self._want_slot[Lane.INTERACTIVE],
            waiting_background=self._want_turn[Lane.BACKGROUND] + self._want_slot[Lane.BACKGROUND],
        )
