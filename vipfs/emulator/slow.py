"""Slow hosts: an upload node that takes request bodies, and direct links that send bytes, at a
trickle (issue 8's 1-byte/s node and links).

Owns: the trickle rates of slow nodes and links (`Trickle`).
Imports: the standard library and `vipfs.emulator` config only; never `vipfs.api` or `vipfs.vfs`.

The rate is read again at every step, so a test that turns a switch off mid-transfer sees the
transfer speed up at once (and a client that gave up sees the lingering thread end soon).
"""

from __future__ import annotations

import time
from collections.abc import Callable

from vipfs.emulator.config import EmulatorConfig

STEP = 0.1  # seconds of traffic per step: a switch flipped meanwhile is felt within this


class Trickle:
    """Holds a byte stream to `rate()` bytes per second; a rate of 0 or less is full speed."""

    def __init__(
        self,
        rate: Callable[[], float],
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._rate = rate
        self._clock = clock
        self._sleep = sleep
        self._due = 0.0  # when the bytes moved so far have been paid for

    def size(self, wanted: int) -> int:
        """How many of `wanted` bytes to move in the next step (at least one)."""
        rate = self._rate()
        if rate <= 0:
            return wanted
        return max(1, min(wanted, int(rate * STEP)))

    def spend(self, count: int) -> None:
        """`count` bytes moved: wait until the rate allows them, or the switch is turned off."""
        rate = self._rate()
        if rate <= 0 or count <= 0:
            return
        self._due = max(self._due, self._clock()) + count / rate
        while (ahead := self._due - self._clock()) > 0:
            if self._rate() <= 0:
                self._due = 0.0
                return
            self._sleep(min(ahead, STEP))


def _listed(names: str) -> list[str]:
    return [n.strip() for n in names.split(",") if n.strip()]


def node_rate(config: EmulatorConfig, filename: str) -> float:
    """The node's reading rate for an upload named `filename` (0: full speed)."""
    wanted = _listed(config.slow_upload_names)
    if wanted and not any(part in filename for part in wanted):
        return 0.0
    return config.node_bytes_per_sec


def link_rate(config: EmulatorConfig, code: str) -> float:
    """The sending rate of a direct link to file `code` (0: full speed)."""
    wanted = _listed(config.slow_link_codes)
    if wanted and code not in wanted:
        return 0.0
    return config.link_bytes_per_sec


def node_trickle(config: EmulatorConfig, filename: str) -> Trickle:
    return Trickle(lambda: node_rate(config, filename))


def link_trickle(config: EmulatorConfig, code: str) -> Trickle:
    return Trickle(lambda: link_rate(config, code))
