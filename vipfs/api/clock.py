"""The server's clock: XVS hosts stamp replies in their own local time, zone unknown.

Owns: the host's UTC offset (`ServerClock`) and the ends of its calendar minute and day.
Imports: the standard library only.

Every envelope carries `server_time` (`YYYY-MM-DD HH:MM:SS`, Perl `localtime`). Comparing it with
our UTC clock gives the host's UTC offset, rounded to 15 minutes (every real zone is a multiple),
which turns the naive dates of listings into epoch seconds and tells when the server's calendar
minute or day (the windows of its request quotas) ends.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

log = logging.getLogger("vipfs.api")

_QUARTER_HOUR = 15 * 60
# Real zones run from UTC-12 to UTC+14; a server_time further off is a broken or hostile host,
# and learning it would shift every date by centuries (or overflow).
MAX_OFFSET = timedelta(hours=15)
# Dates are clamped to [epoch 0, now + a day]: an upload cannot be from the future, and a
# nanosecond mtime of year 9999 would not even fit the kernel's 64-bit field.
FUTURE_SLACK = 86400.0


class ServerClock:
    """The offset learned from the latest `server_time`; UTC until one has been seen."""

    def __init__(self, wall: Callable[[], float] = time.time) -> None:
        self._wall = wall
        self.offset: timedelta | None = None
        self._warned = False

    def learn(self, server_time: datetime) -> bool:
        """Record the offset a reply's `server_time` implies (rounded to 15 minutes); an
        implausible one is ignored (logged once) and False returned."""
        now_utc = datetime.fromtimestamp(self._wall(), UTC).replace(tzinfo=None)
        seconds = (server_time - now_utc).total_seconds()
        offset = timedelta(seconds=round(seconds / _QUARTER_HOUR) * _QUARTER_HOUR)
        if abs(offset) > MAX_OFFSET:
            if not self._warned:
                self._warned = True
                log.warning(
                    "ignoring the host's server_time %s: no time zone is that far off", server_time
                )
            return False
        self.offset = offset
        return True

    def server_to_epoch(self, when: datetime) -> float:
        """Server-local naive time → Unix epoch seconds, clamped to [0, now + a day]."""
        try:
            epoch = (when - (self.offset or timedelta())).replace(tzinfo=UTC).timestamp()
        except (OverflowError, ValueError, OSError):  # year 1 minus an offset, say
            epoch = 0.0 if when.year < 1970 else float("inf")
        return min(max(epoch, 0.0), self._wall() + FUTURE_SLACK)

    def server_now(self) -> datetime:
        """Our estimate of the server's local time now (naive)."""
        now_utc = datetime.fromtimestamp(self._wall(), UTC).replace(tzinfo=None)
        return now_utc + (self.offset or timedelta())


def seconds_to_next_minute(server_time: datetime) -> float:
    """From a server timestamp (whole seconds) to the start of its next calendar minute."""
    return float(60 - server_time.second)


def seconds_to_midnight(server_time: datetime) -> float:
    """From a server timestamp to the server's next midnight, when daily quotas reset
    (from the time of day alone: no date arithmetic that 9999-12-31 could overflow)."""
    since = server_time.hour * 3600 + server_time.minute * 60 + server_time.second
    return float(86400 - since) - server_time.microsecond / 1e6
