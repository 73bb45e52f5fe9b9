"""Jittered exponential backoff between retries of a transient failure.

Owns: the delays between retries of one transient failure (`Backoff`).
Imports: `vipfs.api.errors` (a rate limit's wait) and the standard library.

Jitter keeps the several tasks of one mount (and several mounts of one account) from retrying in
lockstep against a host that is already struggling.
"""

from __future__ import annotations

import random
from collections.abc import Callable

from vipfs.api.errors import RateLimitedError


class Backoff:
    """Delay before retry number `attempt` (0-based): base·2^attempt, capped, times [0.5, 1)."""

    def __init__(
        self,
        base: float = 0.5,
        cap: float = 10.0,
        rand: Callable[[], float] = random.random,
    ) -> None:
        self.base = base
        self.cap = cap
        self._rand = rand

    def delay(self, attempt: int) -> float:
        ceiling = min(self.cap, self.base * 2.0 ** min(attempt, 30))
        return ceiling * (0.5 + self._rand() / 2)

    def after(self, attempt: int, exc: Exception) -> float:
        """The delay before retry `attempt` after `exc`: a rate limit waits at least as long
        as the host said."""
        delay = self.delay(attempt)
        return max(delay, exc.retry_after) if isinstance(exc, RateLimitedError) else delay
