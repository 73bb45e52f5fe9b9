"""The server's clock: XVS hosts stamp replies in their own local time, zone unknown.

Every envelope carries `server_time` (`YYYY-MM-DD HH:MM:SS`, Perl `localtime`). Comparing it with
our UTC clock gives the host's UTC offset, rounded to 15 minutes (every real zone is a multiple),
which turns the naive dates of listings into epoch seconds and tells when the server's calendar
minute or day (the windows of its request quotas) ends.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

_QUARTER_HOUR = 15 * 60


class ServerClock:
    """The offset learned from the latest `server_time`; UTC until one has been seen."""

    def __init__(self, wall: Callable[[], float] = time.time) -> None:
        self._wall = wall
        self.offset: timedelta | None = None

    def learn(self, server_time: datetime) -> None:
        """Record the offset a reply's `server_time` implies (rounded to 15 minutes)."""
        now_utc = datetime.fromtimestamp(self._wall(), UTC).replace(tzinfo=None)
        seconds = (server_time - now_utc).total_seconds()
        self.offset = timedelta(seconds=round(seconds / _QUARTER_HOUR) * _QUARTER_HOUR)

    def server_to_epoch(self, when: datetime) -> float:
        """Server-local naive time → Unix epoch seconds."""
        return (when - (self.offset or timedelta())).replace(tzinfo=UTC).timestamp()

    def server_now(self) -> datetime:
        """Our estimate of the server's local time now (naive)."""
        now_utc = datetime.fromtimestamp(self._wall(), UTC).replace(tzinfo=None)
        return now_utc + (self.offset or timedelta())


def seconds_to_next_minute(server_time: datetime) -> float:
    """From a server timestamp (whole seconds) to the start of its next calendar minute."""
    return float(60 - server_time.second)


def seconds_to_midnight(server_time: datetime) -> float:
    """From a server timestamp to the server's next midnight, when daily quotas reset."""
    midnight = (server_time + timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
    return (midnight - server_time).total_seconds()
