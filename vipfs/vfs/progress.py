"""How far a running upload is, and how fast it goes: the numbers and the one text of them.

Owns: `RateMeter` (the bytes a running attempt has sent, and its rate over a sliding window),
`Progress` (sent, total, rate and the ETA they imply) and their human text (`transfer_text`,
`human_eta`), which `user.vipfs.status`, `vipfs status` and `vipfs umount` all show.
Imports: the standard library only (so the commands that read status.json may use the text).

The rate is what the last few seconds sent, not the average since the start: a node that slows
down shows it at once, and a stall reads as no rate (and no ETA) rather than a stale one. A
rate needs two samples a useful time apart; until then it is unknown (None), never a guess.
"""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

WINDOW = 5.0  # seconds of samples the rate is measured over
MIN_SPAN = 0.5  # seconds two samples must be apart before a rate means anything
MB = 1_000_000  # the status line's unit (10^6 bytes, as the hosts and `df -H` count)


class RateMeter:
    """The bytes a running attempt has sent, sampled with a monotonic clock."""

    def __init__(self, clock: Callable[[], float] = time.monotonic, window: float = WINDOW) -> None:
        self._clock = clock
        self._window = window
        self._samples: deque[tuple[float, int]] = deque()

    @property
    def sent(self) -> int:
        return self._samples[-1][1] if self._samples else 0

    def record(self, sent: int) -> None:
        """The attempt has handed `sent` bytes in all to the network. Fewer than before means
        the transfer started over (a retried POST): the old samples say nothing about it."""
        now = self._clock()
        if self._samples and sent < self._samples[-1][1]:
            self._samples.clear()
        self._samples.append((now, sent))
        self._prune(now)

    def rate(self) -> float | None:
        """Bytes per second over the window ending now; None until it can be known."""
        now = self._clock()
        self._prune(now)
        if len(self._samples) < 2:
            return None
        (first_t, first_sent), (last_t, last_sent) = self._samples[0], self._samples[-1]
        if last_t - first_t < MIN_SPAN:
            return None
        return (last_sent - first_sent) / (max(now, last_t) - first_t)

    def progress(self, total: int) -> Progress:
        return Progress(self.sent, total, self.rate())

    def _prune(self, now: float) -> None:
        """Keep the samples inside the window, and the last one before it as its start."""
        while len(self._samples) > 1 and self._samples[1][0] <= now - self._window:
            self._samples.popleft()  # a stall longer than the window leaves one: no rate


@dataclass(frozen=True, slots=True)
class Progress:
    """One running upload: bytes sent of `total`, at `rate` bytes/s (None: not known yet)."""

    sent: int
    total: int
    rate: float | None = None

    @property
    def eta(self) -> float | None:
        """Seconds left at the current rate; None without a (non-zero) rate."""
        if not self.rate or self.rate <= 0:
            return None
        return max(0, self.total - self.sent) / self.rate

    @property
    def percent(self) -> int:
        """Whole percent, rounded down: 100 only once every byte is sent."""
        if self.total <= 0:
            return 0
        return min(100, self.sent * 100 // self.total)


def transfer_text(sent: int, total: int, rate: float | None, eta: float | None) -> str:
    """`37% 12.3/33.0 MB 2.1 MB/s ETA 10s`; the rate and ETA parts only once known."""
    text = f"{Progress(sent, total).percent}% {sent / MB:.1f}/{total / MB:.1f} MB"
    if rate is not None:
        text += f" {rate / MB:.1f} MB/s"
    if eta is not None:
        text += f" ETA {human_eta(eta)}"
    return text


def human_eta(seconds: float) -> str:
    """`10s`, `4m05s`, `1h02m` (rounded up: an ETA that says 0s is done)."""
    left = max(0, math.ceil(seconds))
    if left < 60:
        return f"{left}s"
    if left < 3600:
        return f"{left // 60}m{left % 60:02d}s"
    return f"{left // 3600}h{left % 3600 // 60:02d}m"
