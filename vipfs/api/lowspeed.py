"""A minimum transfer rate, as curl's `--low-speed-limit`/`--low-speed-time`, for one transfer.

Owns: the minimum transfer rate (`SpeedFloor`) and one transfer's next deadline (`Pace`).
Imports: `vipfs.api.errors` only.

A node that reads uploads at 1 byte/s, or a direct link that sends 1 byte/s, never trips a
socket timeout: bytes keep trickling. Left alone, such transfers held every upload and download
slot of the mount for hours. So each attempt must move at least `limit` bytes in every window of
`window` seconds (waiting for the reply counts, as in curl), which also bounds the attempt as a
whole to `window + size / limit` seconds. A transfer that falls short is aborted with
`TooSlowError` and tried again later by its caller.

`Pace` only computes the deadline by which the transfer must next move; callers put it on a trio
cancel scope, so no watchdog task is needed.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass

from vipfs.api.errors import TooSlowError

DEFAULT_LIMIT = 1024  # bytes/s, as curl users know it
DEFAULT_WINDOW = 60.0  # seconds


@dataclass(frozen=True, slots=True)
class SpeedFloor:
    """At least `limit` bytes/s over every `window` seconds; a `limit` of 0 turns it off."""

    limit: int = DEFAULT_LIMIT
    window: float = DEFAULT_WINDOW

    def __post_init__(self) -> None:
        if self.limit < 0 or not self.window > 0:
            raise ValueError("the low-speed limit must be ≥ 0 and its time > 0")

    @property
    def off(self) -> bool:
        return self.limit == 0

    def describe(self) -> str:
        return f"less than {self.limit} bytes/s for {self.window:g} s"


class Pace:
    """Progress of one transfer against a floor: `deadline` is when it is too slow unless it
    moves more by then (and never later than the overall bound for `size` bytes)."""

    def __init__(self, floor: SpeedFloor, now: float, size: int | None = None) -> None:
        self.floor = floor
        self.started = now
        self.total = 0
        self._need = floor.limit * floor.window
        # (time, bytes moved so far), keeping only samples that can still decide the deadline
        self._samples: deque[tuple[float, int]] = deque([(now, 0)])
        self._overall = math.inf
        if size is not None and not floor.off:
            self._overall = now + floor.window + size / floor.limit

    def moved_to(self, total: int, now: float) -> None:
        """The transfer has now moved `total` bytes in all."""
        if total <= self.total:
            return
        self.total = total
        self._samples.append((now, total))
        # A sample at or below total - need can no longer be the window's start: drop it.
        while len(self._samples) > 1 and self._samples[0][1] <= total - self._need:
            self._samples.popleft()

    def moved(self, count: int, now: float) -> None:
        self.moved_to(self.total + count, now)

    def deadline(self) -> float:
        """The trio time after which, with no more bytes, the last window holds fewer than
        `limit * window` bytes (never before one whole window has passed)."""
        if self.floor.off:
            return math.inf
        first = self._samples[0][0]
        return min(self._overall, max(self.started, first) + self.floor.window)

    def error(self, op: str) -> TooSlowError:
        return TooSlowError(
            f"too slow: {self.floor.describe()} (aborted after {self.total} bytes)", op=op
        )
