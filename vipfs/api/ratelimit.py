"""The one gate every API call passes: a concurrency cap plus the host's per-minute quota.

Owns: `RateLimiter`, the one gate every call passes (in-flight cap and the host's per-minute quota).
Imports: trio, `vipfs.api` clock and errors.

XVS hosts count calls per *server calendar minute* (and per server day) and refuse the excess
with `Requests limit reached`; some allow only 5 a minute. Wasting calls on refusals only
deepens the hole, so the limiter learns the budget from `requests_available` in every reply and
from refusals, and holds calls back until the window that refused them has ended. A caller with
a time budget is told at once (RateLimitedError) when the wait would outlast it, so it can serve
stale data instead of hanging.
"""

from __future__ import annotations

import math
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime

import trio

from vipfs.api.clock import seconds_to_next_minute
from vipfs.api.errors import RateLimitedError

# Replies whose server minute ends this much later than the one known are in a new window.
_NEW_WINDOW = 30.0


@dataclass(frozen=True, slots=True)
class RateState:
    """What `vipfs status` shows: the last reported budget and when calls may resume."""

    requests_available: int | None
    blocked_until: float | None  # Unix epoch; None when calls may go out now
    scope: str | None  # "min" or "day" while blocked by a refusal
    in_flight: int


class RateLimiter:
    """Shared by all calls of one client; `now`/`sleep` are injectable for tests."""

    def __init__(
        self,
        max_in_flight: int = 4,
        *,
        now: Callable[[], float] = trio.current_time,
        sleep: Callable[[float], Awaitable[None]] = trio.sleep,
        wall: Callable[[], float] = time.time,
    ) -> None:
        self._slots = trio.CapacityLimiter(max_in_flight)
        self._now = now
        self._sleep = sleep
        self._wall = wall
        self.requests_available: int | None = None
        self._remaining: int | None = None  # calls we may still send in the current window
        self._window_end = -math.inf  # when the server minute of `_remaining` ends (our time)
        self._blocked_until = -math.inf  # no call before this, after a refusal
        self._scope: str | None = None

    # -- gate ---------------------------------------------------------------------------------
    def wait_needed(self) -> float:
        """Seconds before the next call may go out (0 when it may go now)."""
        now = self._now()
        if self._blocked_until > now:
            return self._blocked_until - now
        if now >= self._window_end:
            self._remaining = None  # a new server minute: the old count says nothing
        if self._remaining is not None and self._remaining <= 0:
            return self._window_end - now
        return 0.0

    async def turn(self, deadline: float, op: str | None = None) -> None:
        """Wait until one call may go; RateLimitedError at once if that is after `deadline`."""
        while True:
            wait = self.wait_needed()
            if wait <= 0:
                if self._remaining is not None:
                    self._remaining -= 1
                return
            if self._now() + wait > deadline:
                raise RateLimitedError(
                    f"request quota spent; calls resume in {wait:.0f} s",
                    retry_after=wait,
                    scope=self._scope or "min",
                    op=op,
                )
            await self._sleep(wait)

    @asynccontextmanager
    async def slot(self) -> AsyncIterator[None]:
        """Hold one of the `max_in_flight` places while a request is on the wire."""
        async with self._slots:
            yield

    # -- learning -----------------------------------------------------------------------------
    def observe(self, requests_available: int | None, server_time: datetime | None) -> None:
        """Take in a reply's `requests_available` (left in the server minute of `server_time`)."""
        if requests_available is None:
            return
        self.requests_available = requests_available
        now = self._now()
        ends = now + (seconds_to_next_minute(server_time) if server_time else 60.0)
        same = now < self._window_end and ends <= self._window_end + _NEW_WINDOW
        if same and self._remaining is not None:
            self._remaining = min(self._remaining, requests_available)
        else:
            self._remaining = requests_available
        self._window_end = ends if not same else max(self._window_end, ends)

    def block(self, retry_after: float, scope: str) -> None:
        """A refusal: no call goes out for `retry_after` seconds (server minute or day)."""
        until = self._now() + retry_after
        if until > self._blocked_until:
            self._blocked_until = until
            self._scope = scope
        self._remaining = 0
        self._window_end = max(self._window_end, until)

    @property
    def state(self) -> RateState:
        wait = self.wait_needed()
        return RateState(
            requests_available=self.requests_available,
            blocked_until=self._wall() + wait if wait > 0 else None,
            scope=self._scope if self._blocked_until > self._now() else None,
            in_flight=int(self._slots.borrowed_tokens),
        )
